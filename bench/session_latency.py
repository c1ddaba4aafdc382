"""Live edit-session latency and frame rates through the real stack (Redis, one Celery worker,
daphne, production settings) with the demo model.

Measured in one run, on this machine:

* ``round trip``: from sending a ``set_scale`` on the session socket to the frame of the
  revision its ``ack`` names arriving (header + PNG) at the same socket; one change at a time,
  ``--changes`` of them (default 200); p50 and p95;
* baselines, in this process on the same model and thread count: the bare generator forward
  (``synthesis`` of one latent) and the engine's apply + render + PNG encode of the session's
  state (latent + scale * vector through ``render_latent``), p50 of ``--changes`` runs. The
  figure to drive down is the round trip minus apply + render (queueing, database, Redis, the
  consumers);
* ``fps``: one client drags a slider continuously (a new value every 1/60 s without waiting for
  frames, ``--seconds`` long) while 1, 2 and 5 clients watch the session; the frames each client
  receives per second (coalescing renders the newest state after each render);
* the same with 5 sessions at once on the one worker (one dragger and one watcher each): frames
  per second per session and in total. Renders of different sessions are not batched on the
  worker (each task renders one session); the total shows what that costs.

Run (about two minutes): ``nice -n 10 .venv/bin/python bench/session_latency.py``. The worker
uses ``PARTEDIT_TORCH_THREADS`` (default here 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.local_stack import Stack, running_stack  # noqa: E402
from scripts.studio_fixture import seed_stack  # noqa: E402

DRAG_HZ = 60


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


class SessionClient:
    """A session socket client (autobahn on asyncio) that queues every message it receives."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()
        self.protocol: Any = None

    async def connect(self, url: str, origin: str, cookie: str) -> SessionClient:
        """Open the socket with the signed-in session cookie; wait for the ``state`` message."""
        from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

        client = self

        class Protocol(WebSocketClientProtocol):  # type: ignore[misc]
            def onMessage(self, payload: bytes, is_binary: bool) -> None:  # noqa: N802
                client.messages.put_nowait(
                    (time.perf_counter(), payload if is_binary else json.loads(payload))
                )

        factory = WebSocketClientFactory(url, origin=origin, headers={"Cookie": cookie})
        factory.protocol = Protocol
        host, port = url.split("//")[1].split("/")[0].split(":")
        _, self.protocol = await asyncio.get_running_loop().create_connection(factory, host, int(port))
        await self.until(lambda message: isinstance(message, dict) and message["type"] == "state")
        return self

    def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message."""
        self.protocol.sendMessage(json.dumps(message).encode())

    async def until(self, wanted: Any, timeout: float = 60.0) -> tuple[float, Any]:
        """The first queued message for which ``wanted(message)`` holds (earlier ones are dropped)."""
        while True:
            stamp, message = await asyncio.wait_for(self.messages.get(), timeout)
            if wanted(message):
                return stamp, message

    def close(self) -> None:
        """Close the socket."""
        self.protocol.sendClose()


def sign_in(stack: Stack, username: str, password: str) -> str:
    """The Cookie header of a browser session signed in through the sign-in page."""
    browser = requests.Session()
    browser.get(f"{stack.url}sign-in/")
    token = browser.cookies.get("csrftoken")
    browser.post(
        f"{stack.url}sign-in/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{stack.url}sign-in/"},
    )
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)


def seed(stack: Stack) -> dict[str, Any]:
    """Users and team (scripts.studio_fixture), a rendered sample and six sessions with the smile vector."""
    seeded = seed_stack(stack)
    api = requests.Session()
    token = api.post(
        f"{stack.url}api/auth/token/", data={"username": "ana", "password": seeded["passwords"]["ana"]}
    ).json()["token"]
    api.headers["Authorization"] = f"Token {token}"
    job = api.post(
        f"{stack.url}api/jobs/",
        json={
            "team": seeded["team"],
            "type": "render",
            "parameters": {"model": seeded["model"], "seed": 41, "psi": 0.7},
        },
    ).json()
    image = job["parameters"]["image"]
    while api.get(f"{stack.url}api/images/{image}/").json()["status"] != "ready":
        time.sleep(0.3)
    vector = next(
        v
        for v in api.get(f"{stack.url}api/vectors/", params={"team": seeded["team"]}).json()["results"]
        if v["name"] == "Smile"
    )
    sessions = []
    for number in range(6):
        session = api.post(
            f"{stack.url}api/sessions/", json={"image": image, "title": f"bench {number}"}
        ).json()
        added = api.post(
            f"{stack.url}api/sessions/{session['id']}/entries/",
            json={"base_revision": 0, "vector": vector["id"], "scale": 0.0},
        ).json()
        sessions.append({"id": session["id"], "entry": added["entries"][0]["id"]})
    return {"sessions": sessions, "vector": vector, "image": image, "password": seeded["passwords"]["ana"]}


async def connect(stack: Stack, cookie: str, session_id: int) -> SessionClient:
    """A connected client of ``session_id``."""
    origin = stack.url.rstrip("/")
    url = stack.url.replace("http", "ws") + f"ws/sessions/{session_id}/"
    return await SessionClient().connect(url, origin, cookie)


async def round_trips(stack: Stack, cookie: str, session: dict[str, Any], changes: int) -> list[float]:
    """Milliseconds from each scale change to its frame, one change at a time."""
    client = await connect(stack, cookie, session["id"])
    times = []
    for number in range(changes):
        scale = round(-2 + 4 * ((number * 37) % changes) / changes, 4)
        started = time.perf_counter()
        client.send({"type": "set_scale", "base_revision": 0, "entry": session["entry"], "scale": scale})
        _, ack = await client.until(lambda m: isinstance(m, dict) and m["type"] == "ack")
        revision = ack["revision"]
        await client.until(
            lambda m, revision=revision: (
                isinstance(m, dict)
                and m["type"] == "frame"
                and m["revision"] >= revision
                and m["kind"] == "image"
            )
        )
        arrived, _ = await client.until(lambda m: isinstance(m, bytes))
        times.append((arrived - started) * 1000)
    client.close()
    return times


async def drag(
    stack: Stack, cookie: str, sessions: list[dict[str, Any]], watchers: int, seconds: float
) -> list[list[float]]:
    """Frames per second seen by each watcher of each session while one client per session drags."""
    clients = []
    for session in sessions:
        draggers = await connect(stack, cookie, session["id"])
        clients.append(
            (session, draggers, [await connect(stack, cookie, session["id"]) for _ in range(watchers)])
        )
    counts: list[list[int]] = [[0] * watchers for _ in sessions]

    async def count(index: int, number: int, client: SessionClient, stop: float) -> None:
        while time.perf_counter() < stop:
            try:
                await client.until(
                    lambda m: isinstance(m, dict) and m["type"] == "frame" and m["kind"] == "image",
                    timeout=max(0.01, stop - time.perf_counter()),
                )
            except TimeoutError:
                return
            counts[index][number] += 1

    async def move(session: dict[str, Any], client: SessionClient, stop: float) -> None:
        step = 0
        while time.perf_counter() < stop:
            step += 1
            client.send(
                {
                    "type": "set_scale",
                    "base_revision": 0,
                    "entry": session["entry"],
                    "scale": round(2 * ((step % 120) / 60 - 1), 3),
                }
            )
            await asyncio.sleep(1 / DRAG_HZ)

    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(move(session, dragger, stop) for session, dragger, _ in clients),
        *(
            count(index, number, watcher, stop)
            for index, (_, _, watchers_) in enumerate(clients)
            for number, watcher in enumerate(watchers_)
        ),
    )
    for _, dragger, watchers_ in clients:
        dragger.close()
        for watcher in watchers_:
            watcher.close()
    return [[frames / seconds for frames in session_counts] for session_counts in counts]


def engine_baselines(vector_path: Path, runs: int) -> dict[str, float]:
    """p50 ms of the bare generator forward and of apply + render + PNG encode, in this process."""
    import torch

    from editing_engine.checkpoints import load_generator
    from editing_engine.rendering import encode_png, render_latent, seed_latent
    from editing_engine.vectors import load_vector

    torch.set_num_threads(int(os.environ.get("PARTEDIT_TORCH_THREADS", "1")))
    loaded = load_generator(ROOT / "models" / "demo")
    generator = loaded.generator.eval()
    ws = seed_latent(generator, 41, 0.7)
    delta = load_vector(vector_path, loaded.weights_hash).delta
    forward, full = [], []
    with torch.no_grad():
        for number in range(runs):
            started = time.perf_counter()
            generator.synthesis(ws, noise_mode="const")
            forward.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            edited = ws + (number % 40 / 10 - 2) * delta[None]
            encode_png(render_latent(generator, edited)[0])
            full.append((time.perf_counter() - started) * 1000)
    return {
        "forward_p50_ms": statistics.median(forward[5:]),
        "apply_render_p50_ms": statistics.median(full[5:]),
    }


async def measure(stack: Stack, seeded: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of the benchmark."""
    cookie = sign_in(stack, "ana", seeded["password"])
    sessions = seeded["sessions"]
    trips = await round_trips(stack, cookie, sessions[0], args.changes)
    results: dict[str, Any] = {
        "round_trip_p50_ms": statistics.median(trips),
        "round_trip_p95_ms": percentile(trips, 0.95),
    }
    for watchers in (1, 2, 5):
        fps = await drag(stack, cookie, sessions[1:2], watchers, args.seconds)
        results[f"fps_{watchers}_watchers"] = fps[0]
    fps = await drag(stack, cookie, sessions[1:6], 1, args.seconds)
    results["fps_5_sessions"] = [per_session[0] for per_session in fps]
    return results


