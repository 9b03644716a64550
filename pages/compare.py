"""Compare: runs side by side: loss curves, a summary table, learned weights, evaluation on
other data with the runs' outputs on a few sequences, downloads."""

import numpy as np
import pandas as pd
import streamlit as st

from limconn import compare, evaluation, export, pruning
from limconn.jobs import FAILED, TERMINAL, WATCH_SECONDS
from limconn.plots import Curve, loss_curves, sequence_preview, weight_heatmaps, weight_histograms
from limconn.run_results import dataset_key
from limconn.strategies import enforcement_of
from limconn.ui import resources, state
from limconn.ui.forms import confirmed, stored_runs, task_data
from limconn.ui.frame import page_frame
from limconn.ui.text import plain, reported


def manage_runs(store, workspace: str, infos) -> None:
    """Rename, tag, annotate or delete one run (deleting asks first)."""
    with st.expander("Manage runs: rename, tag, note, delete"):
        by_id = {info.id: info for info in infos}
        run_id = st.selectbox("Run", list(by_id), key="compare.manage.run",
                              format_func=lambda run_id: f"{by_id[run_id].name} · {run_id}")
        info = by_id[run_id]
        name = st.text_input("Name", info.name, key=f"compare.manage.name.{run_id}")
        tags = st.text_input("Tags (comma-separated)", ", ".join(info.tags),
                             key=f"compare.manage.tags.{run_id}")
        note = st.text_area("Note", info.note, key=f"compare.manage.note.{run_id}")
        save, delete = st.columns(2)
        if save.button("Save name, tags and note", key="compare.manage.save"):
            with reported():
                store.edit(run_id, workspace, name=name, note=note,
                           tags=[tag for tag in tags.split(",") if tag.strip()])
                st.rerun()
        if confirmed("Delete run", f"Delete the run **{plain(info.name)}** ({run_id}) and its "
                     "files? This cannot be undone.", key=f"compare.manage.delete.{run_id}",
                     container=delete):
            with reported():
                store.delete(run_id, workspace)
                st.rerun()


def evaluation_results(loaded: dict, dataset, colours: dict) -> None:
    """The evaluation job's progress, then its results: a table, and for per-step data the
    first sequences with every run's outputs. Runs as a fragment while the job is pending;
    the page reruns once it ends, which stops the polling."""
    job = st.session_state.get("compare.eval.job")
    if job is not None and job.status not in TERMINAL:
        snapshot = job.snapshot()
        place = f", {snapshot.position} in line" if snapshot.position else ""
        st.info(f"Evaluating {len(job.names)} run(s) in a worker ({snapshot.status}{place})…")
        return
    if job is not None:
        del st.session_state["compare.eval.job"]
        if job.status == FAILED:
            st.session_state["compare.eval.error"] = job.snapshot().error
        st.rerun()
    if "compare.eval.error" in st.session_state:
        st.error(plain(st.session_state.pop("compare.eval.error")))
    key = dataset_key(dataset)
    results = {run_id: result for run_id, run in loaded.items()
               if (result := evaluation.cached(run.info.path, key)) is not None}
    if not results:
        return
    st.dataframe(pd.DataFrame([compare.evaluation_row(loaded[run_id], result)
                               for run_id, result in results.items()]), hide_index=True)
    if dataset.per_step:
        first = next(iter(results.values()))
        outputs = {f"{compare.run_label(loaded[run_id].info)} · {run_id[-6:]}": (
            np.asarray(result["outputs"]), colours[run_id]) for run_id, result in results.items()}
        st.plotly_chart(sequence_preview(
            np.asarray(first["x"]), samples=len(first["x"]), targets=np.asarray(first["y"]),
            weights=None if first["weights"] is None else np.asarray(first["weights"]),
            outputs=outputs), key="compare.eval.sequences")

workspace = page_frame("Compare")
st.title("Compare")
store = resources.run_store()
active = [job for job in resources.job_queue().jobs(workspace) if job.status in
          ("queued", "running")]
if active:
    st.info(f"{len(active)} job(s) still training or queued; their runs appear here when they "
            "end.")
