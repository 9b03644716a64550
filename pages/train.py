"""Train: choose data and a strategy, train kept designs in the background, watch them learn."""

import streamlit as st

from limconn import data
from limconn.capacity import file_version
from limconn.jobs import FAILED, INTERRUPTED, QUEUED, RUNNING, TERMINAL, watch_seconds
from limconn.plots import live_loss_spec, sequence_preview
from limconn.strategies import STRATEGIES, enforcement_of
from limconn.trainconfig import LR_SCHEDULES, OPTIMIZERS, TrainConfig
from limconn.ui import resources, state
from limconn.ui.forms import confirmed, parameter_inputs
from limconn.ui.frame import page_frame
from limconn.ui.text import plain, reported

SOURCES = ("Synthetic task", "Upload", "Example CSV")
SECTION = "train"
JOBS_PER_PAGE = 6
NEW_UPLOAD = "upload a new file"
KEPT_NEXT = "train.kept_next"
REMEMBERED = ("train.source", "train.kept_upload", "train.task", "train.strategy",
              "train.epochs", "train.batch", "train.lr", "train.optimizer", "train.seed",
              "train.seeds", "train.val", "train.test", "train.patience", "train.schedule",
              "train.warmup", "train.clip", "train.decay", "train.l1", "train.l2")
# Widget keys whose values the workspace remembers (plus every task and strategy field). A
# comment, not a string: Streamlit's magic would write a bare string onto the page.


def cached(*key, make) -> data.Dataset:
    """A dataset made once per key and kept in the server's byte-capped cache."""
    return resources.datasets().get(key, make)


def restore_choices() -> None:
    """Seeds the page's widgets from what the workspace remembered: on a new tab, and after
    a page switch (Streamlit drops the state of widgets a page did not show)."""
    for key, value in state.remembered(SECTION).items():
        if key.startswith("train.") and key not in st.session_state:
            st.session_state[key] = value


def remember_choices() -> None:
    values = {key: st.session_state[key] for key in st.session_state
              if isinstance(key, str) and (key in REMEMBERED or key.startswith(
                  ("train.task.", "train.strategy.")))
              and isinstance(st.session_state[key], (str, int, float, bool))}
    state.remember(SECTION, values)


def choose_data(validation_split: float, limits) -> data.Dataset | None:
    """The data section: a synthetic task or an upload; errors shown, never raised."""
    source = st.radio("Data", SOURCES, horizontal=True, key="train.source")
    try:
        if source == "Synthetic task":
            task = st.selectbox("Task", data.TASKS.names(), key="train.task")
            entry = data.TASKS.get(task)
            st.caption(entry.summary)
            params = parameter_inputs(entry, key="train.task")
            return cached("task", task, tuple(sorted(params.items())), limits,
                          make=lambda: data.make_task(task, limits=limits, **params))
        if source == "Example CSV":
            st.caption("Weekly CO₂ at Mauna Loa, 1958–2001 (public domain): forecast the next "
                       "week from a window of past weeks. It has gaps: choose how to fill them.")
            return csv_dataset(data.example_csv_path(), validation_split, limits, missing="fill")
        return uploaded(validation_split, limits)
    except ValueError as error:
        st.error(plain(error))
        return None


def uploaded(validation_split: float, limits) -> data.Dataset | None:
    """An uploaded data file, kept in the workspace: chosen from the kept ones, or a new
    upload, which is kept once its loader accepts it (then chosen)."""
    uploads = state.upload_store()
    options = [NEW_UPLOAD, *uploads.names()]
    if KEPT_NEXT in st.session_state:  # a file kept on the run before
        st.session_state["train.kept_upload"] = st.session_state.pop(KEPT_NEXT)
    if st.session_state.get("train.kept_upload") not in options:  # deleted in another tab
        st.session_state.pop("train.kept_upload", None)
    choice = st.selectbox("Data file", options, key="train.kept_upload",
                          help="Uploaded files are kept in this workspace (at most "
                               f"{limits.max_kept_uploads}) until you delete them.")
    if choice == NEW_UPLOAD:
        keep_new_upload(uploads, limits)
        return None
    if confirmed("Delete this file", f"Delete the kept file **{plain(choice)}**?",
                 key=f"train.kept_upload.delete.{choice}"):
        uploads.remove(choice)
        st.rerun()
    paths = uploads.paths(choice)
    suffix = paths[0].suffix.lower()
    if suffix == ".npz":
        return cached("npz", file_version(paths[0]), make=lambda: data.load_npz(
            paths[0], max_bytes=limits.max_upload_bytes, limits=limits))
    if suffix == ".npy":
        return cached("npy", *map(file_version, paths), make=lambda: data.load_npy(
            *paths, max_bytes=limits.max_upload_bytes, limits=limits))
    return csv_dataset(paths[0], validation_split, limits)


