"""Process-wide resources of the server: its settings, the workspace keys, one run store and
one bounded job queue, each created once (`st.cache_resource`) and shared by every session.

Every operator setting comes from `limconn.settings.ServerSettings.from_env()` (see the
README's "Hosting for a lab"); a bad value stops the app at start-up with its message.
"""

from __future__ import annotations

import functools

import streamlit as st

from limconn.capacity import MB, DatasetCache, NewWorkspaces
from limconn.runs import RunStore
from limconn.settings import ServerSettings
from limconn.workspaces import WorkspaceKeys, folder_name, prepare_home, read_or_create_secret


@st.cache_resource
def settings() -> ServerSettings:
    """The operator's settings, read once from the environment; the home is readied then
    (`limconn.workspaces.prepare_home`: private modes, folders of earlier versions renamed),
    and a missing or bad secret stops the app with its message."""
    found = ServerSettings.from_env()
    read_or_create_secret(found.home)
    prepare_home(found.home)
    return found


@st.cache_resource
def workspace_keys() -> WorkspaceKeys:
    return WorkspaceKeys(read_or_create_secret(settings().home))


@st.cache_resource
def new_workspaces() -> NewWorkspaces:
    """Counts the anonymous workspaces this server opens (`max_new_workspaces_per_hour`)."""
    return NewWorkspaces(settings().limits.max_new_workspaces_per_hour)


@st.cache_resource
def datasets() -> DatasetCache:
    """Datasets made or parsed for any visitor, kept across reruns up to
    `max_cached_data_mb`: an upload is parsed once, not on every rerun."""
    return DatasetCache(settings().limits.max_cached_data_mb * MB)


@st.cache_resource
def run_store() -> RunStore:
    home = settings().home
    return RunStore(home / "runs", folder_name=functools.partial(folder_name, home))


def _close_queue(queue) -> None:
    queue.close()


@st.cache_resource(on_release=_close_queue)
def job_queue():
    """The server's job queue; its worker processes start with the first job."""
    from limconn.jobs import JobQueue

    return JobQueue(
        limits=settings().limits, store=run_store(), home=settings().home,
        ray_address=settings().ray_address,
    )
