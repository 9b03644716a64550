"""Train one masked model: config in, history, metrics and weights out. No Streamlit here.

`train()` reads top to bottom: seed, split, build, fit with a progress callback, collect.
Progress goes to a plain callable; a `threading.Event` stops training within one batch;
a stopped run returns its partial history like a finished one.

Determinism: with the same config, design, data and seed, a run on CPU gives the same
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
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from limconn._tf import keras
from limconn.connectivity import Connectivity
from limconn.data import Dataset
from limconn.enforcement import max_masked_weight, trained_weights
from limconn.strategies import STRATEGIES, Head, build_model

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything about a run except the design and the data. Plain values, JSON-ready.

    Args:
        strategy: a name in `STRATEGIES`.
        strategy_options: the strategy's own parameters (e.g. `{"rate": 0.3}`).
        epochs: passes over the training data.
        batch_size: sequences per optimizer step.
        learning_rate: the optimizer's learning rate.
        optimizer: one of `OPTIMIZERS`.
        seed: seeds weight initialisation, shuffling and random strategies.
        validation_split: share of the data held out (time-ordered data keeps its own split).
        name: a label for the run.
    """

    strategy: str = "kernel"
    strategy_options: dict = dataclasses.field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.01
    optimizer: str = "adam"
    seed: int = 0
    validation_split: float = 0.2
    name: str = ""

    def __post_init__(self):
        STRATEGIES.get(self.strategy)
        bounds = {
            "epochs": (self.epochs >= 1, ">= 1"),
            "batch_size": (self.batch_size >= 1, ">= 1"),
            "learning_rate": (0 < self.learning_rate <= 10, "in (0, 10]"),
            "validation_split": (0 <= self.validation_split <= 0.9, "in [0, 0.9]"),
        }
        for name, (within, bound) in bounds.items():
            if not within:
                received = getattr(self, name)
                raise ValueError(f"{name} must be {bound}. Received: {name}={received!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {OPTIMIZERS}. Received: optimizer={self.optimizer!r}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclasses.dataclass(frozen=True)
class Progress:
    """One progress event, sent after every batch (`kind="batch"`) and every epoch.

    `logs` holds Keras's running values (`loss`, a metric, and at epoch end `val_loss`, ...).
    `eta` is the estimated seconds left, from the mean time per step so far.
    """

    kind: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    logs: dict
    elapsed: float
    eta: float

    @property
    def fraction(self) -> float:
        """Share of all steps done, in [0, 1]."""
        done = (self.epoch - 1) * self.steps_per_epoch + self.step
        return min(1.0, done / max(1, self.epochs * self.steps_per_epoch))


@dataclasses.dataclass
class RunResult:
    """What a run produced.

    Attributes:
        config: the `TrainConfig`.
        connectivity: the design trained.
        dataset_name, dataset_description, kind: what it trained on.
        status: `"done"` or `"stopped"` (by the stop event or the time limit).
        history: one dict per epoch: `epoch`, `loss`, `val_loss`, metrics, and `seconds`
            since training began. A stopped run's last row covers the part of its epoch
            that ran (Keras ends the epoch, validation included, when training stops).
        wall_time: seconds spent in `fit`.
        weights: the trained weights the model computes with, as
            `limconn.enforcement.trained_weights` returns them (the LSTM's per gate, the
            projection's if any, the readout's).
        max_masked_weight: the largest |stored weight| at a position the strategy masks
            (must be 0), or `None` if the strategy masks no weights.
        model: the trained `keras.Model`.
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
    stop_reason: str = ""

    @property
    def metrics(self) -> dict[str, float]:
        """Final and best values of the history, plus epochs run and wall time."""
        summary: dict[str, float] = {"epochs_run": len(self.history), "wall_time": self.wall_time}
        if self.history:
            for key, value in self.history[-1].items():
                if key not in ("epoch", "seconds"):
                    summary[f"final_{key}"] = value
            watched = "val_loss" if "val_loss" in self.history[-1] else "loss"
            summary[f"best_{watched}"] = min(row[watched] for row in self.history)
        return summary


ProgressCallback = Callable[[Progress], Any]


def train(
    config: TrainConfig,
    connectivity: Connectivity,
    dataset: Dataset,
    on_progress: ProgressCallback | None = None,
    stop_event: threading.Event | None = None,
    max_seconds: float | None = None,
) -> RunResult:
    """Trains `connectivity` on `dataset` with `config`; see the module docstring.

    Args:
        config: the run's settings.
        connectivity: the design; its `input_dim` must equal the dataset's features.
        dataset: the data; its `kind` picks the head and the loss.
        on_progress: called with a `Progress` after every batch and every epoch.
        stop_event: when set, training stops after the current batch.
        max_seconds: stop (keeping the run) once this much time has passed.

    Raises:
        ValueError: if the design and the data disagree.
    """
    if connectivity.input_dim != dataset.input_dim:
        raise ValueError(
            f"The design has {connectivity.input_dim} inputs but the data has "
            f"{dataset.input_dim} features. Resize the design or choose other data."
        )
    keras.utils.set_random_seed(config.seed)
    x_train, y_train, x_val, y_val = dataset.split(config.validation_split)
    classification = dataset.kind == "classification"
    head = Head(dataset.kind, dataset.output_dim)
    model = build_model(
        config.strategy, connectivity, x_train.shape[1:], head, **config.strategy_options
    )
    model.compile(
        optimizer=keras.optimizers.get(
            {"class_name": config.optimizer, "config": {"learning_rate": config.learning_rate}}
        ),
        loss="sparse_categorical_crossentropy" if classification else "mse",
        metrics=["accuracy" if classification else "mae"],
    )
    reporter = _Reporter(config, len(x_train), on_progress, stop_event, max_seconds)
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val) if len(x_val) else None,
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[reporter],
    )
    return RunResult(
        config=config,
        connectivity=connectivity,
        dataset_name=dataset.name,
        dataset_description=dataset.description,
        kind=dataset.kind,
        status="stopped" if reporter.stop_reason else "done",
        stop_reason=reporter.stop_reason,
        history=reporter.history,
        wall_time=reporter.elapsed(),
        weights=trained_weights(model),
        max_masked_weight=max_masked_weight(model),
        model=model,
    )


class _Reporter(keras.callbacks.Callback):
    """Turns Keras's callbacks into `Progress` events, records the history, honours stops."""

    def __init__(self, config, train_samples, on_progress, stop_event, max_seconds):
        super().__init__()
        self.epochs = config.epochs
        self.steps_per_epoch = max(1, -(-train_samples // config.batch_size))
        self.on_progress = on_progress
        self.stop_event = stop_event
        self.max_seconds = max_seconds
        self.history: list[dict] = []
        self.stop_reason = ""
        self.epoch = 1
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self._emit("batch", batch + 1, logs)
        if self.stop_event is not None and self.stop_event.is_set():
            self._stop("stopped by request")
        elif self.max_seconds is not None and self.elapsed() > self.max_seconds:
            self._stop(f"time limit of {self.max_seconds:g} s reached")

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **_floats(logs), "seconds": self.elapsed()}
        self.history.append(row)
        self._emit("epoch", self.steps_per_epoch, logs)

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.model.stop_training = True

    def _emit(self, kind: str, step: int, logs) -> None:
        if self.on_progress is None:
            return
        done = (self.epoch - 1) * self.steps_per_epoch + step
        total = self.epochs * self.steps_per_epoch
        elapsed = self.elapsed()
        eta = elapsed / done * (total - done) if done else 0.0
        self.on_progress(
            Progress(kind, self.epoch, self.epochs, step, self.steps_per_epoch, _floats(logs),
                     elapsed, eta)
        )


def _floats(logs) -> dict[str, float]:
    return {key: float(value) for key, value in (logs or {}).items()}
