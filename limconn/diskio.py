"""Durable, atomic and locked file operations, shared by the run store, the workspaces and
the job queue.

A write that only renames is atomic but not durable: after a power cut the new name can
point at an empty file. So every file is flushed to disk (`fsync`) before it is renamed
into place, and the folder holding it after. Read-modify-writes that two processes may do
at once (an index, pruning old runs) hold a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flushes one file, or one folder's list of entries, to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_folder(folder: Path) -> None:
    """Flushes every file in `folder` (not its subfolders' files), then `folder` itself."""
    for path in folder.iterdir():
        if path.is_file():
            fsync_path(path)
    fsync_path(folder)


def write_atomically(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary sibling, flushed to disk, then
    `os.replace`; the folder's entry is flushed last."""
    temporary = path.with_name(f".tmp-{path.name}-{secrets.token_hex(4)}")
    try:
        with open(temporary, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
        fsync_path(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Holds an exclusive lock on `folder/.lock` (creating the folder) for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
