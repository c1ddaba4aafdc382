"""Run the PartEdit demo: migrate, demo account, Redis (unless REDIS_URL is set), workers, sweeper, daphne.

Two Celery workers: one serves only the ``preview`` queue (interactive frames and sample
renders), the other the ``gpu`` queue (embedding, training, editing), so a preview never waits
behind a long job.

Started by scripts/demo (``python -m scripts.run_demo``) after it has set up the virtualenv.
Ctrl-C (or SIGTERM) stops every child process, and their children, before exiting.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from scripts.local_stack import (
    REPO_ROOT,
    StackError,
    StackProcess,
    free_port,
    port_is_free,
    start_daphne,
    start_redis,
    start_sweeper,
    start_worker,
    stop,
    wait_for_port,
)

# One worker per queue: previews never wait behind a long job on the other.
DEMO_WORKER_QUEUES = ("preview", "gpu")


def demo_environment(redis_url: str) -> dict[str, str]:
    """The environment of the demo's processes: the caller's, with DEBUG on and the Redis to use."""
    env = dict(os.environ)
    env.update({"DEBUG": "1", "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "webapp.settings"})
    return env


def run(port: int) -> int:
    """Start the stack, print the URL, and supervise until interrupted or a child exits."""
    processes: list[StackProcess] = []
    # Ctrl-C and SIGTERM both stop the demo, even when started with SIGINT ignored (e.g. with `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            redis_port = free_port()
            redis = start_redis(redis_port, log=subprocess.DEVNULL)
            processes.append(redis)
            wait_for_port(redis_port, redis, timeout=20)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            print(f"started redis-server at {redis_url}")
        env = demo_environment(redis_url)
        # A database from before the migration squash: its old records deleted, or the file moved aside.
        subprocess.run([sys.executable, "-m", "scripts.demo_database"], cwd=REPO_ROOT, env=env, check=True)
        migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
        subprocess.run(migrate, cwd=REPO_ROOT, env=env, check=True)
        account = subprocess.run([sys.executable, "manage.py", "demo_account"], cwd=REPO_ROOT, env=env,
                                 check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
        processes.extend(start_worker(env, queues=queues) for queues in DEMO_WORKER_QUEUES)
        processes.append(start_sweeper(env))
        daphne = start_daphne(port, env)
        processes.append(daphne)
        wait_for_port(port, daphne)
        print(f"\nPartEdit is running: http://127.0.0.1:{port}/   (Ctrl-C stops everything)\n{account}\n",
              flush=True)
        while all(child.alive() for child in processes):
            time.sleep(0.5)
        dead = next(child for child in processes if not child.alive())
        print(f"{dead.name} exited with status {dead.process.returncode}; stopping the demo", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    except (StackError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(processes)


def main() -> int:
    """Parse arguments and run the demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                        help="HTTP port of daphne (default $PORT or 8000; a free one if that is taken)")
    port = parser.parse_args().port
    if not port_is_free(port):
        port = free_port()
    return run(port)


if __name__ == "__main__":
    sys.exit(main())
