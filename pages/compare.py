"""Compare: runs side by side: loss curves, a summary table, learned weights, downloads."""

import numpy as np
import pandas as pd
import streamlit as st

from limconn.jobs import TERMINAL
from limconn.plots import loss_curves, weight_heatmaps, weight_histograms
from limconn.ui import state
from limconn.ui.resources import run_store

st.title("Compare")
store = run_store()
everyone = st.toggle("Show runs of every workspace", key="compare.everyone",
                     help="Off: only the runs trained from this browser session's workspace.")
training = [job for job in state.jobs() if job.status not in TERMINAL]
if training:
    st.info(f"{len(training)} run(s) still training or queued; they appear here when they end.")
runs = store.list(None if everyone else state.workspace())
for folder, problem in store.problems:
    st.warning(f"Skipped a broken run folder {folder.name}: {problem}")
if not runs:
    st.info("No runs yet. Train a design on the Train page; finished and stopped runs appear here.")
    st.stop()

labels = {f"{info.name} · {info.id}": info for info in runs}
chosen = st.multiselect("Runs", list(labels), default=list(labels)[:3], key="compare.runs")
if not chosen:
    st.stop()
loaded = {}
for label in chosen:
    info = labels[label]
    try:
        loaded[label] = store.load(info.id, info.workspace)
    except ValueError as error:
        st.warning(f"Skipped the broken run {label}: {error}")
if not loaded:
    st.stop()

axis_column, log_column = st.columns(2)
x_axis = axis_column.radio("x axis", ("epoch", "seconds"), horizontal=True, key="compare.x")
log_scale = log_column.checkbox("log scale", value=True, key="compare.log")
histories = {label: run.history.to_dict("records") for label, run in loaded.items()}
st.plotly_chart(loss_curves(histories, x=x_axis, log=log_scale), key="compare.curves")

rows = []
for label, run in loaded.items():
    stats = run.connectivity.stats()
    rows.append({
        "run": label,
        "status": run.info.status,
        "strategy": run.info.strategy,
        "design": run.connectivity.name,
        "data": run.info.dataset,
        "input density": stats.input_density,
        "recurrent density": stats.recurrent_density,
        "effective parameters": stats.effective_parameters,
        "best val loss": run.info.metrics.get("best_val_loss"),
        "final val loss": run.info.metrics.get("final_val_loss"),
        "epochs": run.info.epochs,
        "wall time (s)": run.info.metrics.get("wall_time"),
        "max |masked weight|": run.info.max_masked_weight,
    })
st.dataframe(pd.DataFrame(rows), hide_index=True)

st.subheader("Learned weights")
limit = max(
    float(np.abs(run.weights[name]).max(initial=0.0))
    for run in loaded.values() for name in ("kernel", "recurrent_kernel")
) or 1.0
for label, run in loaded.items():
    masked = run.info.max_masked_weight
    st.markdown(f"**{label}** · largest |weight| at a masked position: "
                f"`{'not masked by this strategy' if masked is None else f'{masked:g}'}`")
    st.plotly_chart(weight_heatmaps(run.weights, run.connectivity, limit=limit),
                    key=f"compare.weights.{label}")
st.plotly_chart(weight_histograms({label: run.weights for label, run in loaded.items()}),
                key="compare.histograms")

st.subheader("Downloads")
for label, run in loaded.items():
    st.download_button(
        f"{label} (.zip: masks .npy, model.keras, history.csv)",
        store.export_zip(run.info.id, run.info.workspace), f"{run.info.id}.zip",
        key=f"compare.download.{label}",
    )
