"""What a run is made of, as plain values: its settings (`TrainConfig`) and its progress
events (`Progress`). No Keras here: the app's pages, the CLI's parser and the run store read
these without loading TensorFlow; `limconn.training` trains with them.
"""

from __future__ import annotations

import dataclasses

from limconn.strategies import STRATEGIES

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
        init_from: a run folder whose initial weights the run starts from (a lottery-ticket
            retrain), or `""` for fresh weights. The parent must have the same strategy,
            inputs, units and outputs; the child's design may mask more: its masked
            weights start at exactly 0, the others at the parent's initial values.
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
