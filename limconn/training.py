"""Train masked models: config in, history, metrics and weights out. No Streamlit here.

`train_group()` reads top to bottom: hold out the test set, split, build one branch per
design, join them in one model, fit with a progress callback (and per-branch early
stopping), score the test set, collect one `RunResult` per branch. `train()` is the
group of one. Progress goes to a plain callable; a `threading.Event` stops training within
one batch (validation included); a stopped run returns its partial history like a
finished one.

A group trains K designs with one seed in one model and one loop: each branch is exactly
the model `build_model` builds for its design, nested as a sub-model (or, for `kernel` and
`random_dynamic`, run with the others as one grouped LSTM by `limconn.fused`, on its own
variables); the loss is the sum of the branches' losses, so each branch's gradients come
from its own loss alone, and its history, weights and result are those of a run of its own
(to float rounding). Runs with different seeds shuffle the data differently, so they cannot
share a model: a sweep trains one group per seed (`limconn.sweep`).

Determinism: each epoch's batches are a permutation drawn from the seed and the epoch
(`epoch_batches`), so a run resumed from a checkpoint (`limconn.checkpoints`) continues as it
would have. With the same config, design, data and seed, a run on CPU gives the same
history, provided no other training runs at the same time in the same process (Keras's
global seed and TensorFlow's thread pools are process-wide). GPU kernels (cuDNN) and
runs that overlap in a server are not bit-reproducible.

Example:

>>> from limconn import data, presets
>>> dataset = data.make_task("adding", num_samples=500)
>>> design = presets.random(dataset.input_dim, 16, density=0.5, seed=0)
>>> result = train(TrainConfig(epochs=2), design, dataset)  # doctest: +SKIP
>>> result.max_masked_weight  # doctest: +SKIP
0.0
>>> sparser = presets.random(dataset.input_dim, 16, density=0.25, seed=0)
>>> dense, sparse = train_group(TrainConfig(epochs=2), [design, sparser], dataset)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from limconn._tf import keras
from limconn.checkpoints import Checkpoint, write_checkpoint
from limconn.connectivity import Connectivity
from limconn.data import Dataset
from limconn.enforcement import max_masked_weight, trained_weights, zero_masked_weights
from limconn.event_files import EventFile
from limconn.fused import fused_group
from limconn.layers import penalize_lstm_weights
from limconn.strategies import Head, build_model
from limconn.trainconfig import LOSS_AND_METRIC, LR_SCHEDULES, Progress, TrainConfig

_SAMPLE_LOSS = "sample_loss"
"""Name of the metric that gives each branch its `loss` (see `_Reporter.branch_logs`)."""


@dataclasses.dataclass
class RunResult:
    """What a run produced.

    Attributes:
        config: the `TrainConfig`.
        connectivity: the design trained.
        dataset_name, dataset_description, kind: what it trained on.
        status: `"done"` or `"stopped"` (by the stop event or the time limit).
        history: one dict per epoch: `epoch`, `loss`, `val_loss`, metrics, and `seconds`
            since training began. A stopped run's last row covers the training batches of
            its epoch that ran; it has no validation values when the stop cut the
            validation pass short (a loss over part of the validation data would not
            compare with the other epochs').
        wall_time: seconds spent in `fit`.
        weights: the trained weights the model computes with, as
            `limconn.enforcement.trained_weights` returns them (the LSTM's per gate, the
            projection's if any, the readout's).
        max_masked_weight: the largest |stored weight| at a position the strategy masks
            (must be 0), or `None` if the strategy masks no weights.
        model: the trained `keras.Model`, as `build_model` built it; not compiled (it
            trained as a branch of a group, whose optimizer state is not kept).
        initial_weights: the model's weights before the first step (`model.get_weights()`
            order), kept so a retrain can start from them (`TrainConfig.init_from`).
        stop_reason: why a stopped run stopped, or `""`.
        data_hash: the `Dataset.content_hash` of the data it trained on.
        checkpoint: the group's checkpoint after its last finished epoch
            (`limconn.checkpoints`), or `None` when none was asked for or no epoch finished.
        events: a TensorBoard event file's bytes: per epoch, the history's losses and
            metrics, the optimizer's learning rate, and histograms of the effective weights
            (masked entries exactly 0); `write_run_folder` puts it in the run folder.
        test: the loss and the metric on the held-out test set (`test_loss`, e.g.
            `test_mae`), scored once after training with the weights the run returns;
            empty without a test set (`TrainConfig.test_split`).
    """

    config: TrainConfig
    connectivity: Connectivity
    dataset_name: str
    dataset_description: str
    kind: str
    status: str
    history: list[dict]
    wall_time: float
    weights: dict[str, np.ndarray]
    max_masked_weight: float | None
    model: keras.Model
    initial_weights: list[np.ndarray]
    stop_reason: str = ""
    data_hash: str = ""
    checkpoint: Path | None = None
    events: bytes = b""
    test: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        """Final and best values of the history, epochs run, wall time, and the test set's
        loss and metric (if any)."""
        summary: dict[str, float] = {"epochs_run": len(self.history), "wall_time": self.wall_time}
        if self.history:
            for key, value in self.history[-1].items():
                if key not in ("epoch", "seconds"):
                    summary[f"final_{key}"] = value
            watched = "val_loss" if any("val_loss" in row for row in self.history) else "loss"
            summary[f"best_{watched}"] = min(
                row[watched] for row in self.history if watched in row
            )
        summary.update(self.test)
        return summary


ProgressCallback = Callable[[Progress], Any]
_Result = TypeVar("_Result")


def train(
    config: TrainConfig,
    connectivity: Connectivity,
    dataset: Dataset,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
    max_seconds: float | None = None,
    checkpoint: str | Path | None = None,
    resume_from: Checkpoint | None = None,
) -> RunResult:
    """Trains `connectivity` on `dataset` with `config`: a group of one (`train_group`).

    Args:
        config: the run's settings.
        connectivity: the design; its `input_dim` must equal the dataset's features.
        dataset: the data; its `kind` picks the head and the loss.
        on_progress: called with a `Progress` after every batch and every epoch.
        stop_event: when set, training stops after the current batch.
        max_seconds: stop (keeping the run) once this much time has passed since the first
            batch began.
        checkpoint, resume_from: as in `train_group`.

    Raises:
        ValueError: if the design and the data disagree, or `config.init_from` cannot be
            used, or the checkpoint cannot be resumed.
    """
    [result] = train_group(config, [connectivity], dataset, on_progress, stop_event, max_seconds,
                           checkpoint=checkpoint, resume_from=resume_from)
    return result


def train_group(
    config: TrainConfig,
    designs: Sequence[Connectivity],
    dataset: Dataset,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
    max_seconds: float | None = None,
    on_start: Callable[[], Any] | None = None,
    checkpoint: str | Path | None = None,
    resume_from: Checkpoint | None = None,
) -> list[RunResult]:
    """Trains several designs with one config and seed in one model and one loop.

    Each design becomes one branch: the model `build_model` builds for it, seeded as a
    run alone with `config.seed` would be, nested in a model whose loss is the sum of the
    branches' losses. A branch's gradients come from its own loss only, so each result
    equals that of `train(config, design, dataset)` to float rounding. The group shares
    one process, one pass over the data and one traced step. Branches of strategy
    `kernel` or `random_dynamic` run their LSTMs as the groups of one grouped LSTM
    (`limconn.fused`): one recurrence for all, on each branch's own variables; others run
    side by side (`benchmarks/sweep_throughput.py` measures the whole). The stop event and
    the time limit apply to the whole group; a stopped group returns the partial result of
    every branch.

    Early stopping (`config.early_stopping`) is per branch, as each run alone would do
    it: a branch's run ends at the epoch where it alone would have stopped (its history
    ends there) and returns the weights of its own best epoch. The group keeps training
    until every branch has stopped improving; a branch that stopped earlier keeps
    computing meanwhile, but its result is unaffected. With early stopping, every
    branch's best weights are restored however the run ends (patience, last epoch, stop
    event, time limit).

    The test set (`config.test_split`) is set apart before anything else and scored once
    at the end (after the stop event or time limit too), so neither training nor early
    stopping sees it.

    Args:
        config: the settings of every run, the seed included.
        designs: one or more designs; each one's `input_dim` must equal the features.
        dataset: the data; its `kind` picks the head and the loss, and per-step targets a
            per-step head (its `weights` weigh each step in the loss and the metrics).
        on_progress: called with one `Progress` per branch after every batch and epoch;
            `Progress.branch` is the design's place in `designs`.
        stop_event: when set, training stops after the current batch.
        max_seconds: stop (keeping the runs) once this much time has passed since the first
            batch began: loading data and building the model do not count. Must be > 0.
        on_start: called once, as the first batch begins (when `max_seconds` starts to
            count; the job queue's own time limit starts there too).
        checkpoint: a file to keep the group's state in after every finished epoch
            (`limconn.checkpoints`), so a stopped or killed group can be resumed; `None`
            keeps none.
        resume_from: a checkpoint to continue from, to `config.epochs`: pass its `config`
            and `designs` too, and the data it trained on. The results' histories begin
            with the checkpoint's epochs.

    Returns:
        One `RunResult` per design, in order.

    Raises:
        ValueError: if there is no design, a design and the data disagree, `max_seconds`
            is not > 0, the test split does not fit the data, `config.init_from` cannot be
            used, or `resume_from` does not fit the config, the designs or the data.
    """
    if not designs:
        raise ValueError(f"train_group needs at least one design. Received: {designs!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0. Received: max_seconds={max_seconds!r}")
    for design in designs:
        _check_fits(design, dataset)
    data_hash = dataset.content_hash()
    if resume_from is not None:
        _check_resumable(resume_from, config, designs, data_hash)
    parent = _initial_weights_file(config, designs) if config.init_from else None
    dataset, test = dataset.hold_out(config.test_split)
    x_train, y_train, x_val, y_val = dataset.split(config.validation_split)
    w_train, w_val = dataset.split_weights(config.validation_split)
    head = Head(dataset.kind, dataset.output_dim, per_step=dataset.per_step)
    branches = [_build(config, design, x_train.shape[1:], head, parent) for design in designs]
    initial_weights = [branch.get_weights() for branch in branches]

    names = [f"branch_{index}" for index in range(len(branches))]
    named = dict(zip(names, branches, strict=True))
    # Designs that fuse run as the groups of one grouped LSTM (`limconn.fused`): one
    # recurrence for all of them; the others as sub-models side by side.
    group = fused_group(named, x_train.shape[1:])
    if group is None:
        group = join_branches(named, x_train.shape[1:])
    loss, metric = LOSS_AND_METRIC[dataset.kind]
    reporter = _Reporter(config, len(x_train), names, metric, on_progress, stop_event,
                         max_seconds, on_start)
    # Weighted metrics: with per-step weights, the loss and the metric are means over the
    # weighted steps (Keras's unweighted `metrics` would count weight-0 steps too).
    group.compile(
        optimizer=_optimizer(config, config.epochs * reporter.steps_per_epoch),
        loss=dict.fromkeys(names, loss),
        weighted_metrics={name: [_sample_loss(dataset.kind), metric] for name in names},
    )
    first_epoch = 0
    if resume_from is not None:
        first_epoch = _restore(group, resume_from, reporter)
        initial_weights = list(resume_from.initial_weights)
    early_stopping = None
    if config.early_stopping:
        watched = "val_loss" if len(x_val) else "loss"
        early_stopping = _EarlyStopping(branches, reporter.histories, watched,
                                        config.early_stopping)
    validation = None
    if len(x_val):
        validation = (x_val, dict.fromkeys(names, y_val), _per_branch(names, w_val))
    with tempfile.TemporaryDirectory(prefix="limconn-events-") as events_folder:
        board = _EventWriter(branches, reporter.histories, Path(events_folder))
        # In this order: early stopping, the board and the checkpointer read the histories
        # the reporter fills.
        callbacks = [reporter, *([early_stopping] if early_stopping else []), board]
        if checkpoint is not None:
            callbacks.append(_Checkpointer(Path(checkpoint), reporter, config, designs,
                                           initial_weights, data_hash))
        try:
            group.fit(
                epoch_batches(x_train, y_train, w_train, names, config.batch_size,
                              config.seed, first_epoch, config.epochs),
                steps_per_epoch=reporter.steps_per_epoch,
                initial_epoch=first_epoch,
                validation_data=validation,
                # As the test set: Keras's default for a generator's validation is 32.
                validation_batch_size=config.batch_size,
                epochs=config.epochs,
                shuffle=False,  # epoch_batches shuffles, by seed and epoch
                verbose=0,
                callbacks=callbacks,
            )
        finally:
            events = board.close()
    if early_stopping is not None:
        early_stopping.restore()
    scores = [{}] * len(branches)
    if test is not None:
        logs = group.evaluate(
            test.x, dict.fromkeys(names, test.y), sample_weight=_per_branch(names, test.weights),
            batch_size=config.batch_size, verbose=0, return_dict=True,
        )
        scores = [{f"test_{key}": value
                   for key, value in reporter.branch_logs(logs, prefix).items()}
                  for prefix in reporter.prefixes]

    results = []
    for branch, design, initial, history, branch_events, score in zip(
        branches, designs, initial_weights, reporter.histories, events, scores, strict=True
    ):
        results.append(RunResult(
            config=config,
            connectivity=design,
            dataset_name=dataset.name,
            dataset_description=dataset.description,
            kind=dataset.kind,
            status="stopped" if reporter.stop_reason else "done",
            stop_reason=reporter.stop_reason,
            history=history,
            wall_time=reporter.seconds(),
            weights=trained_weights(branch),
            max_masked_weight=max_masked_weight(branch),
            model=branch,
            initial_weights=initial,
            data_hash=data_hash,
            checkpoint=Path(checkpoint) if checkpoint and Path(checkpoint).is_file() else None,
            events=branch_events,
            test=score,
        ))
    return results


def join_branches(branches: dict[str, keras.Model], input_shape) -> keras.Model:
    """One model that runs every branch on the same inputs, each as a sub-model of its own.

    The outputs are a dict keyed by the branches' names. Nothing is shared but the inputs,
    so a branch's output and gradients do not depend on any other branch's weights, and
    with one loss per output (summed by Keras) each branch trains as it would alone.

    Args:
        branches: name -> model; the names must be unique, the models take `input_shape`.
        input_shape: `(timesteps, features)`.

    Example:

    >>> from limconn import presets
    >>> head = Head("regression", 1)
    >>> a, b = (build_model("kernel", presets.dense(2, n), (5, 2), head) for n in (3, 4))
    >>> sorted(join_branches({"a": a, "b": b}, (5, 2))(np.zeros((1, 5, 2))))
    ['a', 'b']
    """
    inputs = keras.Input(input_shape)
    # Each branch sits in a wrapper named after it: the branches keep the names
    # `build_model` gave them, which they share, and Keras needs unique names.
    outputs = {
        name: keras.Sequential([branch], name=name)(inputs) for name, branch in branches.items()
    }
    return keras.Model(inputs, outputs)


def stop_on_interrupt(
    work: Callable[[threading.Event], _Result], on_interrupt: Callable[[], Any] | None = None
) -> tuple[_Result, bool]:
    """Runs `work(stop_event)` in a thread and turns Ctrl-C into a stop.

    Python delivers Ctrl-C to the main thread as `KeyboardInterrupt`; training in another
    thread lets the main thread set the stop event instead, so training ends after its batch
    and its partial runs are kept. (An interrupt that comes before this is in place is lost,
    so Ray tasks read their stop from a board instead: `limconn.raystop`.) A second
    Ctrl-C abandons the work. The main thread waits on a queue, not on `Thread.join`: a
    join interrupted by Ctrl-C can leave `is_alive()` False while the thread still runs
    (seen on CPython 3.11).

    Args:
        work: takes the stop event; what it returns is returned.
        on_interrupt: called at the first Ctrl-C (e.g. to say that the run is stopping).

    Returns:
        What `work` returned, and whether Ctrl-C stopped it.

    Raises:
        KeyboardInterrupt: at a second Ctrl-C.
        Exception: whatever `work` raised, re-raised here.
    """
    stop = threading.Event()
    outcome: queue.Queue = queue.Queue()

    def run():
        try:
            outcome.put((work(stop), None))
        except Exception as error:  # re-raised in the calling thread below
            outcome.put((None, error))

    threading.Thread(target=run, name="limconn-train", daemon=True).start()
    while True:
        try:
            result, error = outcome.get(timeout=0.1)
        except queue.Empty:
            continue
        except KeyboardInterrupt:
            if stop.is_set():
                raise
            stop.set()
            if on_interrupt is not None:
                on_interrupt()
        else:
            break
    if error is not None:
        raise error
    return result, stop.is_set()


def _check_fits(design: Connectivity, dataset: Dataset) -> None:
    if design.input_dim != dataset.input_dim:
        raise ValueError(
            f"The design has {design.input_dim} inputs but the data has "
            f"{dataset.input_dim} features. Resize the design or choose other data."
        )


def _build(config, design, input_shape, head, parent: Path | None) -> keras.Model:
    """One branch, initialised as a run of its own would be: seeded right before its build."""
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.strategy, design, input_shape, head, **config.strategy_options)
    if config.l1 or config.l2:
        penalize_lstm_weights(model, l1=config.l1, l2=config.l2)
    if parent is not None:
        try:
            model.load_weights(parent)
        except ValueError as error:
            raise ValueError(
                f"The initial weights in {parent} do not fit this model (the data's outputs "
                f"must match the parent run's too): {error}"
            ) from error
        zero_masked_weights(model)
    return model


def _initial_weights_file(config: TrainConfig, designs: Sequence[Connectivity]) -> Path:
    """The parent run's initial weights, after checking that the runs can start from them.

    Raises:
        ValueError: naming the parent folder and what does not match.
    """
    from limconn import runs  # here, not at the top: limconn.runs imports this module

    parent = runs.read_run_folder(config.init_from)
    path = parent.info.path / runs.INITIAL_WEIGHTS_FILE
    if not path.is_file():
        raise ValueError(
            f"init_from: the run folder {config.init_from} has no {runs.INITIAL_WEIGHTS_FILE} "
            "(it was trained before limconn kept initial weights); train the parent again."
        )
    parent_sizes = (parent.config.strategy, parent.connectivity.input_dim,
                    parent.connectivity.units)
    for design in designs:
        child_sizes = (config.strategy, design.input_dim, design.units)
        if child_sizes != parent_sizes:
            raise ValueError(
                f"init_from: the parent run {config.init_from} has strategy, inputs, units "
                f"{parent_sizes}; a child must have the same. Received: {child_sizes}"
            )
    return path


def _per_branch(names: list[str], weights: np.ndarray | None) -> dict | None:
    """Per-step weights for every branch's output: Keras takes weights of shape
    `(samples, steps)` for a model of several outputs only as one array per output."""
    return None if weights is None else dict.fromkeys(names, weights)


def _optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """The configured optimizer; at the config's defaults, Keras's with only the learning
    rate set. Clipping and weight decay act on each weight on its own, so a branch of a
    group gets what a run alone gets."""
    settings: dict[str, Any] = {"learning_rate": config.learning_rate}
    if config.lr_schedule != "constant" or config.warmup_steps:
        settings["learning_rate"] = LearningRate(
            config.learning_rate, config.lr_schedule, config.warmup_steps, total_steps)
    if config.clipnorm:
        settings["clipnorm"] = config.clipnorm
    if config.weight_decay is not None:
        settings["weight_decay"] = config.weight_decay
    optimizer = keras.optimizers.get(config.optimizer)
    return type(optimizer)(**settings)


@keras.saving.register_keras_serializable(package="limconn")
class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate with a linear warm-up, then constant, cosine or exponential decay.

    Over the first `warmup_steps` optimizer steps the rate rises linearly to
    `learning_rate` (step `s` gets `learning_rate * (s + 1) / warmup_steps`); then, over
    the remaining steps up to `total_steps`, `constant` keeps it, `cosine` brings it down
    to 0 along half a cosine, and `exponential` multiplies it by 0.01 in all (a constant
    factor per step). Past `total_steps` it stays at its last value.

    Args:
        learning_rate: the peak rate, > 0.
        kind: `"constant"`, `"cosine"` or `"exponential"` (`LR_SCHEDULES`).
        warmup_steps: steps of linear warm-up, >= 0.
        total_steps: all the steps of the run, >= 1.

    Example:

    >>> schedule = LearningRate(0.1, "cosine", warmup_steps=2, total_steps=12)
    >>> [round(float(schedule(step)), 3) for step in (0, 1, 2, 7, 12)]
    [0.05, 0.1, 0.1, 0.05, 0.0]
    """

    EXPONENTIAL_END = 0.01
    """The exponential schedule's last rate, as a share of `learning_rate`."""

    def __init__(self, learning_rate: float, kind: str, warmup_steps: int, total_steps: int):
        if kind not in LR_SCHEDULES:
            raise ValueError(f"kind must be one of {LR_SCHEDULES}. Received: kind={kind!r}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1. Received: total_steps={total_steps!r}")
        self.learning_rate = learning_rate
        self.kind = kind
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        if self.kind == "cosine":
            rate = self.learning_rate * 0.5 * (1.0 + ops.cos(np.pi * progress))
        elif self.kind == "exponential":
            rate = self.learning_rate * ops.power(self.EXPONENTIAL_END, progress)
        else:
            rate = self.learning_rate * ops.ones_like(progress)
        if not self.warmup_steps:
            return rate
        warming = self.learning_rate * (step + 1.0) / self.warmup_steps
        return ops.where(step < self.warmup_steps, warming, rate)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "kind": self.kind,
                "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


def _sample_loss(kind: str) -> keras.metrics.Metric:
    """The loss as a metric: its mean over samples, as a model's own `loss` is reported.

    Keras's per-output losses average the batches' means without weighting them by size,
    so with a short last batch they differ from the `loss` of a model trained alone.
    """
    if kind == "classification":
        return keras.metrics.SparseCategoricalCrossentropy(name=_SAMPLE_LOSS)
    return keras.metrics.MeanSquaredError(name=_SAMPLE_LOSS)


class _Reporter(keras.callbacks.Callback):
    """Turns Keras's callbacks into per-branch `Progress` events and histories; honours stops.

    A stop is checked after every training batch and every validation batch: once stopped,
    training ends after the batch and validation after its batch, so a long validation
    pass cannot overrun the time limit.
    """

    def __init__(self, config, train_samples, names, metric, on_progress, stop_event,
                 max_seconds, on_start=None):
        super().__init__()
        self.epochs = config.epochs
        self.seed = config.seed
        self.steps_per_epoch = max(1, -(-train_samples // config.batch_size))
        # With one output, Keras leaves the output's name out of its logs.
        self.prefixes = [f"{name}_" if len(names) > 1 else "" for name in names]
        self.metric = metric
        self.on_progress = on_progress
        self.stop_event = stop_event
        self.max_seconds = max_seconds
        self.on_start = on_start
        self.histories: list[list[dict]] = [[] for _ in names]
        self.stop_reason = ""
        self.validation_cut = False
        self.epoch = 1
        self.started: float | None = None
        self.earlier_seconds = 0.0

    def elapsed(self) -> float:
        """Seconds since the first batch began (0 before)."""
        return 0.0 if self.started is None else time.perf_counter() - self.started

    def seconds(self) -> float:
        """Training time of the runs: `elapsed`, plus that of a checkpoint resumed from."""
        return self.earlier_seconds + self.elapsed()

    def on_train_batch_begin(self, batch, logs=None):
        if self.started is None:
            self.started = time.perf_counter()
            if self.on_start is not None:
                self.on_start()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self._emit("batch", batch + 1, logs)
        self._check_stop()

    def on_test_batch_end(self, batch, logs=None):
        if self._check_stop():
            self.validation_cut = True
            self.model.stop_evaluating = True

    def on_epoch_end(self, epoch, logs=None):
        for history, prefix in zip(self.histories, self.prefixes, strict=True):
            row = self.branch_logs(logs, prefix)
            history.append({"epoch": epoch + 1, **row, "seconds": self.seconds()})
        self._emit("epoch", self.steps_per_epoch, logs)

    def _check_stop(self) -> bool:
        """Whether the group is stopping; sets the reason and tells Keras the first time."""
        if not self.stop_reason:
            if self.stop_event is not None and self.stop_event.is_set():
                self.stop_reason = "stopped by request"
            elif self.max_seconds is not None and self.elapsed() > self.max_seconds:
                self.stop_reason = f"time limit of {self.max_seconds:g} s reached"
        if self.stop_reason:
            self.model.stop_training = True
        return bool(self.stop_reason)

    def branch_logs(self, logs, prefix: str) -> dict[str, float]:
        """One branch's values from the group's logs, named as in a model of its own.

        The branch's `loss` is its `_SAMPLE_LOSS` metric; validation values are left out
        when a stop cut the validation pass short.
        """
        stages = ("",) if self.validation_cut else ("", "val_")
        values = {}
        for stage in stages:
            for name, key in (("loss", _SAMPLE_LOSS), (self.metric, self.metric)):
                if f"{stage}{prefix}{key}" in (logs or {}):
                    values[f"{stage}{name}"] = float(logs[f"{stage}{prefix}{key}"])
        return values

    def _emit(self, kind: str, step: int, logs) -> None:
        if self.on_progress is None:
            return
        done = (self.epoch - 1) * self.steps_per_epoch + step
        total = self.epochs * self.steps_per_epoch
        elapsed = self.seconds()
        eta = elapsed / done * (total - done) if done else 0.0
        for branch, prefix in enumerate(self.prefixes):
            self.on_progress(Progress(
                kind, self.epoch, self.epochs, step, self.steps_per_epoch,
                self.branch_logs(logs, prefix), elapsed, eta, branch=branch, seed=self.seed,
            ))


# --------------------------------------------------------------------------------------------
# Shuffling by epoch, checkpoints and resuming (`limconn.checkpoints`)
# --------------------------------------------------------------------------------------------


def epoch_batches(x, y, weights, names: list[str], batch_size: int, seed: int,
                  first_epoch: int, epochs: int):
    """The training batches of epochs `first_epoch` to `epochs - 1`, for `fit`.

    Each epoch's order is `_epoch_order(seed, epoch, samples)`, drawn from `(seed, epoch)`
    alone, so a run resumed at an epoch sees the very batches an uninterrupted run with that
    seed sees (Keras's own shuffling draws from a generator whose state a new process would
    not have), on every backend alike. Gives `(x, {name: y}, {name: weights})` per batch;
    without weights, `(x, {name: y})`. On TensorFlow the batches are gathered by tf.data (a
    Python generator of batches made the app's default run 1.5x slower there); on other
    backends, which train on NumPy batches, by a Python generator.
    """
    if keras.config.backend() == "tensorflow":
        return _tf_data_batches(x, y, weights, names, batch_size, seed, first_epoch, epochs)
    return _numpy_batches(x, y, weights, names, batch_size, seed, first_epoch, epochs)


def _epoch_order(seed: int, epoch: int, samples: int) -> np.ndarray:
    """The order of the samples in epoch `epoch` (0-based) of a run with `seed`."""
    return np.random.default_rng([seed, int(epoch)]).permutation(samples)


def _numpy_batches(x, y, weights, names, batch_size, seed, first_epoch, epochs):
    for epoch in range(first_epoch, epochs):
        order = _epoch_order(seed, epoch, len(x))
        for start in range(0, len(x), batch_size):
            rows = order[start:start + batch_size]
            batch = (x[rows], dict.fromkeys(names, y[rows]))
            yield batch if weights is None else (*batch, _per_branch(names, weights[rows]))


def _tf_data_batches(x, y, weights, names, batch_size, seed, first_epoch, epochs):
    import tensorflow as tf

    def rows_of(epoch):
        rows = tf.numpy_function(lambda e: _epoch_order(seed, e, len(x)), [epoch], tf.int64,
                                 stateful=False)
        rows.set_shape([len(x)])
        return tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)

    inputs, targets = tf.constant(x), tf.constant(y)
    step_weights = None if weights is None else tf.constant(weights)

    def gather(rows):
        batch = (tf.gather(inputs, rows), dict.fromkeys(names, tf.gather(targets, rows)))
        if step_weights is None:
            return batch
        return (*batch, _per_branch(names, tf.gather(step_weights, rows)))

    return (tf.data.Dataset.range(first_epoch, epochs).flat_map(rows_of)
            .map(gather).prefetch(tf.data.AUTOTUNE))


def _check_resumable(checkpoint: Checkpoint, config: TrainConfig,
                     designs: Sequence[Connectivity], data_hash: str) -> None:
    if config != checkpoint.config or len(designs) != len(checkpoint.designs):
        raise ValueError("Resume a checkpoint with its own config and designs "
                         "(`checkpoint.config`, `checkpoint.designs`). Received: "
                         f"{len(designs)} design(s) and config {config.to_dict()}")
    checkpoint.check_resumable(data_hash)


def _restore(group: keras.Model, checkpoint: Checkpoint, reporter: _Reporter) -> int:
    """Puts a checkpoint's weights, optimizer state, histories and time into a compiled
    group; returns the epoch to start at (0-based)."""
    group.optimizer.build(group.trainable_variables)
    for variables, values, what in ((group.weights, checkpoint.model_weights, "weights"),
                                    (group.optimizer.variables,
                                     checkpoint.optimizer_variables, "optimizer variables")):
        if len(variables) != len(values):
            raise ValueError(f"The checkpoint does not fit this model: it has {len(values)} "
                             f"{what}, the model {len(variables)}.")
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)
    for history, kept in zip(reporter.histories, checkpoint.histories, strict=True):
        history[:] = kept  # in place: early stopping and the event writer hold these lists
    reporter.earlier_seconds = checkpoint.seconds
    return checkpoint.epoch


class _Checkpointer(keras.callbacks.Callback):
    """Writes the group's checkpoint after every epoch that finished (not one a stop cut
    short: the reporter's stop reason is set then)."""

    def __init__(self, path: Path, reporter: _Reporter, config, designs, initial_weights,
                 data_hash: str):
        super().__init__()
        self.path, self.reporter = path, reporter
        self.config, self.designs = config, tuple(designs)
        self.initial_weights, self.data_hash = tuple(initial_weights), data_hash

    def on_epoch_end(self, epoch, logs=None):
        if self.reporter.stop_reason:
            return
        write_checkpoint(self.path, Checkpoint(
            epoch=epoch + 1, config=self.config, designs=self.designs,
            histories=tuple(self.reporter.histories), seconds=self.reporter.seconds(),
            data_hash=self.data_hash, initial_weights=self.initial_weights,
            model_weights=[v.numpy() for v in self.model.weights],
            optimizer_variables=[v.numpy() for v in self.model.optimizer.variables],
        ))


class _EventWriter(keras.callbacks.Callback):
    """Writes each branch's TensorBoard events after every epoch, into a folder of its own.

    Per epoch: every value of the branch's history row (`loss`, `val_loss`, the metric and
    its `val_` twin, under the history's names), the optimizer's `learning_rate`, and a
    histogram of every effective weight (`trained_weights`: a masked entry is exactly 0)
    under `effective/<name>` (`limconn.event_files`: TensorBoard's formats, on any
    backend). `close` returns each branch's event file as bytes: runs are written at the
    end (`limconn.runs.write_run_folder`), and the folder given here is temporary.
    """

    def __init__(self, branches, histories: list[list[dict]], folder: Path):
        super().__init__()
        self.branches = branches
        self.histories = histories
        self.files = [EventFile(folder / str(index)) for index in range(len(branches))]

    def on_epoch_end(self, epoch, logs=None):
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        for branch, history, events in zip(self.branches, self.histories, self.files,
                                           strict=True):
            row = history[-1]
            scalars = {key: value for key, value in row.items()
                       if key not in ("epoch", "seconds")}
            for tag, value in {**scalars, "learning_rate": rate}.items():
                events.scalar(tag, value, step=row["epoch"])
            for name, values in trained_weights(branch).items():
                events.histogram(f"effective/{name}", values, step=row["epoch"])

    def close(self) -> list[bytes]:
        """Closes the files; each branch's event file's bytes."""
        return [events.close() for events in self.files]


class _EarlyStopping(keras.callbacks.Callback):
    """Early stopping for each branch of a group, as each run alone would do it.

    After every epoch, a branch whose watched value improved keeps a copy of its weights;
    one that has not improved for `patience` epochs has ended, at that epoch. Once every
    branch has ended, the group stops. `restore()` then cuts each branch's history at its
    end and gives it its best weights back.

    Args:
        branches: the branch models, in order.
        histories: the reporter's per-branch histories (filled before this callback runs).
        watched: `"val_loss"`, or `"loss"` without validation data.
        patience: epochs without improvement before a branch ends, >= 1.
    """

    def __init__(self, branches, histories, watched: str, patience: int):
        super().__init__()
        self.branches = branches
        self.histories = histories
        self.watched = watched
        self.patience = patience
        self.best: list[tuple[float, int, list[np.ndarray]] | None] = [None] * len(branches)
        self.ends: list[int | None] = [None] * len(branches)

    def on_epoch_end(self, epoch, logs=None):
        for index, (branch, history) in enumerate(zip(self.branches, self.histories,
                                                      strict=True)):
            value = history[-1].get(self.watched)
            if self.ends[index] is not None or value is None:
                continue
            best = self.best[index]
            if best is None or value < best[0]:
                self.best[index] = (value, epoch + 1, branch.get_weights())
            elif epoch + 1 - best[1] >= self.patience:
                self.ends[index] = epoch + 1
        if all(end is not None for end in self.ends):
            self.model.stop_training = True

    def restore(self) -> None:
        """Each branch's history up to its end, and its best epoch's weights."""
        for index, (branch, best, end) in enumerate(zip(self.branches, self.best, self.ends,
                                                        strict=True)):
            if end is not None:
                del self.histories[index][end:]
            if best is not None:
                branch.set_weights(best[2])
