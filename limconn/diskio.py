"""Durable, atomic and locked file operations, shared by the run store, the workspaces and
the job queue.

A write that only renames is atomic but not durable: after a power cut the new name can
point at an empty file. So every file is flushed to disk (`fsync`) before it is renamed
into place, and the folder holding it after. Read-modify-writes that two processes may do
at once (an index, pruning old runs) hold a file lock.

Everything is created for the owner alone (folders 0700, files 0600) whatever the process
umask: on a lab server, other shell users must not read a visitor's workspace.
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


def private_folder(path: str | os.PathLike) -> Path:
    """Creates `path`, and the missing folders above it, for the owner alone (0700, whatever
    the umask). Returns it."""
    path = Path(path)
    if not path.is_dir():
        if not path.parent.is_dir():
            private_folder(path.parent)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        os.chmod(path, 0o700)
    return path


def temporary_sibling(path: Path) -> Path:
    """A fresh hidden name beside `path` (`.tmp-<name>-<random>`) to write into first."""
    return path.with_name(f".tmp-{path.name}-{secrets.token_hex(4)}")


def write_new_file(path: Path, data: bytes) -> None:
    """Creates `path` (it must not exist) for the owner alone (0600) and flushes it to disk."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "wb") as stream:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        stream.write(data)
        stream.flush()
        os.fsync(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Writes `data` to `path` (mode 0600) through a synced temporary sibling and
    `os.replace`, then flushes the folder's entry: a crash or a full disk leaves the old file
    whole and no temporary behind.

    Raises:
        OSError: if the disk refuses the write.
    """
    temporary = temporary_sibling(path)
    try:
        write_new_file(temporary, data)
        os.replace(temporary, path)
        fsync_path(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Holds an exclusive lock on `folder/.lock` (creating the folder, privately) for the
    block."""
    private_folder(folder)
    descriptor = os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    with open(descriptor, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
