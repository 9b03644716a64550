"""Private workspaces on a shared server: ids only the server can issue, and what each
workspace keeps on disk (its designs and its settings) so that nothing is lost on a reload,
in a second tab, or after a server restart.

A workspace id is either

* **anonymous**: `<16 random hex>-<16 hex of an HMAC>` issued by `WorkspaceKeys.issue` and
  kept in the page URL. `WorkspaceKeys.verify` accepts only ids this server's secret signed,
  so an id cannot be guessed or made up (`?workspace=default` is refused), or
* **a signed-in user's**: `u-<24 hex of an HMAC of the identity>`, derived from the OIDC
  issuer and subject by `WorkspaceKeys.for_user`; never shown in a URL.

An id is a credential, so it is never a folder name and never written in clear: a workspace's
folders are named by a keyed hash of its id (`folder_name`). On disk, under `$LIMCONN_HOME`:

```
workspaces/<hash>/designs/index.json   names in order, the current one, their files
workspaces/<hash>/designs/<hex>.npz    one design each, as Connectivity.save writes it
workspaces/<hash>/settings.json        what a page remembers (e.g. the Train page's choices)
workspaces/<hash>/uploads/index.json   kept data files (`UploadStore`): names, their files
workspaces/<hash>/uploads/<hex>/<name> one kept upload's file(s), under a safe version of
                                       the name it was uploaded with
runs/<hash>/<run id>/                  the workspace's runs (`limconn.runs.RunStore`)
```

Everything under the home is the server user's alone: folders 0700, files 0600
(`prepare_home` sets the process umask; `write_atomically` and `private_folder` set modes
themselves). Homes laid out by earlier versions, one folder per id, are renamed at start-up.

Every write is atomic (a temporary file, fsync, then `os.replace`) and every
read-modify-write of an index holds a file lock, so two tabs of one workspace never lose each
other's changes, and a full disk leaves what was saved before as it was.

No Streamlit here; `limconn.ui.state` uses this module for the app.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

from limconn.connectivity import Connectivity
from limconn.diskio import locked as _locked
from limconn.diskio import (
    private_folder,
    temporary_sibling,
    write_atomically,
    write_new_file,
)

SECRET_FILE = "secret"
MIN_SECRET_BYTES = 16
_ID_BYTES = 8
_SIGNATURE_HEX = 16
_FOLDER_HEX = 32
_ID_NAMED = re.compile(r"[0-9a-f]{16}-[0-9a-f]{16}|u-[0-9a-f]{24}")
"""Folder names of earlier versions: an anonymous or a signed-in user's workspace id."""


def read_or_create_secret(home: str | os.PathLike) -> bytes:
    """The server's signing secret: `$LIMCONN_SECRET` if set, else a random 32-byte key kept
    in `<home>/secret` (created on first use, atomically, readable by the owner only), so that
    issued ids stay valid across restarts.

    Raises:
        ValueError: if `$LIMCONN_SECRET` or the secret file holds fewer than 16 bytes (empty
            included); the message names the variable or the file.
    """
    if "LIMCONN_SECRET" in os.environ:
        return _long_enough(os.environ["LIMCONN_SECRET"].encode(), "LIMCONN_SECRET")
    path = Path(home) / SECRET_FILE
    if not path.exists():
        private_folder(path.parent)
        temporary = temporary_sibling(path)
        try:
            write_new_file(temporary, secrets.token_bytes(32))
            os.link(temporary, path)  # atomic, and refuses if another process made one first
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return _long_enough(path.read_bytes(), f"The secret file {path}")


def _long_enough(secret: bytes, what: str) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{what} must hold at least {MIN_SECRET_BYTES} bytes. "
                         f"Received: {len(secret)} bytes.")
    return secret


