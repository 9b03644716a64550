"""Form fields generated from a registry entry's parameters (presets, tasks, strategies), a
synthetic task chosen with its parameters, and a button that asks before it destroys
anything."""

from __future__ import annotations

import streamlit as st

from limconn import data
from limconn.registry import Entry
from limconn.ui import resources
from limconn.ui.text import plain, reported


def parameter_inputs(entry: Entry, key: str, columns: int = 3) -> dict:
    """One input per parameter of `entry`, laid out in columns; returns name → value."""
    values = {}
    if not entry.parameters:
        return values
    cells = st.columns(min(columns, len(entry.parameters)))
    for index, parameter in enumerate(entry.parameters):
        widget_key = f"{key}.{entry.name}.{parameter.name}"
        with cells[index % len(cells)]:
            if parameter.kind is bool:
                values[parameter.name] = st.checkbox(
                    parameter.name, value=parameter.default, key=widget_key, help=parameter.help
                )
            elif parameter.kind is int:
                values[parameter.name] = st.number_input(
                    parameter.name, value=parameter.default, step=1, key=widget_key,
                    help=parameter.help,
                )
            elif parameter.kind is float:
                values[parameter.name] = st.number_input(
                    parameter.name, value=float(parameter.default), key=widget_key,
                    help=parameter.help, format="%g",
                )
            else:
                values[parameter.name] = st.text_input(
                    parameter.name, value=parameter.default, key=widget_key, help=parameter.help
                )
    return values


def task_data(key: str, limits, task: str | None = None) -> data.Dataset | None:
    """A synthetic task and its parameters, chosen under widget keys starting with `key`;
    the dataset, made once per choice (the server's dataset cache), or `None` with the
    error shown.

    Args:
        key: the task selectbox's key, and the prefix of its parameters' keys.
        limits: the operator's limits, checked before the data is made.
        task: the task chosen first (e.g. the one a run trained on); the first task when
            `None` or unknown.
    """
    tasks = data.TASKS.names()
    if task in tasks and key not in st.session_state:
        st.session_state[key] = task
    chosen = st.selectbox("Task", tasks, key=key)
    params = parameter_inputs(data.TASKS.get(chosen), key=key)
    with reported():
        return resources.datasets().get(
            ("task", chosen, tuple(sorted(params.items())), limits),
            lambda: data.make_task(chosen, limits=limits, **params))
    return None


def confirmed(label: str, question: str, key: str, container=None, **button) -> bool:
    """A button that asks first: a click shows `question` with "Yes" and "Cancel"; returns
    True on the run where "Yes" is clicked (and only then).

    Args:
        label: the button's label (e.g. "Delete").
        question: what the visitor confirms, shown as Markdown (pass names through `plain`).
        key: a unique widget key; the question's state lives under `key + ".asking"`.
        container: where the button goes (`st` when `None`); the question goes below it.
        button: more `st.button` arguments (`disabled`, `help`).
    """
    asking = f"{key}.asking"
    if (container or st).button(label, key=key, **button):
        st.session_state[asking] = True
    if not st.session_state.get(asking):
        return False
    st.warning(question)
    yes, no = st.columns(2)
    answer = yes.button("Yes", key=f"{key}.yes", type="primary")
    if answer or no.button("Cancel", key=f"{key}.cancel"):
        st.session_state[asking] = False
        if not answer:
            st.rerun()
    return answer


def stored_runs(store, workspace: str, when_empty: str) -> list:
    """The workspace's runs, each broken run folder a warning; with none, `when_empty` as
    an info and the script stops (Compare and Analyze start from the runs)."""
    runs = store.list(workspace)
    for folder, problem in store.problems:
        st.warning(f"Skipped a broken run folder {plain(folder.name)}: {plain(problem)}")
    if not runs:
        st.info(when_empty)
        st.stop()
    return runs
