"""Which modules a package's files import (read with ast), for tests that keep one app off another."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def imported_modules(source: str, package: list[str]) -> set[str]:
    """The absolute names of the modules ``source`` imports, relative ones resolved against ``package``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def package_of(path: Path) -> list[str]:
    """The package the repository file ``path`` belongs to, as name parts (``webapp.library``)."""
    return list(path.resolve().relative_to(REPO_ROOT).parent.parts)


def imports_of(files: Iterable[Path], packages: Iterable[str]) -> set[str]:
    """``file: module`` for every import in ``files`` of one of ``packages`` or a module inside them."""
    prefixes = tuple(packages)
    return {
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for path in files
        for name in imported_modules(path.read_text(), package_of(path))
        if name in prefixes or name.startswith(tuple(f"{prefix}." for prefix in prefixes))
    }