def keep_new_upload(uploads, limits) -> None:
    """The file uploaders; a file (with its targets, for X as .npy) its loader accepts is
    kept and chosen. A refused one is not kept: the error says why."""
    file = st.file_uploader(
        "A CSV time series, an .npz with X and y, or X as .npy", type=["csv", "npz", "npy"],
        key="train.upload",
    )
    if file is None:
        return
    files, name = [file], file.name.lower()
    if name.endswith(".npy"):
        targets = st.file_uploader("Targets y (.npy)", type=["npy"], key="train.targets")
        if targets is None:
            return
        files.append(targets)
    checks = {".npz": data.load_npz, ".npy": data.load_npy}
    check = next((load for suffix, load in checks.items() if name.endswith(suffix)),
                 data.csv_columns)
    check(*files, max_bytes=limits.max_upload_bytes, limits=limits)
    with state.saving():
        st.session_state[KEPT_NEXT] = uploads.put([(f.name, f.getvalue()) for f in files])
    st.rerun()


def csv_dataset(file, validation_split: float, limits, missing: str = "error") -> data.Dataset:
    """Column, window and missing-value choices for a CSV time series, then its windows.

    Widget keys carry the file's name, so another file starts from fresh choices.
    """
    columns = cached("csv columns", file_version(file), make=lambda: data.csv_columns(
        file, max_bytes=limits.max_upload_bytes, limits=limits))
    key = f"train.csv.{getattr(file, 'name', file)}"
    left, right = st.columns(2)
    targets = left.multiselect("Target columns", columns, default=columns[-1:],
                               key=f"{key}.targets")
    features = right.multiselect("Feature columns", columns, default=columns[-1:],
                                 key=f"{key}.features")
    window_column, horizon_column, missing_column = st.columns(3)
    window = window_column.number_input("Window", 2, limits.max_timesteps, 24,
                                        key=f"{key}.window")
    horizon = horizon_column.number_input("Horizon", 1, 1000, 1, key=f"{key}.horizon")
    policies = data.MISSING_POLICIES
    missing = missing_column.selectbox("Missing values", policies,
                                       index=policies.index(missing), key=f"{key}.missing")
    return cached("csv", file_version(file), tuple(features), tuple(targets), int(window),
                  int(horizon), validation_split, missing, make=lambda: data.load_csv(
                      file, feature_columns=features, target_columns=targets,
                      window=int(window), horizon=int(horizon),
                      validation_split=validation_split, missing=missing,
                      max_bytes=limits.max_upload_bytes, limits=limits))


def show_job(job, snapshot, dataset: data.Dataset | None) -> None:
    """One job's live card (`snapshot`, taken just now): status, its runs' progress, their
    losses, Stop, and Resume for a job that kept a checkpoint (with the data chosen above,
    which must be the data it trained on)."""
    with st.container(border=True):
        title, button = st.columns([5, 1])
        names = ", ".join(run.name for run in snapshot.runs)
        title.markdown(f"**{plain(names)}** · {snapshot.status}")
        if snapshot.status in (QUEUED, RUNNING):
            button.button("Stop", key=f"train.stop.{job.id}", on_click=job.stop)
        elif resources.job_queue().checkpoint(job) is not None and button.button(
                "Resume", key=f"train.resume.{job.id}", disabled=dataset is None,
                help="Continue from the last finished epoch to the job's epoch count, with "
                     "the data chosen above (the data it trained on)."):
            with reported():
                resources.job_queue().resume(job, dataset)
                st.rerun()
        if snapshot.status == QUEUED:
            st.info(f"Queued: {snapshot.position} of the jobs waiting for a free worker "
                    "start before or with it.")
        for run in snapshot.runs:
            if run.latest is not None:
                event = run.latest
                loss = event["logs"].get("loss", float("nan"))
                prefix = f"{plain(run.name)} · " if len(snapshot.runs) > 1 else ""
                st.progress(event["fraction"], text=(
                    f"{prefix}epoch {event['epoch']}/{event['epochs']} · step "
                    f"{event['step']}/{event['steps_per_epoch']} · loss {loss:.4g} · "
                    f"{event['elapsed']:.0f}s elapsed · ETA {event['eta']:.0f}s"
                ))
        curves = {run.name: run.curve for run in snapshot.runs if run.curve}
        if curves:
            st.vega_lite_chart(live_loss_spec(curves), width="stretch")
        if snapshot.status in (FAILED, INTERRUPTED):
            st.error(f"{snapshot.status}: {plain(snapshot.error)}")
        elif snapshot.status in TERMINAL:
            note = f" ({snapshot.error})" if snapshot.error else ""
            saved = ", ".join(snapshot.run_ids) or "nothing"
            st.success(f"{snapshot.status}{note}: saved as {saved}; see Compare.")


