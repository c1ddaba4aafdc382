"""Web processes stay free of torch; settings come from the environment with safe defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps

REPO_ROOT = Path(__file__).resolve().parents[2]


def is_worker_module(name: str) -> bool:
    """Worker-side modules may import torch: ``tasks*`` modules, a ``tasks`` package, ``*worker*`` modules."""
    parts = name.split(".")
    return parts[-1].startswith("tasks") or "worker" in parts[-1] or "tasks" in parts


def web_modules() -> list[str]:
    """Every module a web (daphne) process may import: project modules and those of installed apps."""
    installed = [config.name for config in apps.get_app_configs() if config.name.startswith("webapp.")]
    names = []
    for path in sorted((REPO_ROOT / "webapp").rglob("*.py")):
        parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        in_installed_app = any(name == app or name.startswith(app + ".") for app in installed)
        if (len(parts) <= 2 and path.parent.name == "webapp") or in_installed_app:
            names.append(name)
    return [name for name in names if not is_worker_module(name) and name != "webapp.settings_test"]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with a minimal, explicit environment."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


# The engine's torch-free modules that web processes use to check files before storing them.
TORCH_FREE_ENGINE_MODULES = ("editing_engine", "editing_engine.errors", "editing_engine.formats",
                             "editing_engine.taxonomy")


def test_web_process_never_imports_torch() -> None:
    modules = web_modules()
    assert "webapp.preview.consumers" in modules and "webapp.asgi" in modules
    code = (
        "import importlib, sys\n"
        "import webapp.asgi\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] == 'torch'\n"
        f"                or m.startswith('editing_engine') and m not in {TORCH_FREE_ENGINE_MODULES!r})\n"
        "print(','.join(leaked))\n"
    )
    result = run_python(code, DJANGO_SETTINGS_MODULE="webapp.settings", SECRET_KEY="x",
                        REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


SETTINGS_PROBE = (
    "import webapp.settings as s\n"
    "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'],"
    " s.ALLOWED_HOSTS)\n"
)


def test_production_settings_require_secret_key() -> None:
    result = run_python(SETTINGS_PROBE, REDIS_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_settings_require_redis_url() -> None:
    result = run_python(SETTINGS_PROBE, SECRET_KEY="x")
    assert result.returncode != 0
    assert "REDIS_URL must be set when DEBUG is off" in result.stderr


def test_settings_read_the_environment() -> None:
    result = run_python(SETTINGS_PROBE, SECRET_KEY="x", REDIS_URL="redis://127.0.0.1:6379/3",
                        DATABASE_URL="postgres://postgres@127.0.0.1:5432/partedit",
                        ALLOWED_HOSTS="edit.example.org, 10.0.0.2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 3) == [
        "False", "django.db.backends.postgresql", "channels_redis.core.RedisChannelLayer",
        "['edit.example.org', '10.0.0.2']\n",
    ]


def test_debug_defaults_for_the_demo() -> None:
    result = run_python(SETTINGS_PROBE, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True django.db.backends.sqlite3")


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "maybe"), ("PARTEDIT_DEVICE", "tpu"), ("PARTEDIT_TORCH_THREADS", "-1"),
     ("PARTEDIT_TORCH_THREADS", "two")],
)
def test_invalid_values_are_refused(name: str, value: str) -> None:
    result = run_python(SETTINGS_PROBE, SECRET_KEY="x", REDIS_URL="redis://127.0.0.1:6379/0", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr
