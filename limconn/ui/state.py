"""The app's state in one place: kept designs, the current one, this visitor's workspace.

Designs live in `st.session_state` under keys of their own (not widget keys), so they
survive page switches; the painter is seeded from them on every run.
"""

from __future__ import annotations

import uuid

import streamlit as st

from limconn import presets
from limconn.connectivity import Connectivity

DESIGNS = "limconn.designs"
CURRENT = "limconn.current_design"
JOBS = "limconn.jobs"
WORKSPACE = "limconn.workspace"
DATA_INPUTS = "limconn.data_inputs"
DEFAULT_INPUTS, DEFAULT_UNITS = 2, 16


def designs() -> dict[str, Connectivity]:
    """Kept designs by name, in the order they were made; starts with one random design."""
    if DESIGNS not in st.session_state:
        st.session_state[DESIGNS] = {}
        put("design 1", presets.random(DEFAULT_INPUTS, DEFAULT_UNITS, density=0.5, seed=0))
    return st.session_state[DESIGNS]


def current_name() -> str:
    kept = designs()
    if st.session_state.get(CURRENT) not in kept:
        st.session_state[CURRENT] = next(iter(kept))
    return st.session_state[CURRENT]


def current() -> Connectivity:
    return designs()[current_name()]


def put(name: str, design: Connectivity) -> None:
    """Stores `design` under `name` (its metadata name follows) and makes it current."""
    designs()[name] = design.replace(metadata={**design.metadata, "name": name})
    st.session_state[CURRENT] = name


def rename(old: str, new: str) -> None:
    """Renames a kept design in place, keeping the order of the others.

    Raises:
        ValueError: if `new` is empty or already taken.
    """
    new = new.strip()
    kept = designs()
    if not new or (new in kept and new != old):
        raise ValueError(f"Choose a name that is not empty and not taken. Received: {new!r}")
    st.session_state[DESIGNS] = {
        (new if name == old else name): (
            design.replace(metadata={**design.metadata, "name": new}) if name == old else design
        )
        for name, design in kept.items()
    }
    st.session_state[CURRENT] = new


def remove(name: str) -> None:
    kept = designs()
    if len(kept) > 1:
        kept.pop(name, None)


def new_name(prefix: str = "design") -> str:
    kept = designs()
    number = len(kept) + 1
    while f"{prefix} {number}" in kept:
        number += 1
    return f"{prefix} {number}"


def workspace() -> str:
    """This visitor's workspace id: kept in the session and in the URL (`?workspace=`), so
    page switches and reloads find the same runs."""
    from_url = st.query_params.get("workspace", "")
    if not (from_url.isalnum() and 0 < len(from_url) <= 32):
        from_url = ""
    workspace_id = st.session_state.get(WORKSPACE) or from_url or uuid.uuid4().hex[:12]
    st.session_state[WORKSPACE] = workspace_id
    if from_url != workspace_id:
        st.query_params["workspace"] = workspace_id
    return workspace_id


def jobs() -> list:
    """The training jobs this session submitted, newest last."""
    return st.session_state.setdefault(JOBS, [])