def jobs_on_page(workspace: str, page: int) -> list:
    """The workspace's jobs on one page of `JOBS_PER_PAGE` (1-based), newest first."""
    start = (page - 1) * JOBS_PER_PAGE
    return resources.job_queue().jobs(workspace)[start:start + JOBS_PER_PAGE]


def live_jobs(workspace: str, page: int, pace: tuple[set[str], float | None],
              dataset: data.Dataset | None) -> None:
    """The job cards, redrawn by a fragment every `pace[1]` seconds.

    When a job starts or ends, or the pace its place in the queue calls for changes, the
    whole page reruns to set the pace again: a fragment's `run_every` is fixed when the
    page runs, so a job that waited in the queue would otherwise be watched at the queue's
    slower pace, and finished jobs polled forever.
    """
    jobs = jobs_on_page(workspace, page)
    snapshots = [job.snapshot() for job in jobs]
    if jobs_pace(snapshots) != pace:
        st.rerun()
    for job, snapshot in zip(jobs, snapshots, strict=True):
        show_job(job, snapshot, dataset)


def jobs_pace(snapshots) -> tuple[set[str], float | None]:
    """The jobs' statuses and how often to redraw them (`limconn.jobs.watch_seconds`)."""
    return ({snapshot.status for snapshot in snapshots},
            watch_seconds(snapshots, resources.job_queue().max_concurrent))


def seeds(first: int, count: int) -> list[int]:
    return list(range(first, first + count))


def training_controls() -> dict:
    """The controls beyond the basics, as `TrainConfig` fields (it checks them)."""
    columns = st.columns(4)
    return {
        "test_split": columns[0].number_input(
            "Test split", 0.0, 0.5, 0.0, key="train.test",
            help="Held out before the validation split and never seen by training or early "
                 "stopping; Compare shows its loss and metric."),
        "early_stopping": columns[1].number_input(
            "Early stopping patience (epochs)", 0, 1000, 0, key="train.patience",
            help="Stop when the validation loss has not improved for this many epochs and "
                 "keep the best epoch's weights; 0: off."),
        "lr_schedule": columns[2].selectbox(
            "Learning-rate schedule", LR_SCHEDULES, key="train.schedule",
            help="cosine: down to 0 at the last step; exponential: down to 1/100."),
        "warmup_steps": columns[3].number_input(
            "Warm-up steps", 0, 1_000_000, 0, key="train.warmup",
            help="Optimizer steps over which the learning rate rises linearly to its value."),
        "clipnorm": columns[0].number_input(
            "Gradient clip norm", 0.0, 1e6, 0.0, format="%g", key="train.clip",
            help="Clip each weight's gradient to this norm; 0: off."),
        "weight_decay": columns[1].number_input(
            "Weight decay", 0.0, 1.0, None, format="%g", key="train.decay",
            help="Empty: the optimizer's own (AdamW's 0.004, none for the others)."),
        "l1": columns[2].number_input(
            "L1 on effective weights", 0.0, 1.0, 0.0, format="%g", key="train.l1",
            help="Penalty on the LSTM's input and recurrent weights the model computes "
                 "with: a masked weight adds nothing."),
        "l2": columns[3].number_input(
            "L2 on effective weights", 0.0, 1.0, 0.0, format="%g", key="train.l2"),
    }


workspace = page_frame("Train")
limits = resources.settings().limits
restore_choices()
st.title("Train")
data_box, strategy_box, settings_box, action_box = (st.container() for _ in range(4))

with settings_box:
    st.subheader("Settings")
    columns = st.columns(7)
    epochs = columns[0].number_input("Epochs", 1, limits.max_epochs, 10, key="train.epochs")
    batch_size = columns[1].number_input("Batch size", 1, limits.max_batch_size,
                                         min(64, limits.max_batch_size), key="train.batch")
    learning_rate = columns[2].number_input("Learning rate", 1e-5, 1.0, 0.01, format="%g",
                                            key="train.lr")
    optimizer = columns[3].selectbox("Optimizer", OPTIMIZERS, key="train.optimizer")
    seed = columns[4].number_input("Seed", 0, 2**31 - 1, 0, key="train.seed")
    seed_count = columns[5].number_input(
        "Seeds", 1, limits.max_queued_jobs, 1, key="train.seeds",
        help="Train each design with this many seeds (seed, seed + 1, ...); Compare groups "
             "them with their spread.",
    )
    validation_split = columns[6].number_input("Validation split", 0.0, 0.9, 0.2,
                                               key="train.val")
    with st.expander("Training controls"):
        controls = training_controls()

