"""Stored files in media storage, written atomically and never overwritten in place.

Media storage is Django's default storage (``PARTEDIT_STORAGE``): the filesystem under
MEDIA_ROOT (local or shared), or an S3-compatible store through django-storages. Every file
gets a fresh name. On the filesystem it is written to a temporary file and renamed into place;
an S3 PUT is atomic by itself. So a reader never sees half a file and a failed request never
damages a file already stored. A ``NewFiles`` batch removes the files a failed operation wrote
before its DB rows existed. Workers that need a file on disk get ``local_copy``: the file
itself on the filesystem, else a download cached under PARTEDIT_CACHE_DIR (stored names are
never reused, so a cached copy never goes stale).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage

logger = logging.getLogger(__name__)


def is_filesystem() -> bool:
    """Whether media storage is the filesystem under MEDIA_ROOT (else a remote store such as S3)."""
    return isinstance(default_storage, FileSystemStorage)


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
    if not is_filesystem():
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:
            raise RuntimeError(f"media storage stored {name!r} as {saved!r}; it must not rename files")
        return name
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


def delete_files(names: Iterable[str | None]) -> None:
    """Remove stored files (empty names skipped), logging (not raising) when one is already gone."""
    for name in names:
        if not name:
            continue
        if not is_filesystem():
            default_storage.delete(name)
            continue
        try:
            media_path(name).unlink()
        except FileNotFoundError:
            logger.warning("stored file %s was already gone", name)


def stored_name(name: str | None) -> str:
    """A file field's name (``FieldFile.name``); FileNotFoundError when the field holds no file."""
    if not name:
        raise FileNotFoundError("the record has no stored file")
    return name


def open_stored(name: str | None) -> IO[bytes]:
    """Open a stored file for reading; FileNotFoundError when it is not in storage."""
    name = stored_name(name)
    if is_filesystem():
        return media_path(name).open("rb")
    if not default_storage.exists(name):
        raise FileNotFoundError(f"stored file {name!r} is not in media storage")
    handle: IO[bytes] = default_storage.open(name, "rb")
    return handle


def read_bytes(name: str | None) -> bytes:
    """The whole content of a stored file."""
    with open_stored(name) as handle:
        return handle.read()


def local_copy(name: str | None) -> Path:
    """A path on this machine holding the stored file ``name`` (downloaded once into the cache if remote)."""
    name = stored_name(name)
    if is_filesystem():
        return media_path(name)
    root = Path(settings.PARTEDIT_CACHE_DIR).resolve() / "media"
    path = (root / name).resolve()
    if root not in path.parents:
        raise ValueError(f"stored file name {name!r} points outside the cache")
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as file, open_stored(name) as source:
            shutil.copyfileobj(source, file)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


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
