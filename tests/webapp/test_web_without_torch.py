"""The web process works on a machine without torch (the web image installs none)."""

from __future__ import annotations

from pathlib import Path

from tests.webapp.test_web_processes import run_python

# torch (and so the engine's torch modules) cannot be imported at all, as in the web image.
WITHOUT_TORCH = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, NoTorch())
import django
django.setup()
from django.core.management import call_command
from django.test import Client
import webapp.asgi, webapp.urls, webapp.routing
call_command("check")
response = Client().get("/healthz")
print("status", response.status_code, response.json()["checks"]["database"])
"""


def test_web_process_starts_and_answers_without_torch_installed(tmp_path: Path) -> None:
    result = run_python(WITHOUT_TORCH, DJANGO_SETTINGS_MODULE="webapp.settings", SECRET_KEY="x",
                        REDIS_URL="redis://127.0.0.1:1/0", DATABASE_URL=f"sqlite:///{tmp_path}/web.sqlite3")
    assert result.returncode == 0, result.stderr
    # The database is empty (no migrations) but reachable; Redis is not: 503, database "ok".
    assert result.stdout.strip().endswith("status 503 ok"), result.stdout
