"""Before the demo migrates: deal with a database made by a checkout whose migrations were since replaced.

On 2026-12-02 the migrations were squashed to one initial migration per app (docs/operations.md,
"Databases from before the migration squash"). A database made before that has records of
migrations that no longer exist, and ``migrate`` cannot tell whether its tables are the new ones:

* brought up to the last old migrations, its schema is the new one exactly, so only the old
  records are deleted and the demo goes on with its data;
* otherwise (or with records of migrations this checkout has never had) the demo's SQLite file is
  moved aside, kept beside it, and the demo starts on a fresh database; any other database
  (``DATABASE_URL``) is left alone with an error.

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
from django.db.migrations.recorder import MigrationRecorder

# The migrations the squash replaced; a database with all of them applied has the new schema.
REPLACED_MIGRATIONS = frozenset({
    ("annotations", "0002_alter_annotationversion_parent"),
    ("annotations", "0003_annotationversion_is_done"),
    ("annotations", "0004_image_uncertainty"),
    ("assets", "0002_alter_image_model"),
    ("assets", "0003_partlabel_is_context"),
    ("assets", "0004_image_reconstruction"),
    ("editsessions", "0002_alter_stackentry_vector"),
    ("editsessions", "0003_live_stack_operations"),
    ("editsessions", "0004_render_requested"),
    ("jobs", "0002_score_uncertainty_job_type"),
    ("jobs", "0003_job_heartbeat_at"),
    ("jobs", "0004_import_model_job_type"),
    ("jobs", "0005_predict_mask_job_type"),
    ("library", "0003_alter_editvector_model"),
    ("library", "0004_editvector_strength_strip"),
})
SQLITE = "django.db.backends.sqlite3"


def applied_and_stale(connection: BaseDatabaseWrapper) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The applied migrations of PartEdit's apps, and those of them that no migration file matches."""
    loader = MigrationLoader(connection)
    ours = {config.label for config in apps.get_app_configs() if config.name.startswith("webapp.")}
    applied = {key for key in loader.applied_migrations if key[0] in ours}
    return applied, {key for key in applied if key not in loader.disk_migrations}


def is_up_to_date_pre_squash(applied: set[tuple[str, str]], stale: set[tuple[str, str]]) -> bool:
    """Whether the database had every replaced migration and no other unknown one: the new schema."""
    return applied.issuperset(REPLACED_MIGRATIONS) and stale.issubset(REPLACED_MIGRATIONS)


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
    applied, stale = applied_and_stale(connection)
    if not stale:
        return 0, ""
    if is_up_to_date_pre_squash(applied, stale):
        records = MigrationRecorder(connection).migration_qs
        for app, name in stale:
            records.filter(app=app, name=name).delete()
        return 0, (f"The database was made before the migrations were squashed and is up to date; "
                   f"deleted its {len(stale)} records of replaced migrations.")
    shown = [f"{app}.{name}" for app, name in sorted(stale)]
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
