"""The demo and a database from before the migration squash: old records deleted, or the file moved aside."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from scripts.demo_database import REPLACED_MIGRATIONS, SQLITE, applied_and_stale, move_aside, resolve

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 2, 1, 2, 3, tzinfo=UTC)
# resolve() only reads ENGINE and NAME; the records come from the connection it is given.
OTHER_SERVER = {"ENGINE": "django.db.backends.postgresql", "NAME": "partedit"}


def record(*migrations: tuple[str, str]) -> None:
    """Record ``migrations`` as applied in the test database, as an older checkout did."""
    recorder = MigrationRecorder(connection)
    for app, name in migrations:
        recorder.record_applied(app, name)


@pytest.mark.django_db
def test_a_database_made_by_this_checkout_has_no_stale_records() -> None:
    applied, stale = applied_and_stale(connection)
    assert ("assets", "0001_initial") in applied and ("library", "0002_editvector_source_session") in applied
    assert stale == set()
    assert resolve(connection, OTHER_SERVER, NOW) == (0, "")


@pytest.mark.django_db
def test_an_up_to_date_pre_squash_database_loses_only_its_old_records() -> None:
    record(*REPLACED_MIGRATIONS)
    assert applied_and_stale(connection)[1] == REPLACED_MIGRATIONS
    code, message = resolve(connection, OTHER_SERVER, NOW)
    assert code == 0 and f"deleted its {len(REPLACED_MIGRATIONS)} records" in message
    applied, stale = applied_and_stale(connection)
    assert stale == set() and ("assets", "0001_initial") in applied


@pytest.mark.django_db
def test_a_partly_migrated_database_on_a_server_is_refused_and_left_alone() -> None:
    record(("assets", "0002_alter_image_model"))
    code, message = resolve(connection, OTHER_SERVER, NOW)
    assert code == 1 and "assets.0002_alter_image_model" in message and "DATABASE_URL" in message
    assert applied_and_stale(connection)[1] == {("assets", "0002_alter_image_model")}


@pytest.mark.django_db
def test_records_of_migrations_never_shipped_are_not_taken_for_an_up_to_date_database() -> None:
    record(*REPLACED_MIGRATIONS, ("assets", "0099_from_another_branch"))
    code, message = resolve(connection, OTHER_SERVER, NOW)
    assert code == 1 and f"and {len(REPLACED_MIGRATIONS) + 1 - 3} more" in message
    assert len(applied_and_stale(connection)[1]) == len(REPLACED_MIGRATIONS) + 1


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


def test_the_demo_moves_a_partly_migrated_sqlite_file_aside(tmp_path: Path) -> None:
    path = tmp_path / "partedit.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE django_migrations (id integer PRIMARY KEY, app varchar(255), "
                    "name varchar(255), applied datetime)")
        old.executemany("INSERT INTO django_migrations (app, name, applied) VALUES (?, ?, '2026-11-25')",
                        [("assets", "0001_initial"), ("assets", "0002_alter_image_model")])
    old.close()
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "webapp.settings",
           "DATABASE_URL": f"sqlite:///{path}"}
    done = subprocess.run([sys.executable, "-m", "scripts.demo_database"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "assets.0002_alter_image_model" in done.stdout and "moved it to" in done.stdout
    assert not path.exists()
    [moved] = tmp_path.glob("partedit-before-squash-*.sqlite3")
    with sqlite3.connect(moved) as kept:
        assert kept.execute("SELECT count(*) FROM django_migrations").fetchone() == (2,)
    kept.close()
