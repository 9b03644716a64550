"""Analyze: what a masked network learned: state trajectories with their fixed points,
eigenvalues per gate, which units matter (lesions) beside the design, which inputs drive
the output (attributions), and the dynamics of several runs in one table.

The analyses run in the job queue's workers (`JobQueue.submit_analysis`) and are cached in
each run's folder (`limconn.run_results.cached_analysis`): this page reads them with NumPy
alone, and opening a run a second time computes nothing.
"""

import pandas as pd
import streamlit as st

from limconn import analysis_plots, compare
from limconn.analysis import analyses_for
from limconn.jobs import FAILED, TERMINAL, WATCH_SECONDS
from limconn.plots import connectivity_graph
from limconn.run_results import cached_analysis, cached_summary, dataset_key, held_out_part
from limconn.ui import resources, state
from limconn.ui.forms import stored_runs, task_data
from limconn.ui.frame import page_frame
from limconn.ui.text import plain, reported

JOB, ERROR = "analyze.job", "analyze.error"
TASK = "analyze.task"


def analysis_data(run, limits):
    """The data to analyze `run` on: a task (the run's own first, with the parameters the
    workspace last trained with), then the run's held-out part of it when it is the run's
    own data (`held_out_part`). Returns the dataset and the line saying which it is."""
    if st.session_state.get(f"{TASK}.for") != run.info.id:  # a new run: its own task again
        st.session_state[f"{TASK}.for"] = run.info.id
        st.session_state.pop(TASK, None)
        for key, value in state.remembered("train").items():
            if key.startswith("train.task."):
                st.session_state[TASK + key.removeprefix("train.task")] = value
    dataset = task_data(TASK, limits, task=run.info.dataset)
    return (None, "") if dataset is None else held_out_part(run, dataset)


def readable(read, run_folder, key: str):
    """What `read` (`cached_analysis`, `cached_summary`) finds, or `None` with a warning
    when the cache is broken (analyzing again replaces it)."""
    try:
        return read(run_folder, key)
    except ValueError as error:
        st.warning(f"{plain(error)}; analyze again to replace it.")
        return None


def submit(run_ids, dataset, workspace: str, what) -> None:
    with reported():
        st.session_state[JOB] = resources.job_queue().submit_analysis(
            run_ids, dataset, workspace, what)


def job_status() -> None:
    """The analysis job's progress (a fragment while it is pending); once it ends, the
    page reruns and shows what it cached (or its error)."""
    job = st.session_state.get(JOB)
    if job is None:
        return
    if job.status not in TERMINAL:
        snapshot = job.snapshot()
        place = f", {snapshot.position} in line" if snapshot.position else ""
        stages = [f"{run.name}: {run.latest['stage']}" for run in snapshot.runs
                  if run.latest and "stage" in run.latest]
        st.info(f"Analyzing {len(job.names)} run(s) in a worker ({snapshot.status}{place})"
                + (f"; {plain(stages[-1])}" if stages else "") + "…")
        return
    del st.session_state[JOB]
    if job.status == FAILED:
        st.session_state[ERROR] = job.snapshot().error
    st.rerun()


