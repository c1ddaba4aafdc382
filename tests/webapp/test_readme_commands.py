"""The management commands README.md shows run as written on a fresh clone (no environment set)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# An inline code span or a code-block line that runs manage.py.
MANAGE_LINE = re.compile(
    r"`([^`\n]*manage\.py [^`\n]*)`|^((?:\S+=\S+ )*\.venv/bin/python manage\.py .*)$", re.M
)


def readme_manage_commands() -> list[str]:
    """Every ``manage.py`` command line README.md shows (inline code or a code-block line)."""
    text = (REPO_ROOT / "README.md").read_text()
    found = [first or second for first, second in MANAGE_LINE.findall(text)]
    return sorted({line.strip() for line in found if "python" in line})


def test_readme_shows_manage_commands() -> None:
    assert any("createsuperuser" in line for line in readme_manage_commands())


@pytest.mark.parametrize("line", readme_manage_commands())
def test_readme_manage_command_loads_its_settings(line: str, tmp_path: Path) -> None:
    words = shlex.split(line)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    assert words[0].endswith("python") and words[1] == "manage.py", line
    # --help runs the command's argument parser after Django has read the settings.
    result = subprocess.run([sys.executable, *words[1:3], "--help"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{line!r} fails as written:\n{result.stderr[-2000:]}"
