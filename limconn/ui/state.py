"""The app's state in one place: this visitor's workspace, its designs and what pages remember.

Designs and settings live on disk per workspace (`limconn.workspaces`), not in the browser
session, so a reload, a second tab or a server restart finds them again. Only what belongs to
one browser tab (the design being shown, the data's feature count) stays in
`st.session_state`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import streamlit as st

from limconn import presets
from limconn.connectivity import Connectivity
from limconn.ui import resources
from limconn.workspaces import DesignStore, SettingsStore, UploadStore, workspace_folder

WORKSPACE = "limconn.workspace"
DATA_INPUTS = "limconn.data_inputs"
DEFAULT_INPUTS, DEFAULT_UNITS = 2, 16


def auth_configured() -> bool:
    """Whether `[auth]` is set in `.streamlit/secrets.toml`, so `st.login` works."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def signed_in() -> bool:
    return auth_configured() and bool(st.user.is_logged_in)


def workspace() -> str:
    """This visitor's workspace: the signed-in user's, or an anonymous id the server issued,
    kept in the URL (`?workspace=`) so reloads and links find it. An id this server did not
    issue is refused and a new workspace opened. When anonymous visitors are not allowed,
    asks to sign in and stops the page."""
    keys = resources.workspace_keys()
    if signed_in():
        subject = st.user.get("sub") or st.user.get("email")
        try:
            workspace_id = keys.for_user(str(st.user.get("iss", "")),
                                         str(subject) if subject else None)
        except ValueError:
            st.error("Your sign-in told this server neither who you are (a subject) nor your "
                     "email, so it cannot keep a workspace for you. Sign in another way, or "
                     "ask the server's admin.")
            st.button("Sign out", on_click=st.logout)
            st.stop()
        st.session_state[WORKSPACE] = workspace_id
        return workspace_id
    if not resources.settings().allow_anonymous:
        st.title("limconn")
        st.info("This server keeps each researcher's designs and runs private: please sign in.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    from_url = st.query_params.get("workspace")
    workspace_id = st.session_state.get(WORKSPACE) or keys.verify(from_url)
    if workspace_id is None:
        if from_url:
            st.toast("That workspace link is not valid on this server; a new workspace was "
                     "opened for you.")
        try:
            resources.new_workspaces().admit()
        except ValueError as error:
            st.error(str(error))
            st.stop()
        workspace_id = keys.issue()
    st.session_state[WORKSPACE] = workspace_id
    if from_url != workspace_id:
        st.query_params["workspace"] = workspace_id
    return workspace_id


def _folder():
    return workspace_folder(resources.settings().home, workspace())


def design_store() -> DesignStore:
    key = ("limconn.design_store", workspace())
    if key not in st.session_state:
        st.session_state[key] = DesignStore(_folder(), resources.settings().limits.max_designs)
    return st.session_state[key]


def upload_store() -> UploadStore:
    """The workspace's kept data files (`limconn.workspaces.UploadStore`)."""
    return UploadStore(_folder(), resources.settings().limits.max_kept_uploads)


@contextlib.contextmanager
def saving() -> Iterator[None]:
    """Turns a write the disk refused (e.g. full) into the `ValueError` pages show: one plain
    line, no server path. The library's writes are atomic, so what was saved stays."""
    try:
        yield
    except OSError as error:
        raise ValueError(f"The server could not save this ({error.strerror or 'write failed'}"
                         "); what was saved before is kept.") from error


def designs() -> dict[str, Connectivity]:
    """Kept designs by name, in the order they were made; a new workspace starts with one.
    A damaged list of designs is reported here once (`DesignStore.problem`)."""
    store = design_store()
    kept = store.load_all()
    if store.problem:
        st.warning(store.problem)
        store.problem = ""
    if not kept:
        put("design 1", presets.random(DEFAULT_INPUTS, DEFAULT_UNITS, density=0.5, seed=0))
        kept = design_store().load_all()
    return kept


def current_name() -> str:
    kept = designs()
    name = design_store().current()
    return name if name in kept else next(iter(kept))


def current() -> Connectivity:
    return designs()[current_name()]


def select(name: str) -> None:
    with saving():
        design_store().set_current(name)


def put(name: str, design: Connectivity) -> None:
    """Stores `design` under `name` (its metadata name follows) and makes it current.

    Raises:
        ValueError: beyond the server's design limit, or if the disk refused (`saving`).
    """
    with saving():
        design_store().put(name, design.replace(metadata={**design.metadata, "name": name}))


def rename(old: str, new: str) -> None:
    """Renames a kept design, its metadata name too.

    Raises:
        ValueError: if `new` is empty or already taken, or the disk refused (`saving`).
    """
    store = design_store()
    with saving():
        store.rename(old, new)
        new = new.strip()
        design = store.load_all()[new]
        store.put(new, design.replace(metadata={**design.metadata, "name": new}))


def remove(name: str) -> None:
    with saving():
        design_store().remove(name)


def new_name(prefix: str = "design") -> str:
    kept = designs()
    number = len(kept) + 1
    while f"{prefix} {number}" in kept:
        number += 1
    return f"{prefix} {number}"


def file_name(name: str, suffix: str) -> str:
    """A download file name from a design or run name: no spaces or path characters."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "design"
    return f"{stem}{suffix}"


def remembered(section: str) -> dict:
    """What a page saved for this workspace (`remember`), `{}` at first."""
    return SettingsStore(_folder()).read(section)


def remember(section: str, values: dict) -> None:
    """Saves a page's choices (plain JSON values) for this workspace, if they changed.

    Raises:
        ValueError: if the disk refused (`saving`).
    """
    if remembered(section) != values:
        with saving():
            SettingsStore(_folder()).write(section, values)
