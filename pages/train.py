"""Train: choose data and a strategy, train kept designs in the background, watch them learn."""

import pandas as pd
import streamlit as st

from limconn import data
from limconn.jobs import QUEUED, RUNNING, TERMINAL
from limconn.plots import sequence_preview
from limconn.strategies import STRATEGIES
from limconn.training import OPTIMIZERS, TrainConfig
from limconn.ui import state
from limconn.ui.forms import parameter_inputs
from limconn.ui.resources import job_queue

SOURCES = ("Synthetic task", "Upload", "Example CSV")


@st.cache_data(max_entries=8, show_spinner=False)
def synthetic(task: str, params: tuple) -> data.Dataset:
    return data.make_task(task, **dict(params))


def choose_data(validation_split: float) -> data.Dataset | None:
    """The data section: a synthetic task or an upload; errors shown, never raised."""
    source = st.radio("Data", SOURCES, horizontal=True, key="train.source")
    try:
        if source == "Synthetic task":
            task = st.selectbox("Task", data.TASKS.names(), key="train.task")
            entry = data.TASKS.get(task)
            st.caption(entry.summary)
            params = parameter_inputs(entry, key="train.task")
            return synthetic(task, tuple(sorted(params.items())))
        if source == "Example CSV":
            st.caption("Weekly CO₂ at Mauna Loa, 1958–2001 (public domain): forecast the next "
                       "week from a window of past weeks. It has gaps: choose how to fill them.")
            return csv_dataset(data.example_csv_path(), validation_split, missing="fill")
        return uploaded(validation_split)
    except ValueError as error:
        st.error(str(error))
        return None


def uploaded(validation_split: float) -> data.Dataset | None:
    file = st.file_uploader(
        "A CSV time series, an .npz with X and y, or X as .npy", type=["csv", "npz", "npy"],
        key="train.upload",
    )
    if file is None:
        return None
    name = file.name.lower()
    if name.endswith(".npz"):
        return data.load_npz(file)
    if name.endswith(".npy"):
        targets = st.file_uploader("Targets y (.npy)", type=["npy"], key="train.targets")
        return data.load_npy(file, targets) if targets is not None else None
    return csv_dataset(file, validation_split)


def csv_dataset(file, validation_split: float, missing: str = "error") -> data.Dataset:
    """Column, window and missing-value choices for a CSV time series, then its windows.

    Widget keys carry the file's name, so another file starts from fresh choices.
    """
    columns = data.csv_columns(file)
    key = f"train.csv.{getattr(file, 'name', file)}"
    left, right = st.columns(2)
    targets = left.multiselect("Target columns", columns, default=columns[-1:],
                               key=f"{key}.targets")
    features = right.multiselect("Feature columns", columns, default=columns[-1:],
                                 key=f"{key}.features")
    window_column, horizon_column, missing_column = st.columns(3)
    window = window_column.number_input("Window", 2, 1000, 24, key=f"{key}.window")
    horizon = horizon_column.number_input("Horizon", 1, 1000, 1, key=f"{key}.horizon")
    policies = data.MISSING_POLICIES
    missing = missing_column.selectbox("Missing values", policies,
                                       index=policies.index(missing), key=f"{key}.missing")
    return data.load_csv(
        file, feature_columns=features, target_columns=targets, window=int(window),
        horizon=int(horizon), validation_split=validation_split, missing=missing,
    )


def show_job(job) -> None:
    """One job's live card: status, progress with ETA, loss curve, Stop."""
    snapshot = job.snapshot()
    with st.container(border=True):
        title, button = st.columns([5, 1])
        title.markdown(f"**{job.name}** · {snapshot.status}")
        if snapshot.status in (QUEUED, RUNNING):
            button.button("Stop", key=f"train.stop.{job.id}", on_click=job.stop)
        if snapshot.status == QUEUED:
            st.info(f"queued, position {snapshot.position}")
        if snapshot.latest is not None:
            event = snapshot.latest
            loss = event.logs.get("loss", float("nan"))
            st.progress(event.fraction, text=(
                f"epoch {event.epoch}/{event.epochs} · step {event.step}/{event.steps_per_epoch}"
                f" · loss {loss:.4g} · {event.elapsed:.0f}s elapsed · ETA {event.eta:.0f}s"
            ))
        if snapshot.curve:
            curve = pd.DataFrame(list(snapshot.curve)).set_index("step")
            st.line_chart(curve.interpolate(limit_area="inside"), height=220,
                          x_label="step", y_label="loss")
        if snapshot.status == "failed":
            st.error(snapshot.error)
        elif snapshot.status in TERMINAL:
            note = f" ({snapshot.error})" if snapshot.error else ""
            st.success(f"{snapshot.status}{note}: saved as run {snapshot.run_id}; "
                       "see it on the Compare page.")