class WorkspaceKeys:
    """Issues and checks workspace ids with an HMAC of the server's secret.

    Args:
        secret: the server's key (`read_or_create_secret`).

    Example:

    >>> keys = WorkspaceKeys(b"0123456789abcdef")
    >>> workspace = keys.issue()
    >>> keys.verify(workspace) == workspace, keys.verify("default")
    (True, None)
    """

    def __init__(self, secret: bytes):
        self._secret = secret

    def _signature(self, text: str) -> str:
        digest = hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()
        return digest[:_SIGNATURE_HEX]

    def issue(self) -> str:
        """A new anonymous workspace id."""
        nonce = secrets.token_hex(_ID_BYTES)
        return f"{nonce}-{self._signature('anonymous:' + nonce)}"

    def verify(self, text: object) -> str | None:
        """`text` if it is an id this server issued, else `None`."""
        if not isinstance(text, str) or len(text) != 2 * _ID_BYTES + 1 + _SIGNATURE_HEX:
            return None
        nonce, _, signature = text.partition("-")
        if len(nonce) != 2 * _ID_BYTES or not all(c in "0123456789abcdef" for c in nonce):
            return None
        expected = self._signature("anonymous:" + nonce)
        # Bytes: compare_digest raises TypeError on a non-ASCII str.
        return text if hmac.compare_digest(signature.encode(), expected.encode()) else None

    def for_user(self, issuer: str, subject: str | None) -> str:
        """The workspace of a signed-in user, the same on every visit and every server
        sharing the secret.

        Raises:
            ValueError: if `subject` is empty: users without one must not share a workspace.
        """
        if not isinstance(subject, str) or not subject:
            raise ValueError("A signed-in user needs a subject (the provider's `sub`, or an "
                             f"email) to have a workspace. Received: {subject!r}")
        return "u-" + hmac.new(
            self._secret, f"user:{issuer}\n{subject}".encode(), hashlib.sha256
        ).hexdigest()[:24]


def folder_name(home: str | os.PathLike, workspace: str) -> str:
    """The name of a workspace's folders (in `workspaces/` and in the run store): a keyed hash
    of its id with the server's secret, so a listing of the home reveals no id.

    Raises:
        ValueError: if `workspace` is not a safe name (`limconn.runs.check_name`).
    """
    from limconn.runs import check_name

    check_name(workspace, "workspace")
    key = _folder_key(str(home), os.environ.get("LIMCONN_SECRET"))
    digest = hmac.new(key, f"folder:{workspace}".encode(), hashlib.sha256).hexdigest()
    return digest[:_FOLDER_HEX]


@functools.lru_cache(maxsize=8)
def _folder_key(home: str, configured: str | None) -> bytes:
    """The secret, read once per home and `$LIMCONN_SECRET` value."""
    return read_or_create_secret(home)


def workspace_folder(home: str | os.PathLike, workspace: str) -> Path:
    """`<home>/workspaces/<folder_name(home, workspace)>`: the one place an id becomes a
    folder."""
    return Path(home) / "workspaces" / folder_name(home, workspace)


def prepare_home(home: str | os.PathLike) -> int:
    """Readies the server's home at start-up, before anything is written.

    Makes this process (and the job workers it starts, which inherit it) create files for
    its user alone (umask 0077), closes the home and everything in it to other users
    (folders 0700, files 0600), and renames the folders of earlier versions, named by a
    workspace id, to `folder_name`, dropping the id from their job records and `run.json`.
    Nothing is deleted. Returns how many folders were renamed.
    """
    home = Path(home)
    os.umask(0o077)
    private_folder(home)
    renamed = 0
    for place in (home / "workspaces", home / "runs"):
        for old in sorted(place.iterdir()) if place.is_dir() else ():
            new = place / folder_name(home, old.name) if _ID_NAMED.fullmatch(old.name) else old
            if new != old and not new.exists():
                os.rename(old, new)
                renamed += 1
                _forget_id(new)
    for root, _, files in os.walk(home):
        os.chmod(root, 0o700)
        for name in files:
            os.chmod(Path(root) / name, 0o600)
    return renamed


def _forget_id(folder: Path) -> None:
    """Rewrites the records in a renamed workspace folder without the id in clear: job
    records lose their `workspace`, a run's `run.json` names the folder instead."""
    for path in [*folder.glob("jobs/*.json"), *folder.glob("*/run.json")]:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and "workspace" in record:
            if path.name == "run.json":
                record["workspace"] = folder.name
            else:
                del record["workspace"]
            write_atomically(path, json.dumps(record, indent=1, allow_nan=True).encode())


