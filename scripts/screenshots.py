"""Screenshots of the studio's Dataset, Models, Jobs and Sample pages, from a fresh stack driven like a user.

``.venv/bin/python -m scripts.screenshots [--out docs/screenshots]`` starts Redis, one Celery worker
and daphne on a throw-away database with the bundled demo model, signs in, samples images on the
Dataset page, annotates some of them (masks from the shipped branch, saved over the API as a
script would), uploads a photo with a crop box, trains a branch with live progress, tries to
register a checkpoint that the importer refuses, and writes a PNG of each page. Needs
/usr/bin/chromium. Takes a few minutes on a CPU.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import requests
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from scripts.local_stack import (
    REPO_ROOT,
    free_port,
    start_daphne,
    start_redis,
    start_worker,
    stop,
    wait_for_port,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1360, "height": 900}
SAMPLES = 12
DONE, DRAFTS = 9, 2
TRAIN_STEPS = 150
# Waits until no image card follows a job or waits for its pixels.
IDLE_JS = """() => document.querySelector('.image-card')
  && !document.querySelector('.image-card .job-progress:not([data-status=succeeded])')
  && !document.querySelector('.thumb-missing')"""


def stack_env(folder: Path, redis_url: str) -> dict[str, str]:
    """Production settings on a throw-away database and media folder, the demo model, one torch thread."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DEBUG": "0",
            "SECRET_KEY": "screenshots", "SECURE_COOKIES": "0", "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}", "MEDIA_ROOT": str(folder / "media"),
            "PARTEDIT_MODEL_PATH": str(REPO_ROOT / "models" / "demo"), "PARTEDIT_DEVICE": "cpu",
            "PARTEDIT_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}


def run(env: dict[str, str], *command: str) -> str:
    """Run a command of the project in ``env``; its stdout."""
    return subprocess.run([sys.executable, *command], env=env, cwd=REPO_ROOT, check=True, capture_output=True,
                          text=True).stdout


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    """Sign in through the sign-in page."""
    page.goto(f"{url}sign-in/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/dataset/**")


def idle(page: Page, timeout: float = 300_000) -> None:
    """Wait until no card shows a job or a missing picture."""
    page.wait_for_function(IDLE_JS, timeout=timeout)


def annotate(url: str, password: str, done: int, drafts: int) -> None:
    """Save masks predicted by the shipped branch for the first sampled images (as a script would)."""
    import torch

    from editing_engine.checkpoints import load_generator
    from editing_engine.rendering import render_latent, seed_latent
    from editing_engine.segmentation import load_branch

    torch.set_num_threads(1)
    loaded = load_generator(REPO_ROOT / "models" / "demo")
    branch = load_branch(REPO_ROOT / "models" / "demo" / "branch", loaded.config)
    api = requests.Session()
    token = api.post(f"{url}api/auth/token/", data={"username": "ana", "password": password}).json()["token"]
    api.headers["Authorization"] = f"Token {token}"
    images = sorted(api.get(f"{url}api/images/", params={"source": "sample"}).json()["results"],
                    key=lambda image: image["seed"])
    for index, image in enumerate(images[: done + drafts]):
        ws = seed_latent(loaded.generator, image["seed"], image["truncation_psi"])
        _, labels = render_latent(loaded.generator, ws, branch)
        png = io.BytesIO()
        Image.fromarray(np.asarray(labels, np.uint8), mode="L").save(png, format="PNG")
        response = api.post(f"{url}api/images/{image['id']}/annotations/",
                            data={"done": str(index < done).lower()},
                            files={"mask": ("mask.png", png.getvalue(), "image/png")})
        response.raise_for_status()


def photo(path: Path) -> Path:
    """A 'photo' for the upload dialog: a demo render, enlarged and placed off-centre on a wider backdrop."""
    face = Image.open(REPO_ROOT / "models" / "demo" / "library" / "smile.before.png").convert("RGB")
    backdrop = Image.new("RGB", (640, 440), (214, 222, 232))
    backdrop.paste(face.resize((340, 340), Image.Resampling.LANCZOS), (210, 60))
    backdrop.save(path)
    return path


def not_a_network(path: Path) -> Path:
    """A .pkl that is a pickle but not a network: what the importer refuses, and says why."""
    path.write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x01x\x94.")
    return path


def shoot(page: Page, out: Path, name: str, full_page: bool = True) -> None:
    """Save a screenshot of the page (or of the open dialog) as ``out/name.png``."""
    page.wait_for_timeout(400)  # let transitions and lazy images settle
    page.screenshot(path=str(out / f"{name}.png"), full_page=full_page)
    print(f"wrote {out / name}.png", flush=True)