def live_jobs() -> None:
    for job in reversed(state.jobs()[-6:]):
        show_job(job)


st.title("Train")
data_box, strategy_box, settings_box, action_box = (st.container() for _ in range(4))

with settings_box:
    st.subheader("Settings")
    columns = st.columns(6)
    epochs = columns[0].number_input("Epochs", 1, 1000, 10, key="train.epochs")
    batch_size = columns[1].number_input("Batch size", 1, 4096, 64, key="train.batch")
    learning_rate = columns[2].number_input("Learning rate", 1e-5, 1.0, 0.01, format="%g",
                                            key="train.lr")
    optimizer = columns[3].selectbox("Optimizer", OPTIMIZERS, key="train.optimizer")
    seed = columns[4].number_input("Seed", 0, 2**31 - 1, 0, key="train.seed")
    validation_split = columns[5].number_input("Validation split", 0.0, 0.9, 0.2,
                                               key="train.val")

with data_box:
    st.subheader("Data")
    dataset = choose_data(validation_split)
    if dataset is not None:
        st.session_state[state.DATA_INPUTS] = dataset.input_dim
        st.caption(f"{dataset.description} · {dataset.num_samples} sequences × "
                   f"{dataset.timesteps} steps × {dataset.input_dim} features · {dataset.kind}")
        with st.expander("Preview"):
            st.plotly_chart(sequence_preview(dataset.x), key="train.preview")

with strategy_box:
    st.subheader("Strategy")
    strategy = st.selectbox("Strategy", STRATEGIES.names(), key="train.strategy")
    entry = STRATEGIES.get(strategy)
    st.info(f"**{entry.summary}** {entry.description}")
    options = parameter_inputs(entry, key="train.strategy")

with action_box:
    kept = state.designs()
    names = list(kept)
    design_name = st.selectbox("Design", names, index=names.index(state.current_name()),
                               key="train.design")
    mismatched = [n for n, d in kept.items() if dataset is not None
                  and d.input_dim != dataset.input_dim]
    if mismatched:
        st.warning(f"{', '.join(mismatched)} ha{'s' if len(mismatched) == 1 else 've'} a "
                   f"different number of inputs than the data's {dataset.input_dim} features.")
        if st.button(f"Resize designs to {dataset.input_dim} inputs"):
            for mismatched_name in mismatched:
                design = kept[mismatched_name]
                state.put(mismatched_name, design.resized(dataset.input_dim, design.units))
            st.rerun()
    train_one, train_all = st.columns(2)
    chosen = []
    if train_one.button("Train", type="primary", disabled=dataset is None):
        chosen = [design_name]
    if train_all.button("Train all designs", disabled=dataset is None):
        chosen = names
    for name in chosen:
        try:
            config = TrainConfig(
                strategy=strategy, strategy_options=options, epochs=int(epochs),
                batch_size=int(batch_size), learning_rate=float(learning_rate),
                optimizer=optimizer, seed=int(seed), validation_split=float(validation_split),
                name=name,
            )
            job = job_queue().submit(config, kept[name], dataset, workspace=state.workspace(),
                                     name=f"{name} · {strategy} · {dataset.name}")
        except ValueError as error:
            st.error(f"{name}: {error}")
        else:
            state.jobs().append(job)

    active = any(job.status not in TERMINAL for job in state.jobs())
    st.fragment(run_every=1.0 if active else None)(live_jobs)()
