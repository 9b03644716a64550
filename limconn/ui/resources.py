"""Process-wide resources of the server: its limits, one run store and one bounded job queue.

Every limit comes from `limconn.settings.Limits.from_env()` (`LIMCONN_MAX_JOBS` bounds how
many runs train at once; see the README's "Hosting for a lab").
"""

from __future__ import annotations

import streamlit as st

from limconn.jobs import JobQueue
from limconn.runs import RunStore
from limconn.settings import Limits


@st.cache_resource
def limits() -> Limits:
    """The operator's limits, read once from the environment."""
    return Limits.from_env()


@st.cache_resource
def run_store() -> RunStore:
    return RunStore()


@st.cache_resource(on_release=JobQueue.close)
def job_queue() -> JobQueue:
    return JobQueue(limits().max_jobs, limits=limits(), store=run_store())