runs = stored_runs(
    store, workspace,
    "No runs yet. Train a design on the Train page; finished and stopped runs appear here.")

by_id = {info.id: info for info in runs}
manage_runs(store, workspace, runs)
wanted_tags = st.multiselect("Only runs tagged", compare.all_tags(runs), key="compare.tags",
                             help="Runs carrying every chosen tag; tag runs under "
                                  "“Manage runs”.")
runs = compare.with_tags(runs, wanted_tags)
colours = compare.run_colours(runs)
# Runs that finished since this tab last looked are added to the selection.
seen = st.session_state.setdefault("compare.seen", set())
shown = [info.id for info in runs]
selected = [run_id for run_id in st.session_state.get("compare.runs", []) if run_id in shown]
if not seen:
    selected = shown[:3]
selected += [run_id for run_id in shown if run_id not in seen and run_id not in selected]
seen.update(by_id)
st.session_state["compare.runs"] = selected
chosen = st.multiselect(
    "Runs", shown, key="compare.runs",
    format_func=lambda run_id: f"{compare.run_label(by_id[run_id])} · {run_id[-6:]}",
)
if not chosen:
    st.stop()
loaded = {}
for run_id in chosen:
    try:
        loaded[run_id] = store.load(run_id, workspace)
    except ValueError as error:
        st.warning(f"Skipped the broken run {run_id}: {plain(error)}")
if not loaded:
    st.stop()
if note := compare.data_note([run.info for run in loaded.values()]):
    st.warning(plain(note))

axis_column, log_column, group_column = st.columns(3)
x_axis = axis_column.radio("x axis", ("epoch", "seconds"), horizontal=True, key="compare.x")
log_scale = log_column.checkbox("log scale", value=True, key="compare.log")
grouped = group_column.toggle(
    "Group seeds", key="compare.group",
    help="Runs of the same design, strategy, data and settings that differ only by seed: "
         "mean curve with a min–max band, and mean ± std in the table.",
)
groups = compare.group_runs(loaded.values())
if grouped:
    curves = []
    for group in groups:
        colour = colours[group.runs[0].info.id]
        values, bands = {}, {}
        for column in ("loss", "val_loss"):
            curve = group.curve(column)
            if curve["n"].any():
                values[column], bands[column] = curve["mean"], (curve["min"], curve["max"])
        curves.append(Curve(
            label=f"{group.label} (n={len(group.runs)})", colour=colour,
            hover=f"seeds {', '.join(map(str, group.seeds))}", x=list(range(1, len(
                next(iter(values.values()), [])) + 1)), values=values, bands=bands,
        ))
    st.plotly_chart(loss_curves(curves, x="epoch", log=log_scale), key="compare.curves")
    table = pd.DataFrame(compare.group_table(groups))
    st.dataframe(table, hide_index=True)
else:
    curves = [Curve(
        label=compare.run_label(run.info), colour=colours[run_id],
        hover=f"{run.info.name} · {run_id}", x=run.history[x_axis].tolist(),
        values={column: run.history[column].to_numpy(float) for column in ("loss", "val_loss")},
    ) for run_id, run in loaded.items()]
    st.plotly_chart(loss_curves(curves, x=x_axis, log=log_scale), key="compare.curves")
    table = pd.DataFrame([compare.summary_row(run) for run in loaded.values()])
    st.dataframe(
        compare.coloured_by_run(table, colours),
        hide_index=True,
        column_config={
            "effective parameters": st.column_config.NumberColumn(
                help="Weights of the trained model's recurrent part that are free to act: "
                     "not held at 0 by a mask, not behind a switched-off feature."),
            "input density": st.column_config.NumberColumn(format="percent"),
            "recurrent density": st.column_config.NumberColumn(format="percent"),
            "readout density": st.column_config.NumberColumn(format="percent"),
        },
    )

st.subheader("Learned weights")
limit = max(float(np.abs(panel.values).max(initial=0.0))
            for run in loaded.values() for panel in compare.weight_panels(run)) or 1.0