def tour(url: str, seeded: dict[str, Any], out: Path, folder: Path) -> None:
    """Drive the studio through every page and take the screenshots."""
    passwords = seeded["passwords"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.on("pageerror", lambda error: print(f"page error: {error}", file=sys.stderr))
        page.on("console", lambda message: print(f"console {message.type}: {message.text}", file=sys.stderr)
                if message.type in ("error", "warning") else None)
        page.goto(f"{url}sign-in/")
        page.fill("#id_username", "ana")
        shoot(page, out, "sign-in", full_page=False)
        sign_in(page, url, "ana", passwords["ana"])

        page.click("#open-sample")
        page.fill("#sample-form input[name=count]", str(SAMPLES))
        page.fill("#sample-form input[name=seed]", "100")
        page.click("#sample-form button[type=submit]")
        idle(page)
        annotate(url, passwords["ana"], DONE, DRAFTS)

        page.reload()
        page.click("#open-upload")
        page.set_input_files("#upload-files", str(photo(folder / "portrait.png")))
        page.wait_for_selector("#crop-area:not([hidden])")
        page.fill("#upload-name", "portrait")
        page.fill("#crop-size", "340")  # the square over the face: smaller, then nudged with the keys
        page.focus("#crop-canvas")
        for key, times in (("Shift+ArrowRight", 6), ("Shift+ArrowDown", 1)):
            for _ in range(times):
                page.keyboard.press(key)
        shoot(page, out, "dataset-upload", full_page=False)
        page.click("#upload-submit")
        page.wait_for_selector("#upload-dialog", state="hidden")
        idle(page)

        page.click("#open-train")
        page.fill("#train-form input[name=held_out]", "2")
        page.fill("#train-form input[name=steps]", str(TRAIN_STEPS))
        page.click("#train-form button[type=submit]")
        running = '#training .job-progress[data-status="running"]:not([data-step="0"])'
        page.wait_for_selector(running, timeout=300_000)
        shoot(page, out, "dataset-training")
        page.wait_for_selector("#training .iou-chart", timeout=600_000)
        shoot(page, out, "dataset")

        for name in ("models", "jobs", "sample"):
            page.goto(f"{url}{name}/", wait_until="domcontentloaded")
            page.wait_for_selector("main .loading", state="detached", timeout=60_000)
            if name == "sample":
                page.wait_for_selector('#frame[data-frame-count="1"]', timeout=120_000)
            shoot(page, out, name)
        page.goto(f"{url}models/", wait_until="domcontentloaded")
        page.click("#open-register")
        bogus = not_a_network(folder / "network.pkl")
        page.set_input_files("#register-form input[name=checkpoint]", str(bogus))
        page.fill("#register-form input[name=name]", "FFHQ 256")
        page.click("#register-submit")
        page.wait_for_selector("#register-refused", timeout=120_000)
        shoot(page, out, "models-register", full_page=False)

        viewer = browser.new_context(viewport=VIEWPORT).new_page()
        sign_in(viewer, url, "vic", passwords["vic"])
        idle(viewer)
        shoot(viewer, out, "dataset-viewer", full_page=False)
        browser.close()


def main() -> None:
    """Start the stack, seed it, take the screenshots, stop the stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    processes = []
    with tempfile.TemporaryDirectory(prefix="partedit-screenshots-") as tmp:
        folder = Path(tmp)
        try:
            redis_port = free_port()
            processes.append(start_redis(redis_port, subprocess.DEVNULL))
            wait_for_port(redis_port, processes[-1], timeout=20)
            env = stack_env(folder, f"redis://127.0.0.1:{redis_port}/0")
            run(env, "manage.py", "migrate", "--no-input")
            seeded = json.loads(run(env, "-m", "scripts.studio_fixture"))
            with (folder / "worker.log").open("wb") as log:
                processes.append(start_worker(env, log))
            port = free_port()
            with (folder / "daphne.log").open("wb") as log:
                processes.append(start_daphne(port, env, log))
            wait_for_port(port, processes[-1])
            tour(f"http://127.0.0.1:{port}/", seeded, args.out, folder)
        except Exception:
            for log in ("worker.log", "daphne.log"):
                if (folder / log).exists():
                    tail = (folder / log).read_text(errors="replace")[-4000:]
                    print(f"--- {log} ---\n{tail}", file=sys.stderr)
            raise
        finally:
            stop(processes)


if __name__ == "__main__":
    main()
