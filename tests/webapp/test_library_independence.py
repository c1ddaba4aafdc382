"""The library app depends on nothing of the edit sessions: no import, no migration dependency."""

from __future__ import annotations

from django.db.migrations.loader import MigrationLoader

from tests.webapp.import_scan import REPO_ROOT, imported_modules, imports_of, package_of

LIBRARY_PACKAGE = REPO_ROOT / "webapp" / "library"
PARTEDIT_APPS = ("annotations", "assets", "editsessions", "jobs", "library", "teams")


def test_the_library_package_imports_nothing_of_the_edit_sessions() -> None:
    files = sorted(LIBRARY_PACKAGE.rglob("*.py"))
    assert LIBRARY_PACKAGE / "models.py" in files and LIBRARY_PACKAGE / "serializers.py" in files
    assert imports_of(files, ["webapp.editsessions"]) == set()


def test_the_import_scan_sees_absolute_and_relative_imports_of_the_edit_sessions() -> None:
    source = "from ..editsessions import models\nimport webapp.editsessions.services\nfrom . import admin\n"
    names = imported_modules(source, package_of(LIBRARY_PACKAGE / "services.py"))
    assert {"webapp.editsessions.models", "webapp.editsessions.services", "webapp.library.admin"} <= names
    assert imports_of([LIBRARY_PACKAGE / "services.py"], ["webapp.assets"]) != set()


def test_each_app_has_one_initial_migration_and_the_library_needs_no_edit_session_one() -> None:
    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    ours = sorted(node for node in graph.nodes if node[0] in PARTEDIT_APPS)
    assert ours == [(app, "0001_initial") for app in PARTEDIT_APPS]
    before_library = graph.forwards_plan(("library", "0001_initial"))
    assert not [node for node in before_library if node[0] == "editsessions"]
    assert ("library", "0001_initial") in graph.forwards_plan(("editsessions", "0001_initial"))
