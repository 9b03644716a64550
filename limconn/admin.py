"""`python -m limconn admin ...`: looking after a server's home, for the person who runs it.

* `admin status`: the job queue as its records tell it (jobs training, and waiting per
  workspace, workspaces shown by the first characters of their folder's keyed hash, never by
  id), the disk used by runs, designs and the spool, and the caps in force.
* `admin expire --older-than 30d [--dry-run]`: removes workspaces (designs, settings, job
  records, runs) nothing has touched for that long.
* `admin clean [--dry-run]`: removes leftover temporary files and folders (`.tmp-*`, from a
  write a crash or a full disk cut short) and spooled datasets of jobs no longer queued or
  training, all older than an hour, so a write in progress is never touched.

Each prints what it did (or would do). It reads `$LIMCONN_HOME` and `LIMCONN_*` as the server
does (`limconn.settings`), and loads no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from pathlib import Path

from limconn.jobs import JobStore, find_leftovers, remove_leftovers
from limconn.settings import Limits

SETTLED_SECONDS = 3600
"""A temporary or spool file younger than this may belong to a write or a job in progress."""
_HASHED = re.compile(r"[0-9a-f]{32}")  # `limconn.workspaces.folder_name`
_SHOWN_HEX = 8
_ACTIVE = ("queued", "running")
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([dh])")


def parse_duration(text: str) -> float:
    """Seconds in `30d` (days) or `12h` (hours).

    Raises:
        ValueError: for anything else, naming the received text.
    """
    found = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None or float(found[1]) <= 0:
        raise ValueError(f"--older-than must be a positive number of days or hours, like 30d "
                         f"or 12h. Received: {text!r}")
    return float(found[1]) * (86400 if found[2] == "d" else 3600)


def _records(home: Path) -> list[tuple[str, dict]]:
    """Every readable job record, with the name of its workspace's folder."""
    return [(path.parents[1].name, record) for path, record in JobStore(home).all_records()]


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def status(home: Path, limits: Limits) -> list[str]:
    """What `admin status` prints: queue, disk use, caps."""
    active = [(folder, record) for folder, record in _records(home)
              if record.get("status") in _ACTIVE]
    training = sum(record["status"] == "running" for _, record in active)
    lines = [f"home: {home}",
             f"workers: {training} job(s) training, at most {limits.max_jobs} at once"]
    waiting: dict[str, int] = {}
    for folder, record in active:
        if record["status"] == "queued":
            waiting[folder[:_SHOWN_HEX]] = waiting.get(folder[:_SHOWN_HEX], 0) + 1
    lines.append(f"queue: {sum(waiting.values())} job(s) waiting"
                 + "".join(f"\n  workspace {name}…: {count}" for name, count in
                           sorted(waiting.items(), key=lambda item: -item[1])))
    designs = sum(_size(folder) for folder in (home / "workspaces").glob("*/designs"))
    lines.append("disk: " + ", ".join(
        f"{what} {size / 1e6:.1f} MB" for what, size in (
            ("runs", _size(home / "runs") if (home / "runs").is_dir() else 0),
            ("designs", designs),
            ("spool", _size(home / "spool") if (home / "spool").is_dir() else 0))))
    lines.append("caps: " + ", ".join(f"{field.name}={getattr(limits, field.name)}"
                                      for field in dataclasses.fields(limits)))
    return lines


@dataclasses.dataclass(frozen=True)
class Stale:
    """A workspace nothing touched since `touched` (seconds since the epoch)."""

    name: str
    touched: float
    folders: tuple[Path, ...]


def stale_workspaces(home: Path, older_than: float, now: float | None = None) -> list[Stale]:
    """Workspaces (their folder under `workspaces/` and under `runs/`, by hashed name) whose
    newest file or folder is older than `older_than` seconds. Folders of other names (the
    CLI's local `runs/default`) are never counted as workspaces."""
    now = time.time() if now is None else now
    folders: dict[str, list[Path]] = {}
    for place in (home / "workspaces", home / "runs"):
        for folder in place.iterdir() if place.is_dir() else ():
            if folder.is_dir() and _HASHED.fullmatch(folder.name):
                folders.setdefault(folder.name, []).append(folder)
    stale = []
    for name, found in sorted(folders.items()):
        touched = max(entry.stat().st_mtime for folder in found
                      for entry in (folder, *folder.rglob("*")))
        if now - touched > older_than:
            stale.append(Stale(name, touched, tuple(found)))
    return stale


def expire(home: Path, older_than: float, dry_run: bool = False) -> list[str]:
    """Removes the workspaces `stale_workspaces` finds (unless `dry_run`); what it did."""
    lines = []
    for stale in stale_workspaces(home, older_than):
        days = (time.time() - stale.touched) / 86400
        for folder in stale.folders if not dry_run else ():
            shutil.rmtree(folder)
        lines.append(f"{'would remove' if dry_run else 'removed'} workspace "
                     f"{stale.name[:_SHOWN_HEX]}… (untouched for {days:.0f} days)")
    return lines or ["no workspace is that old"]


def clean(home: Path, dry_run: bool = False) -> list[str]:
    """Removes `limconn.jobs.find_leftovers` older than `SETTLED_SECONDS` (unless `dry_run`);
    what it did, with paths relative to the home."""
    found = find_leftovers(home, settled_seconds=SETTLED_SECONDS)
    gone = found if dry_run else remove_leftovers(found)
    lines = [f"{'would remove' if dry_run else 'removed'} {path.relative_to(home)}"
             for path in gone]
    return lines or ["nothing to clean"]


def add_parser(commands) -> None:
    """`admin status | expire | clean` on the CLI's command list."""
    parser = commands.add_parser("admin", help="look after a server's home (status, expire, "
                                               "clean)")
    actions = parser.add_subparsers(metavar="ACTION", required=True)
    shown = actions.add_parser("status", help="workers, queue, disk use, caps")
    shown.set_defaults(command=_run, parser=shown, action="status")
    old = actions.add_parser("expire", help="remove workspaces untouched for a while")
    old.add_argument("--older-than", required=True, metavar="AGE",
                     help="e.g. 30d (days) or 12h (hours)")
    old.add_argument("--dry-run", action="store_true", help="only say what would go")
    old.set_defaults(command=_run, parser=old, action="expire")
    tidy = actions.add_parser("clean", help="remove leftover temporary and spool files")
    tidy.add_argument("--dry-run", action="store_true", help="only say what would go")
    tidy.set_defaults(command=_run, parser=tidy, action="clean")


def _run(args) -> int:
    from limconn import settings

    home = settings.home()
    if args.action == "status":
        lines = status(home, Limits.from_env())
    elif not home.is_dir():
        raise ValueError(f"LIMCONN_HOME is not a folder. Received: {str(home)!r}")
    elif args.action == "expire":
        lines = expire(home, parse_duration(args.older_than), args.dry_run)
    else:
        lines = clean(home, args.dry_run)
    print("\n".join(lines))
    return 0
