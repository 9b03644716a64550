"""Process-wide resources of the server: one run store and one bounded job queue.

`LIMCONN_MAX_JOBS` (default 2) bounds how many runs train at once on the server; the per-run
limits come from `LIMCONN_MAX_UNITS`, `LIMCONN_MAX_EPOCHS`, `LIMCONN_MAX_SAMPLES` and
`LIMCONN_MAX_SECONDS`.
"""

from __future__ import annotations

import os

import streamlit as st

from limconn.jobs import JobQueue
from limconn.runs import RunStore
from limconn.training import Limits


def _env_number(name: str, default, kind=int):
    value = os.environ.get(name)
    return default if value in (None, "") else kind(value)


@st.cache_resource
def run_store() -> RunStore:
    return RunStore()


@st.cache_resource(on_release=JobQueue.close)
def job_queue() -> JobQueue:
    limits = Limits(
        max_units=_env_number("LIMCONN_MAX_UNITS", 256),
        max_epochs=_env_number("LIMCONN_MAX_EPOCHS", 200),
        max_samples=_env_number("LIMCONN_MAX_SAMPLES", 200_000),
        max_seconds=_env_number("LIMCONN_MAX_SECONDS", 600.0, float),
    )
    return JobQueue(_env_number("LIMCONN_MAX_JOBS", 2), limits=limits, store=run_store())