def show_analysis(run, result, dataset) -> None:
    """The figures of one run's analysis, each where its analysis ran (the array keys are
    listed in `limconn.analysis`' docstring)."""
    arrays, summary = result.arrays, result.summary
    if "pca/trajectories" in arrays:
        st.subheader("Trajectories and fixed points")
        projected = arrays["pca/trajectories"]
        dims = 3 if projected.shape[2] >= 3 and st.toggle(
            "3 principal components", key="analyze.3d") else 2
        conditions, names = analysis_plots.target_conditions(
            arrays["trajectories/targets"], projected.shape[1], arrays.get("trajectories/weights"))
        found = summary.get("fixed_points")
        st.plotly_chart(analysis_plots.trajectory_figure(
            projected, conditions, names, fixed_points=arrays.get("fixed_points/pca"),
            stable=arrays.get("fixed_points/stable"),
            explained=arrays["pca/explained_variance_ratio"].tolist(), dims=dims),
            key="analyze.trajectories")
        points = "" if found is None else (
            f"; {found['stable']} stable fixed point(s) (filled) of {found['found']} found "
            "under zero input (unstable ones hollow)")
        st.caption(f"Hidden states of {summary['samples']} sequences, coloured by the target "
                   f"at each step{points}.")
    if "spectrum/eigenvalues" in arrays:
        st.subheader("Eigenvalues of the recurrent weights")
        eigenvalues, signs = analysis_plots.eigenvalues_by_sign(
            arrays["spectrum/eigenvalues"], run.weights["recurrent_kernel"],
            arrays["spectrum/unit_sign"])
        gates = arrays["spectrum/gates"].tolist()
        st.plotly_chart(analysis_plots.eigenvalue_figure(
            dict(zip(gates, eigenvalues, strict=True)),
            None if signs is None else dict(zip(gates, signs, strict=True))),
            key="analyze.eigenvalues")
    if "lesions/delta_loss" in arrays:
        st.subheader("Lesions: which units matter")
        bars, design = st.columns(2)
        bars.plotly_chart(analysis_plots.lesion_bars(
            arrays["lesions/delta_loss"], summary["test_loss"], compare.LESION_COST,
            [f"unit {unit}" for unit in arrays["lesions/units"].tolist()]),
            key="analyze.lesions")
        design.plotly_chart(connectivity_graph(run.connectivity), key="analyze.design")
    if "attributions/values" in arrays:
        st.subheader("Attributions: which inputs drive the output")
        attributions = arrays["attributions/values"]
        sequence = int(st.number_input("Sequence", 0, len(attributions) - 1, 0,
                                       key="analyze.sequence"))
        output = int(arrays["attributions/target"][sequence])
        st.plotly_chart(analysis_plots.attribution_heatmap(
            attributions[sequence], dataset.feature_names,
            f"sequence {sequence}: integrated gradients of output {output} at step "
            f"{summary['attribution_step']}"), key="analyze.attributions")
        st.caption("Completeness error (attributions' sum vs. the output's change from a "
                   f"zero input): {summary['attribution_completeness_error']:.2%}.")


def across_masks(by_id, colours, key: str, dataset, workspace: str, what) -> None:
    """Several runs' analyses on this data in one table, in Compare's colours; a button
    analyzes those that have none yet."""
    st.subheader("Across masks")
    chosen = st.multiselect(
        "Runs", list(by_id), default=list(by_id)[:1], key="analyze.runs",
        format_func=lambda run_id: f"{compare.run_label(by_id[run_id])} · {run_id[-6:]}")
    rows, missing = [], []
    for run_id in chosen:
        summary = readable(cached_summary, by_id[run_id].path, key)
        if summary is None:
            missing.append(run_id)
        else:
            rows.append(compare.analysis_row(by_id[run_id], summary))
    if rows:
        st.dataframe(compare.coloured_by_run(pd.DataFrame(rows), colours), hide_index=True,
                     key="analyze.table")
    if missing and st.button(f"Analyze the {len(missing)} run(s) not yet analyzed on this "
                             "data", disabled=JOB in st.session_state, key="analyze.missing"):
        submit(missing, dataset, workspace, what)
        st.rerun()


workspace = page_frame("Analyze")
st.title("Analyze")
store = resources.run_store()
runs = stored_runs(
    store, workspace,
    "No runs yet. Train a design on the Train page, then analyze what it learned here.")
by_id = {info.id: info for info in runs}
colours = compare.run_colours(runs)
run_id = st.selectbox("Run", list(by_id), key="analyze.run",
                      format_func=lambda run_id: f"{compare.run_label(by_id[run_id])} · "
                                                 f"{run_id[-6:]}")
try:
    run = store.load(run_id, workspace)
except ValueError as error:
    st.error(plain(error))
    st.stop()
dataset, note = analysis_data(run, resources.settings().limits)
if dataset is None:
    st.stop()
st.caption(f"Analyzed on {note}.")
meaningful = analyses_for(run.info.strategy)
what = st.multiselect("Analyses", meaningful, default=meaningful,
                      key=f"analyze.what.{run.info.strategy}")
key = dataset_key(dataset)
result = readable(cached_analysis, run.info.path, key)
pending = JOB in st.session_state
if st.button("Analyze" if result is None else "Analyze again", type="primary",
             disabled=pending or not what, key="analyze.go"):
    submit([run_id], dataset, workspace, what)
    pending = JOB in st.session_state
st.fragment(run_every=WATCH_SECONDS["training"] if pending else None)(job_status)()
if ERROR in st.session_state:
    st.error(plain(st.session_state.pop(ERROR)))
if result is None:
    st.caption("Not analyzed on this data yet: press Analyze (it runs in a worker and is "
               "kept with the run).")
else:
    show_analysis(run, result, dataset)
across_masks(by_id, colours, key, dataset, workspace, what)