def main() -> None:
    """Start the stack, seed it, measure, and print the figures as a table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    os.environ.setdefault("PARTEDIT_TORCH_THREADS", "1")
    with (
        tempfile.TemporaryDirectory() as folder,
        running_stack(Path(folder), ROOT / "models" / "demo") as stack,
    ):
        seeded = seed(stack)
        results = asyncio.run(measure(stack, seeded, args))
        vector_file = ROOT / "models" / "demo" / "library" / "smile.safetensors"
        results.update(engine_baselines(vector_file, args.changes))
    results["overhead_p50_ms"] = results["round_trip_p50_ms"] - results["apply_render_p50_ms"]
    results["machine"] = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch_threads": os.environ["PARTEDIT_TORCH_THREADS"],
    }
    print(
        f"round trip (scale change -> frame at the client), {args.changes} changes: "
        f"p50 {results['round_trip_p50_ms']:.1f} ms, p95 {results['round_trip_p95_ms']:.1f} ms"
    )
    print(
        f"engine in-process: bare forward p50 {results['forward_p50_ms']:.1f} ms, "
        f"apply+render+PNG p50 {results['apply_render_p50_ms']:.1f} ms; "
        f"overhead p50 {results['overhead_p50_ms']:.1f} ms"
    )
    for watchers in (1, 2, 5):
        fps = results[f"fps_{watchers}_watchers"]
        print(f"continuous drag, {watchers} watcher(s): fps per watcher {', '.join(f'{v:.1f}' for v in fps)}")
    per_session = results["fps_5_sessions"]
    print(
        f"5 sessions on one worker: fps per session {', '.join(f'{v:.1f}' for v in per_session)} "
        f"(total {sum(per_session):.1f})"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
