"""Private workspaces on a shared server: ids only the server can issue, and what each
workspace keeps on disk (its designs and its settings) so that nothing is lost on a reload,
in a second tab, or after a server restart.

A workspace id is either

* **anonymous**: `<16 random hex>-<16 hex of an HMAC>` issued by `WorkspaceKeys.issue` and
  kept in the page URL. `WorkspaceKeys.verify` accepts only ids this server's secret signed,
  so an id cannot be guessed or made up (`?workspace=default` is refused), or
* **a signed-in user's**: `u-<24 hex of an HMAC of the identity>`, derived from the OIDC
  issuer and subject by `WorkspaceKeys.for_user`; never shown in a URL.

Both are safe folder names (`limconn.runs.check_name`). On disk, under `$LIMCONN_HOME`:

```
workspaces/<id>/designs/index.json     names in order, the current one, their files
workspaces/<id>/designs/<hash>.npz     one design each, as Connectivity.save writes it
workspaces/<id>/settings.json          what a page remembers (e.g. the Train page's choices)
```

Every write is atomic (a temporary file, then `os.replace`) and every read-modify-write of an
index holds a file lock, so two tabs of one workspace never lose each other's changes.

No Streamlit here; `limconn.ui.state` uses this module for the app.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from limconn.connectivity import Connectivity
from limconn.diskio import locked as _locked
from limconn.diskio import write_atomically

SECRET_FILE = "secret"
_ID_BYTES = 8
_SIGNATURE_HEX = 16


def read_or_create_secret(home: str | os.PathLike) -> bytes:
    """The server's signing secret: `$LIMCONN_SECRET` if set, else a random 32-byte key kept
    in `<home>/secret` (created on first use, readable by the owner only), so that issued
    ids stay valid across restarts.

    Raises:
        ValueError: if `$LIMCONN_SECRET` is set but shorter than 16 characters.
    """
    configured = os.environ.get("LIMCONN_SECRET", "")
    if configured:
        if len(configured) < 16:
            raise ValueError(
                "LIMCONN_SECRET must be at least 16 characters. "
                f"Received: {len(configured)} characters."
            )
        return configured.encode()
    path = Path(home) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(secrets.token_bytes(32))
    return path.read_bytes()


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
        return text if hmac.compare_digest(signature, expected) else None

    def for_user(self, issuer: str, subject: str) -> str:
        """The workspace of a signed-in user, the same on every visit and every server
        sharing the secret."""
        return "u-" + hmac.new(
            self._secret, f"user:{issuer}\n{subject}".encode(), hashlib.sha256
        ).hexdigest()[:24]


def workspace_folder(home: str | os.PathLike, workspace: str) -> Path:
    """`<home>/workspaces/<workspace>`, after checking the id is a safe folder name."""
    from limconn.runs import check_name

    return Path(home) / "workspaces" / check_name(workspace, "workspace")


class DesignStore:
    """The designs of one workspace, on disk, in the order they were made, with a current one.

    Every method reads the index from disk, so what another tab or process wrote is seen;
    `put`, `rename` and `remove` hold the workspace's lock while they change it.

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

    def _index(self) -> dict:
        try:
            index = json.loads((self.folder / self.INDEX).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"designs": [], "current": None}
        return index if isinstance(index, dict) and isinstance(index.get("designs"), list) else {
            "designs": [], "current": None}

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
            write_atomically(self.folder / entry["file"], design.to_npz_bytes())
            if make_current:
                index["current"] = name
            self._write_index(index)

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
