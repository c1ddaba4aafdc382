"""SQLite, the default database, under concurrent writers: conflicts and limits, never "database is locked".

The race runs in a subprocess on a file database (tests/webapp/sqlite_race.py): the suite's own
SQLite test database is in memory with a shared cache, whose table locks ignore the busy
timeout, so it cannot show what the web app's file database does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.webapp.sqlite_race import OWNER_TRIALS, RACERS

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_concurrent_writers_on_sqlite_get_answers_not_lock_errors(tmp_path: Path) -> None:
    database, media = str(tmp_path / "db.sqlite3"), str(tmp_path / "media")
    command = [sys.executable, "-m", "tests.webapp.sqlite_race", database, media]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])

    # Same-base saves of one image: one wins, every other one is told the version is stale (409).
    assert outcomes["annotations"] == {"saved": 1, "stale": RACERS - 1}
    # Job submissions: every render is created; GPU jobs up to the team's limit (2), then 429.
    assert outcomes["jobs"] == {"render: created": RACERS, "embed_image: created": 2,
                                "embed_image: job_limit_reached": RACERS - 2}
    # Two owners demoting each other at once: the team always keeps one.
    assert outcomes["owners_left"] == [1] * OWNER_TRIALS