with data_box:
    st.subheader("Data")
    dataset = choose_data(validation_split, limits)
    if dataset is not None:
        st.session_state[state.DATA_INPUTS] = dataset.input_dim
        st.caption(f"{plain(dataset.description)} · {dataset.num_samples} sequences × "
                   f"{dataset.timesteps} steps × {dataset.input_dim} features · {dataset.kind}"
                   + (" · a target at every step" if dataset.per_step else ""))
        # A toggle, not an expander: a closed expander's figure is still built every rerun.
        if st.toggle("Preview the sequences", key="train.preview_on"):
            st.plotly_chart(sequence_preview(
                dataset.x, targets=dataset.y if dataset.per_step else None,
                weights=dataset.weights), key="train.preview")

with strategy_box:
    st.subheader("Strategy")
    strategy = st.selectbox("Strategy", STRATEGIES.names(), key="train.strategy")
    entry = STRATEGIES.get(strategy)
    st.info(f"**{entry.summary}** {entry.description}")
    with st.expander("What this strategy enforces"):
        for line in enforcement_of(strategy).describe():
            st.markdown(f"- {line}")
    options = parameter_inputs(entry, key="train.strategy")
    if strategy == "timestep" and dataset is not None:
        skipped = dataset.constant_steps(float(options.get("mask_value", 0.0)))
        if skipped:
            st.warning(f"{skipped:.0%} of this data's time steps have every feature equal to "
                       "the mask value: the timestep strategy skips them all, not only "
                       "padding (on the copy task, that removes the delay).")

with action_box:
    kept = state.designs()
    names = list(kept)
    design_name = st.selectbox("Design", names, index=names.index(state.current_name()),
                               key="train.design")
    mismatched = [n for n, d in kept.items() if dataset is not None
                  and d.input_dim != dataset.input_dim]
    if mismatched:
        st.warning(f"{plain(', '.join(mismatched))} ha{'s' if len(mismatched) == 1 else 've'} "
                   f"a different number of inputs than the data's {dataset.input_dim} features.")
        if st.button(f"Resize designs to {dataset.input_dim} inputs"):
            with reported():
                for mismatched_name in mismatched:
                    design = kept[mismatched_name]
                    state.put(mismatched_name, design.resized(dataset.input_dim, design.units))
                st.rerun()
    store = resources.run_store()
    parents = {f"{info.name} · {info.id}": info for info in store.list(workspace)}
    rewind = st.selectbox(
        "Start from a run's initial weights (rewind)", ["no: fresh weights", *parents],
        key="train.rewind",
        help="The lottery-ticket loop: retrain a pruned design from the weights its parent "
             "run started with (masked positions start at 0).",
    )
    train_one, train_all = st.columns(2)
    chosen = []
    if train_one.button("Train", type="primary", disabled=dataset is None):
        chosen = [design_name]
    if train_all.button("Train all designs", disabled=dataset is None,
                        help="All designs train together, one job per seed: each design is a "
                             "branch of one model, as fast as a few separate runs."):
        chosen = names
    if chosen:
        init_from = "" if rewind not in parents else str(parents[rewind].path)
        for run_seed in seeds(int(seed), int(seed_count)):
            try:
                config = TrainConfig(
                    strategy=strategy, strategy_options=options, epochs=int(epochs),
                    batch_size=int(batch_size), learning_rate=float(learning_rate),
                    optimizer=optimizer, seed=run_seed,
                    validation_split=float(validation_split), init_from=init_from,
                    **controls,
                )
                with state.saving():  # the job's data is spooled to disk
                    resources.job_queue().submit(
                        config, [kept[name] for name in chosen], dataset, workspace,
                        [f"{name} · {strategy} · {dataset.name} · seed {run_seed}"
                         for name in chosen],
                    )
            except ValueError as error:
                st.error(plain(error))
                break
    with reported():
        remember_choices()

    st.subheader("Jobs")
    job_count = len(resources.job_queue().jobs(workspace))
    page = 1
    if not job_count:
        st.caption("Jobs of this workspace show here, live, and come back after a reload.")
    elif job_count > JOBS_PER_PAGE:
        page_count = -(-job_count // JOBS_PER_PAGE)
        page = st.number_input(f"Page (of {page_count}; {job_count} jobs, newest first)", 1,
                               page_count, 1, key="train.jobs.page")
    pace = jobs_pace([job.snapshot() for job in jobs_on_page(workspace, page)])
    st.fragment(run_every=pace[1])(live_jobs)(workspace, page, pace, dataset)
