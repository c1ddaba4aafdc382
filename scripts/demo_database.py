"""Before the demo migrates: deal with a database made by a checkout whose migrations were since replaced.

On 2026-12-02 the migrations were squashed to one initial migration per app, and the link from a
library vector to the edit session it was made in moved to the edit-session side
(docs/operations.md, "Databases from before the migration squash"). A database made before that
has records of migrations that no longer exist (at least ``library.0002_editvector_source_session``)
and another schema than the one the new migrations make, which ``migrate`` cannot see. So a
database with records of migrations this checkout does not have is never migrated: the demo's
SQLite file is moved aside, kept beside it, and the demo starts on a fresh database; any other
database (``DATABASE_URL``) is left alone with an error that lists the unknown migrations.

Run by scripts/run_demo.py in the demo's environment: ``python -m scripts.demo_database``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.conf import settings
from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader

SQLITE = "django.db.backends.sqlite3"


def unknown_migrations(connection: BaseDatabaseWrapper) -> set[tuple[str, str]]:
    """The migrations of PartEdit's apps the database records as applied that no migration file matches."""
    loader = MigrationLoader(connection)
    ours = {config.label for config in apps.get_app_configs() if config.name.startswith("webapp.")}
    return {key for key in loader.applied_migrations if key[0] in ours and key not in loader.disk_migrations}


def move_aside(path: Path, now: datetime) -> Path:
    """Move the SQLite file ``path`` and its ``-wal`` and ``-shm`` files aside; the file's new path."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}-before-squash-{stamp}{path.suffix}")
    for suffix in ("-wal", "-shm"):
        journal = path.with_name(path.name + suffix)
        if journal.exists():
            journal.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target


def resolve(connection: BaseDatabaseWrapper, database: Mapping[str, Any], now: datetime) -> tuple[int, str]:
    """Check the database and make the demo able to migrate it: exit status and what to tell the user."""
    if database["ENGINE"] == SQLITE and not Path(database["NAME"]).exists():
        return 0, ""
    unknown = unknown_migrations(connection)
    if not unknown:
        return 0, ""
    shown = [f"{app}.{name}" for app, name in sorted(unknown)]
    names = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    if database["ENGINE"] != SQLITE:
        return 1, (f"error: the database {database['NAME']!r} was made by an older PartEdit (migrations this "
                   f"checkout does not have: {names}). Point DATABASE_URL at a new database, or see "
                   "docs/operations.md, 'Databases from before the migration squash'.")
    connection.close()
    moved = move_aside(Path(database["NAME"]), now)
    return 0, (f"{database['NAME']} was made by an older PartEdit (migrations this checkout does not have: "
               f"{names}); moved it to {moved} and starting on a fresh database (docs/operations.md, "
               "'Databases from before the migration squash').")


def main() -> int:
    """Set up Django, check the demo's database, and print what was done."""
    django.setup()
    code, message = resolve(default_connection, settings.DATABASES["default"], datetime.now(UTC))
    if message:
        print(message, file=sys.stderr if code else sys.stdout, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
