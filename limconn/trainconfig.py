"""What a run is made of, as plain values: its settings (`TrainConfig`) and its progress
events (`Progress`). No Keras here: the app's pages, the CLI's parser and the run store read
these without loading TensorFlow; `limconn.training` trains with them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from limconn.strategies import STRATEGIES

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
LOSS_AND_METRIC = {
    "regression": ("mse", "mae"),
    "classification": ("sparse_categorical_crossentropy", "accuracy"),
}
"""The loss a run minimises and the metric it reports, per kind of data. With per-step
targets both are means over the steps, weighted by the data's per-step weights
(`limconn.training` trains with them; `limconn.evaluation` and `limconn.analysis` score
with them)."""
LR_SCHEDULES = ("constant", "cosine", "exponential")
"""How the learning rate moves after the warm-up (`limconn.training.LearningRate`)."""


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
        init_from: a run folder whose initial weights the run starts from (a lottery-ticket
            retrain), or `""` for fresh weights. The parent must have the same strategy,
            inputs, units and outputs; the child's design may mask more: its masked
            weights start at exactly 0, the others at the parent's initial values.
        test_split: share of the data held out as a test set before the validation split
            (the last samples, after the validation part of time-ordered data), never
            seen by training or early stopping; the run reports its loss and metric on it
            at the end. `validation_split` is then a share of the rest. 0: no test set.
        early_stopping: patience in epochs: stop once the validation loss (the training
            loss without validation data) has not improved for this many epochs, and
            restore the best epoch's weights. 0: off.
        lr_schedule: one of `LR_SCHEDULES`: `constant`; `cosine`, from `learning_rate`
            down to 0 at the last step; `exponential`, down to `learning_rate / 100`.
        warmup_steps: optimizer steps over which the learning rate rises linearly to
            `learning_rate` before the schedule begins. 0: none.
        clipnorm: clip each weight's gradient to this L2 norm. 0: no clipping.
        weight_decay: the optimizer's decoupled weight decay; `None` keeps the
            optimizer's own default (AdamW's 0.004, none for the others).
        l1: L1 penalty on the LSTM's *effective* input and recurrent weights (a masked
            weight contributes nothing), added to the loss it minimises (the reported
            `loss` is the data's loss alone). 0: none.
        l2: L2 penalty on the same weights. 0: none.

    Raises:
        ValueError: for a value out of range or of the wrong type; the message names the
            field and the received value.

    Example:

    >>> TrainConfig(test_split=0.2, early_stopping=3, lr_schedule="cosine").test_split
    0.2
    >>> TrainConfig(clipnorm=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: clipnorm must be >= 0 (0: off). Received: clipnorm=-1.0
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
    init_from: str = ""
    test_split: float = 0.0
    early_stopping: int = 0
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    clipnorm: float = 0.0
    weight_decay: float | None = None
    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        STRATEGIES.get(self.strategy)
        integers = ("epochs", "batch_size", "early_stopping", "warmup_steps")
        reals = ("learning_rate", "validation_split", "test_split", "clipnorm", "l1", "l2")
        for name in (*integers, *reals, "weight_decay"):
            value = getattr(self, name)
            if name == "weight_decay" and value is None:
                continue
            allowed = numbers.Integral if name in integers else numbers.Real
            if not isinstance(value, allowed) or isinstance(value, bool) or not math.isfinite(
                    value):
                kind = "an integer" if name in integers else "a finite number"
                raise ValueError(f"{name} must be {kind}. Received: {name}={value!r}")
        bounds = {
            "epochs": (self.epochs >= 1, ">= 1"),
            "batch_size": (self.batch_size >= 1, ">= 1"),
            "learning_rate": (0 < self.learning_rate <= 10, "in (0, 10]"),
            "validation_split": (0 <= self.validation_split <= 0.9, "in [0, 0.9]"),
            "test_split": (0 <= self.test_split <= 0.5, "in [0, 0.5]"),
            "early_stopping": (self.early_stopping >= 0, ">= 0 (0: off)"),
            "warmup_steps": (self.warmup_steps >= 0, ">= 0"),
            "clipnorm": (self.clipnorm >= 0, ">= 0 (0: off)"),
            "weight_decay": (self.weight_decay is None or self.weight_decay >= 0,
                             ">= 0 or None (the optimizer's default)"),
            "l1": (self.l1 >= 0, ">= 0"),
            "l2": (self.l2 >= 0, ">= 0"),
        }
        for name, (within, bound) in bounds.items():
            if not within:
                received = getattr(self, name)
                raise ValueError(f"{name} must be {bound}. Received: {name}={received!r}")
        if self.validation_split + self.test_split > 0.9:
            raise ValueError(
                "validation_split + test_split must be <= 0.9, to leave data to train on. "
                f"Received: validation_split={self.validation_split!r}, "
                f"test_split={self.test_split!r}"
            )
        for name, allowed in (("optimizer", OPTIMIZERS), ("lr_schedule", LR_SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {allowed}. Received: {name}={getattr(self, name)!r}"
                )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclasses.dataclass(frozen=True)
class Progress:
    """One progress event of one run, sent after every batch (`kind="batch"`) and every epoch.

    `logs` holds the run's running values (`loss`, a metric, and at epoch end `val_loss`,
    ...). `eta` is the estimated seconds left, from the mean time per step so far. A group
    sends one event per branch: `branch` is the run's place in the designs given to
    `train_group` (0 for `train`) and `seed` the group's seed (a sweep trains one group per
    seed).
    """

    kind: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    logs: dict
    elapsed: float
    eta: float
    branch: int = 0
    seed: int = 0

    @property
    def fraction(self) -> float:
        """Share of all steps done, in [0, 1]."""
        done = (self.epoch - 1) * self.steps_per_epoch + self.step
        return min(1.0, done / max(1, self.epochs * self.steps_per_epoch))