class DesignStore:
    """The designs of one workspace, on disk, in the order they were made, with a current one.

    Every method reads the index from disk, so what another tab or process wrote is seen;
    `put`, `rename` and `remove` hold the workspace's lock while they change it. A damaged
    index is renamed aside, never overwritten, and `problem` says so.

    Args:
        folder: the workspace's folder (`workspace_folder(home, id)`).
        max_designs: the most designs kept (`Limits.max_designs`); `put` of a new name
            beyond it raises.

    Example:

    >>> store = DesignStore(workspace_folder("/tmp/lc", keys.issue()))  # doctest: +SKIP
    >>> store.put("design 1", presets.dense(2, 8)); store.names()  # doctest: +SKIP
    ['design 1']
    """

    INDEX = "index.json"

    def __init__(self, folder: str | os.PathLike, max_designs: int | None = None):
        self.folder = Path(folder) / "designs"
        self.max_designs = max_designs
        self._cache: dict[str, tuple[tuple[int, int], Connectivity]] = {}
        self.problem = ""

    def _index(self) -> dict:
        """The index; an unreadable one is set aside (renamed, kept) and noted in `problem`."""
        path = self.folder / self.INDEX
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            index = {"designs": []}
        except (OSError, ValueError) as error:
            index = None
            self._set_aside(path, f"it could not be read ({type(error).__name__})")
        if index is not None and not _well_formed(index):
            index = None
            self._set_aside(path, "it does not list designs")
        return index or {"designs": [], "current": None}

    def _set_aside(self, path: Path, why: str) -> None:
        kept = path.with_name(f"{self.INDEX}.corrupt-{secrets.token_hex(4)}")
        with contextlib.suppress(FileNotFoundError):  # another tab set it aside first
            os.rename(path, kept)
        self.problem = (f"This workspace's list of designs was damaged ({why}); it was kept "
                        f"aside as {kept.name} for the server's admin, and a new list begun.")

    def _write_index(self, index: dict) -> None:
        write_atomically(self.folder / self.INDEX, json.dumps(index, indent=1).encode())

    def names(self) -> list[str]:
        return [entry["name"] for entry in self._index()["designs"]]

    def current(self) -> str | None:
        index = self._index()
        names = [entry["name"] for entry in index["designs"]]
        return index.get("current") if index.get("current") in names else (names or [None])[0]

    def load_all(self) -> dict[str, Connectivity]:
        """Every readable design by name, in order; an unreadable file is skipped."""
        designs = {}
        for entry in self._index()["designs"]:
            path = self.folder / entry["file"]
            try:
                stat = path.stat()
                key = (stat.st_mtime_ns, stat.st_size)
                cached = self._cache.get(entry["file"])
                if cached is None or cached[0] != key:
                    cached = (key, Connectivity.load(path))
                    self._cache[entry["file"]] = cached
                designs[entry["name"]] = cached[1]
            except (OSError, ValueError):
                continue
        return designs

    def put(self, name: str, design: Connectivity, *, make_current: bool = True) -> None:
        """Saves `design` under `name` (replacing a design of that name).

        Raises:
            ValueError: for an empty name, or a new name beyond `max_designs`.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A design's name must be non-empty text. Received: {name!r}")
        with _locked(self.folder):
            index = self._index()
            entries = index["designs"]
            entry = next((e for e in entries if e["name"] == name), None)
            if entry is None:
                if self.max_designs is not None and len(entries) >= self.max_designs:
                    raise ValueError(
                        f"This server keeps at most {self.max_designs} designs per workspace; "
                        "delete one first."
                    )
                entry = {"name": name, "file": f"{secrets.token_hex(8)}.npz"}
                entries.append(entry)
                new_file = self.folder / entry["file"]
            else:
                new_file = None
            write_atomically(self.folder / entry["file"], design.to_npz_bytes())
            if make_current:
                index["current"] = name
            try:
                self._write_index(index)
            except OSError:
                if new_file is not None:  # no file the index does not list
                    new_file.unlink(missing_ok=True)
                raise

    def set_current(self, name: str) -> None:
        with _locked(self.folder):
            index = self._index()
            if name in [entry["name"] for entry in index["designs"]]:
                index["current"] = name
                self._write_index(index)

    def rename(self, old: str, new: str) -> None:
        """Renames a design in place, keeping the order.

        Raises:
            ValueError: if `new` is empty or taken, or `old` does not exist.
        """
        new = new.strip() if isinstance(new, str) else ""
        with _locked(self.folder):
            index = self._index()
            names = [entry["name"] for entry in index["designs"]]
            if not new or (new in names and new != old) or old not in names:
                raise ValueError(
                    f"Choose a name that is not empty and not taken. Received: {new!r}"
                )
            for entry in index["designs"]:
                if entry["name"] == old:
                    entry["name"] = new
            if index.get("current") == old:
                index["current"] = new
            self._write_index(index)

    def remove(self, name: str) -> None:
        """Deletes a design; the last one is kept (a workspace always has one)."""
        with _locked(self.folder):
            index = self._index()
            entries = index["designs"]
            if len(entries) <= 1:
                return
            for entry in [e for e in entries if e["name"] == name]:
                entries.remove(entry)
                (self.folder / entry["file"]).unlink(missing_ok=True)
            if index.get("current") == name:
                index["current"] = entries[0]["name"]
            self._write_index(index)


def _well_formed(index: object) -> bool:
    return isinstance(index, dict) and isinstance(index.get("designs"), list) and all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str)
        and isinstance(entry.get("file"), str) for entry in index["designs"])


class UploadStore:
    """The data files a workspace uploaded, kept so a reload or a new tab need not ask again.

    An entry is one dataset: one file (a CSV, an `.npz`), or two (`X.npy` and `y.npy`), under
    the name of its first file; keeping a name again replaces that entry. Each file was
    checked by its loader before it is kept, and is read back through the same loaders.

    Args:
        folder: the workspace's folder.
        max_entries: the most entries kept (`Limits.max_kept_uploads`); each file is at most
            `Limits.max_upload_mb`, so a workspace keeps at most their product.
    """

    INDEX = "index.json"

    def __init__(self, folder: str | os.PathLike, max_entries: int):
        self.folder = Path(folder) / "uploads"
        self.max_entries = max_entries

    def _index(self) -> list[dict]:
        try:
            index = json.loads((self.folder / self.INDEX).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        entries = index.get("uploads") if isinstance(index, dict) else None
        return [entry for entry in entries or [] if isinstance(entry, dict)
                and isinstance(entry.get("name"), str) and isinstance(entry.get("files"), list)
                and all(isinstance(name, str) for name in entry["files"])]

    def names(self) -> list[str]:
        """The kept entries' names, oldest first."""
        return [entry["name"] for entry in self._index()]

    def paths(self, name: str) -> list[Path]:
        """The files of entry `name`, in the order they were kept.

        Raises:
            ValueError: if there is no such entry.
        """
        for entry in self._index():
            if entry["name"] == name:
                return [self.folder / file for file in entry["files"]]
        raise ValueError(f"No kept upload is named {name!r}.")

    def put(self, files: list[tuple[str, bytes]]) -> str:
        """Keeps one dataset's files (name, bytes), replacing an entry of the same name;
        returns the entry's name (the first file's).

        Raises:
            ValueError: if the workspace keeps `max_entries` others already.
            OSError: if the disk refused; the index then lists what it listed before.
        """
        name = files[0][0]
        with _locked(self.folder):
            entries = self._index()
            old = next((entry for entry in entries if entry["name"] == name), None)
            if old is None and len(entries) >= self.max_entries:
                raise ValueError(
                    f"This server keeps at most {self.max_entries} uploaded data files per "
                    f"workspace; delete one first. Received: {name!r}")
            folder = private_folder(self.folder / secrets.token_hex(8))
            kept = []
            for file_name, data in files:
                write_atomically(folder / _safe_file_name(file_name), data)
                kept.append(f"{folder.name}/{_safe_file_name(file_name)}")
            entries = [entry for entry in entries if entry is not old]
            entries.append({"name": name, "files": kept})
            self._write(entries)
        if old is not None:
            self._remove_files(old)
        return name

    def remove(self, name: str) -> None:
        """Deletes entry `name` and its files (one already gone is not an error)."""
        with _locked(self.folder):
            entries = self._index()
            doomed = [entry for entry in entries if entry["name"] == name]
            self._write([entry for entry in entries if entry["name"] != name])
        for entry in doomed:
            self._remove_files(entry)

    def _write(self, entries: list[dict]) -> None:
        write_atomically(self.folder / self.INDEX, json.dumps({"uploads": entries}).encode())

    def _remove_files(self, entry: dict) -> None:
        for file in entry["files"]:
            (self.folder / file).unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # the entry's folder, once empty
                (self.folder / file).parent.rmdir()


def _safe_file_name(name: str) -> str:
    """A file name made of letters, digits, `.`, `_` and `-` that keeps `name`'s extension
    (the loaders go by it); never hidden, never a path."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(str(name)).name)[-100:].lstrip(".-_")
    return safe or "upload"


class SettingsStore:
    """Small JSON settings of one workspace (what pages remember), one section per page.

    Args:
        folder: the workspace's folder.
    """

    FILE = "settings.json"

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def read(self, section: str) -> dict:
        """The section's settings, `{}` when none were saved or the file is unreadable."""
        try:
            values = json.loads((self.folder / self.FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        found = values.get(section) if isinstance(values, dict) else None
        return found if isinstance(found, dict) else {}

    def write(self, section: str, values: dict) -> None:
        """Replaces one section (plain JSON values), keeping the others."""
        with _locked(self.folder):
            try:
                everything = json.loads((self.folder / self.FILE).read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                everything = {}
            if not isinstance(everything, dict):
                everything = {}
            everything[section] = values
            write_atomically(self.folder / self.FILE, json.dumps(everything, indent=1).encode())