for run_id, run in loaded.items():
    masked = run.info.max_masked_weight
    note = ("this strategy masks no weight" if masked is None
            else f"largest |stored weight| at a masked position: {masked:g}")
    st.caption(f"{plain(run.info.name)} · {note}")
    st.plotly_chart(weight_heatmaps(compare.weight_panels(run), title=compare.run_label(run.info),
                                    limit=limit, title_colour=colours[run_id]),
                    key=f"compare.weights.{run_id}")
live_only = st.toggle("Leave out masked zeros", value=True, key="compare.live_only",
                      help="Count only weights a mask leaves free, so the histogram is not "
                           "one spike at 0.")
histogram_values = {
    compare.run_label(run.info) + f" · {run_id[-6:]}": (
        compare.live_weights(run) if live_only else np.concatenate(
            [panel.values.ravel() for panel in compare.weight_panels(run)]),
        colours[run_id])
    for run_id, run in loaded.items()
}
st.plotly_chart(weight_histograms(
    histogram_values,
    "Weights a mask leaves free" if live_only else "All weights (masked zeros included)"),
    key="compare.histograms")

st.subheader("Evaluate on…")
st.caption("The selected runs on other data, e.g. longer sequences than they trained on: "
           "the loss and metric they trained with, computed in a worker; for per-step tasks, "
           "their outputs on the first sequences.")
evaluated = task_data("compare.eval.task", resources.settings().limits)
if evaluated is not None:
    if st.button("Evaluate the selected runs", key="compare.eval.go"):
        with reported():
            st.session_state["compare.eval.job"] = resources.job_queue().submit_evaluation(
                list(loaded), evaluated, workspace)
    pending = "compare.eval.job" in st.session_state
    st.fragment(run_every=WATCH_SECONDS["training"] if pending else None)(
        evaluation_results)(loaded, evaluated, colours)

st.subheader("New designs from a run")
source_id = st.selectbox("Run", list(loaded), key="compare.prune.run",
                         format_func=lambda run_id: compare.run_label(by_id[run_id]))
keep_column, gate_column, seed_column = st.columns(3)
keep = keep_column.number_input("Keep fraction", 0.01, 1.0, 0.5, step=0.05,
                                key="compare.prune.keep")
per_gate = gate_column.checkbox("Rank per gate", key="compare.prune.per_gate")
control_seed = seed_column.number_input("Random seed", 0, 2**31 - 1, 0, key="compare.prune.seed")
strongest_column, random_column = st.columns(2)
try:
    if strongest_column.button("New design from this run's strongest connections"):
        pruned = pruning.strongest(loaded[source_id], float(keep), per_gate=per_gate)
        state.put(state.new_name(pruned.name or "pruned"), pruned)
        st.success(f"Added {plain(pruned.name)} to your designs; train it on the Train page "
                   "(choose this run under “rewind” for the lottery-ticket loop).")
    if random_column.button("Random design at the same density"):
        pruned = pruning.strongest(loaded[source_id], float(keep), per_gate=per_gate)
        control = pruning.random_like(pruned, int(control_seed))
        state.put(state.new_name(control.name or "random control"), control)
        st.success(f"Added {plain(control.name)} to your designs.")
except ValueError as error:
    st.error(plain(error))

st.subheader("Downloads")


for run_id, run in loaded.items():
    label = f"{plain(compare.run_label(run.info))} · {run_id[-6:]}"
    zip_column, torch_column = st.columns(2)
    zip_column.download_button(
        f"{label} (.zip: masks .npy, model.keras, history.csv)",
        lambda run_id=run_id: store.export_zip(run_id, workspace),
        state.file_name(run_id, ".zip"), key=f"compare.download.{run_id}",
    )
    if enforcement_of(run.info.strategy).skips_steps:
        torch_column.caption(f"{label}: no PyTorch export, since torch.nn.LSTM cannot skip "
                             "time steps as this strategy does.")
    else:
        torch_column.download_button(
            f"{label} (PyTorch .safetensors: nn.LSTM + nn.Linear)",
            lambda run=run: export.torch_safetensors_bytes(run),
            state.file_name(run_id, ".safetensors"),
            key=f"compare.torch.{run_id}",
        )
