"""The demo and a database from before the migration squash: the SQLite file moved aside, a server refused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from scripts.demo_database import SQLITE, move_aside, resolve, unknown_migrations

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)
# resolve() only reads ENGINE and NAME; the records come from the connection it is given.
OTHER_SERVER = {"ENGINE": "django.db.backends.postgresql", "NAME": "partedit"}
# What the first squash (one initial migration per app and library 0002) left in a database.
FIRST_SQUASH = (("library", "0002_editvector_source_session"),)
# The last migration of each app before the squashes: a database brought fully up to date then.
LAST_BEFORE_SQUASH = (
    ("annotations", "0004_image_uncertainty"),
    ("assets", "0004_image_reconstruction"),
    ("editsessions", "0004_render_requested"),
    ("jobs", "0005_predict_mask_job_type"),
    ("library", "0004_editvector_strength_strip"),
    *FIRST_SQUASH,
)


def record(*migrations: tuple[str, str]) -> None:
    """Record ``migrations`` as applied in the test database, as an older checkout did."""
    recorder = MigrationRecorder(connection)
    for app, name in migrations:
        recorder.record_applied(app, name)


@pytest.mark.django_db
def test_a_database_made_by_this_checkout_has_no_unknown_records() -> None:
    applied = MigrationRecorder(connection).applied_migrations()
    assert ("library", "0001_initial") in applied and ("editsessions", "0001_initial") in applied
    assert unknown_migrations(connection) == set()
    assert resolve(connection, OTHER_SERVER, NOW) == (0, "")


@pytest.mark.django_db
@pytest.mark.parametrize("old", [FIRST_SQUASH, LAST_BEFORE_SQUASH], ids=["first-squash", "before-squash"])
def test_an_up_to_date_older_database_on_a_server_is_refused_and_its_records_kept(old: Any) -> None:
    record(*old)
    code, message = resolve(connection, OTHER_SERVER, NOW)
    first = ".".join(min(old))
    assert code == 1 and first in message and "DATABASE_URL" in message
    assert unknown_migrations(connection) == set(old)


@pytest.mark.django_db
def test_a_partly_migrated_database_on_a_server_is_refused_and_left_alone() -> None:
    record(("assets", "0002_alter_image_model"))
    code, message = resolve(connection, OTHER_SERVER, NOW)
    assert code == 1 and "assets.0002_alter_image_model" in message and "DATABASE_URL" in message
    assert unknown_migrations(connection) == {("assets", "0002_alter_image_model")}


@pytest.mark.django_db
def test_the_refusal_lists_three_unknown_migrations_and_counts_the_rest() -> None:
    record(*LAST_BEFORE_SQUASH, ("assets", "0099_from_another_branch"))
    code, message = resolve(connection, OTHER_SERVER, NOW)
    assert code == 1 and f"and {len(LAST_BEFORE_SQUASH) + 1 - 3} more" in message
    assert len(unknown_migrations(connection)) == len(LAST_BEFORE_SQUASH) + 1


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "partedit.sqlite3"
    assert resolve(connection, {"ENGINE": SQLITE, "NAME": str(path)}, NOW) == (0, "")
    assert not path.exists()


def test_move_aside_takes_the_journal_files_along(tmp_path: Path) -> None:
    path = tmp_path / "partedit.sqlite3"
    for name, content in (("partedit.sqlite3", "db"), ("partedit.sqlite3-wal", "wal")):
        (tmp_path / name).write_text(content)
    moved = move_aside(path, NOW)
    assert moved == tmp_path / "partedit-before-squash-20261202T010203Z.sqlite3"
    assert moved.read_text() == "db"
    assert (tmp_path / "partedit-before-squash-20261202T010203Z.sqlite3-wal").read_text() == "wal"
    assert sorted(p.name for p in tmp_path.iterdir()) == [moved.name, f"{moved.name}-wal"]


def test_the_demo_moves_a_sqlite_file_made_by_the_first_squash_aside(tmp_path: Path) -> None:
    apps = ("annotations", "assets", "editsessions", "jobs", "library", "teams")
    made = [(app, "0001_initial") for app in apps]
    path = tmp_path / "partedit.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE django_migrations (id integer PRIMARY KEY, app varchar(255), "
                    "name varchar(255), applied datetime)")
        old.executemany("INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '2026-11-25')",
                        [*made, *FIRST_SQUASH])
    old.close()
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "webapp.settings",
           "DATABASE_URL": f"sqlite:///{path}"}
    done = subprocess.run([sys.executable, "-m", "scripts.demo_database"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "library.0002_editvector_source_session" in done.stdout and "moved it to" in done.stdout
    assert not path.exists()
    [moved] = tmp_path.glob("partedit-before-squash-*.sqlite3")
    with sqlite3.connect(moved) as kept:
        assert kept.execute("SELECT count(*) FROM django_migrations").fetchone() == (len(made) + 1,)
    kept.close()
