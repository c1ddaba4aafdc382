"""Files under MEDIA_ROOT, written atomically and never overwritten in place.

Every file gets a fresh name, is written to a temporary file and renamed into place, so a
reader never sees half a file and a failed request never damages a file already stored.
A ``NewFiles`` batch removes the files a failed operation wrote before its DB rows existed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def media_path(name: str) -> Path:
    """The absolute path of a stored file name, refusing names that escape MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise ValueError(f"stored file name {name!r} points outside MEDIA_ROOT")
    return path


def unique_name(folder: str, suffix: str) -> str:
    """A new file name in ``folder`` (relative to MEDIA_ROOT) that no stored file uses."""
    return f"{folder}/{uuid.uuid4().hex}{suffix}"


def write_atomic(name: str, data: bytes) -> str:
    """Write ``data`` to the stored file ``name`` via a temporary file and a rename; return ``name``."""
    path = media_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return name


def delete_files(names: Iterable[str]) -> None:
    """Remove stored files, logging (not raising) when one is already gone."""
    for name in names:
        if not name:
            continue
        try:
            media_path(name).unlink()
        except FileNotFoundError:
            logger.warning("stored file %s was already gone", name)


class NewFiles:
    """The files one operation writes; all of them are deleted if the operation fails."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def write(self, name: str, data: bytes) -> str:
        """Write one file atomically and remember it; returns ``name``."""
        write_atomic(name, data)
        self.names.append(name)
        return name


@contextlib.contextmanager
def new_files() -> Iterator[NewFiles]:
    """A batch of new files that is deleted again if the block raises."""
    batch = NewFiles()
    try:
        yield batch
    except BaseException:
        delete_files(batch.names)
        raise
