"""The dataset type every source becomes: sequences and their targets.

A `Dataset` holds float32 sequences `x` of shape `(samples, timesteps, features)` and either
one target per sequence (many-to-one: the LSTM's last hidden state feeds the readout) or one
target per step (`per_step`: the readout reads the hidden state at every step), with
optional per-step loss weights. It checks its own fields on construction, so that every
loader and task shares one set of rules and one set of messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from limconn.data._checks import check_fraction

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("regression", "classification")


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Per-column mean and standard deviation, fitted on the training rows of a CSV.

    `load_csv` scales every column it uses as `(value - mean) / std` and keeps this on the
    `Dataset`, so that predictions can be mapped back to the file's units.

    Args:
        mean: column name -> mean over the training rows.
        std: column name -> standard deviation over the training rows (1.0 where it was 0).

    Example:

    >>> norm = Normalization(mean={"co2": 340.0}, std={"co2": 17.0})
    >>> norm.denormalize(np.array([[1.0]]), ["co2"])
    array([[357.]])
    """

    mean: dict[str, float]
    std: dict[str, float]

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> Normalization:
        """Fits mean and (population) standard deviation of every column of `rows`."""
        mean = rows.mean()
        std = rows.std(ddof=0)
        return cls(
            mean={str(c): float(mean[c]) for c in rows.columns},
            std={str(c): float(std[c]) if std[c] != 0 else 1.0 for c in rows.columns},
        )

    def normalize(self, values: np.ndarray, columns: Sequence[str]) -> np.ndarray:
        """Scales `values` whose last axis holds `columns`, in that order."""
        mean, std = self._stats(columns)
        return (values - mean) / std

    def denormalize(self, values: np.ndarray, columns: Sequence[str]) -> np.ndarray:
        """Maps normalised `values` (last axis = `columns`) back to the file's units."""
        mean, std = self._stats(columns)
        return values * std + mean

    def _stats(self, columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        unknown = [c for c in columns if c not in self.mean]
        if unknown:
            raise ValueError(
                f"No normalisation was fitted for column(s) {unknown}. "
                f"Fitted columns: {list(self.mean)}."
            )
        return (
            np.array([self.mean[c] for c in columns]),
            np.array([self.std[c] for c in columns]),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Sequences and their targets: one per sequence, or one per step (`per_step`).

    Synthetic tasks draw their samples independently, so any tail of them is a fair
    validation set. Time series loaded from a CSV are split in time order when they are
    loaded, and `validation_start` records where the validation part begins.

    Args:
        name: short name (the task's or the file's).
        description: one line for the app.
        kind: `"regression"` or `"classification"`.
        x: float32 array `(samples, timesteps, features)`.
        y: one target per sequence: regression float32 `(samples, outputs)`,
            classification int32 labels `(samples,)` in `0 .. num_classes - 1`. One target
            per step (`per_step`): regression `(samples, timesteps, outputs)`,
            classification `(samples, timesteps)`.
        num_classes: number of classes, classification only.
        feature_names: one name per feature, or empty.
        target_names: one name per output (regression: per target column; classification:
            per class), or empty.
        validation_start: samples from this index on are the validation part (time-ordered
            data); `None` lets `split` take a fraction from the end.
        normalization: the scaling `load_csv` applied, to map predictions back; `None` when
            the values are as they came.
        weights: per-step targets only: float32 `(samples, timesteps)`, each step's weight
            in the loss and the metrics (0 for a step that does not count, such as a
            fixation or delay period), finite and >= 0, some of them > 0; `None` weighs
            every step 1.

    Example:

    >>> from limconn.data import make_task
    >>> data = make_task("adding", num_samples=100, timesteps=10)
    >>> data.input_dim, data.timesteps, data.output_dim
    (2, 10, 1)
    >>> x_train, y_train, x_val, y_val = data.split(0.2)
    >>> len(x_train), len(x_val)
    (80, 20)

    Raises:
        ValueError: if an array has the wrong dtype or rank, `x` and `y` differ in length,
            values are not finite, labels are out of range, names do not match the
            dimensions, or weights do not fit per-step targets; the message names what came.
    """

    name: str
    description: str
    kind: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int | None = None
    feature_names: tuple[str, ...] = ()
    target_names: tuple[str, ...] = ()
    validation_start: int | None = None
    normalization: Normalization | None = None
    weights: np.ndarray | None = None

    def __post_init__(self):
        where = self.name or "Dataset"
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {KINDS}. Received: kind={self.kind!r}")
        if not _is_array(self.x, np.float32, ndim=3) or 0 in self.x.shape:
            raise ValueError(
                f"{where}: x must be a float32 array of shape (samples, timesteps, features), "
                f"none of them 0. Received: {_describe(self.x)}. Convert with "
                "x.astype(np.float32); for one feature per step, add an axis with x[..., None]."
            )
        if self.kind == "regression":
            self._check_regression_targets(where)
        else:
            self._check_classification_targets(where)
        if len(self.y) != len(self.x):
            raise ValueError(
                f"{where}: x has {len(self.x)} samples but y has {len(self.y)}. They must have "
                "the same first dimension, one target per sequence."
            )
        require_finite(self.x, f"{where}: x")
        self._check_steps(where)
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        object.__setattr__(self, "target_names", tuple(self.target_names))
        for field, names, size in (
            ("feature_names", self.feature_names, self.input_dim),
            ("target_names", self.target_names, self.output_dim),
        ):
            if names and len(names) != size:
                raise ValueError(
                    f"{where}: {field} must be empty or have {size} names. "
                    f"Received: {len(names)} names {names}."
                )
        start = self.validation_start
        if start is not None and not (
            isinstance(start, numbers.Integral) and 0 < start <= self.num_samples
        ):
            raise ValueError(
                f"{where}: validation_start must be None or a sample index in 1..{self.num_samples}"
                f" (training keeps at least one sample). Received: validation_start={start!r}"
            )

    def _check_regression_targets(self, where: str) -> None:
        if not (_is_array(self.y, np.float32, ndim=2) or _is_array(self.y, np.float32, ndim=3)
                ) or self.y.shape[-1] == 0:
            raise ValueError(
                f"{where}: regression targets y must be a float32 array of shape "
                "(samples, outputs), or (samples, timesteps, outputs) for one target per step. "
                f"Received: {_describe(self.y)}. For one output, use y[..., None]."
            )
        if self.num_classes is not None:
            raise ValueError(
                f"{where}: num_classes is for classification only. "
                f"Received: num_classes={self.num_classes!r} with kind='regression'."
            )
        require_finite(self.y, f"{where}: y")

    def _check_classification_targets(self, where: str) -> None:
        if not (_is_array(self.y, np.int32, ndim=1) or _is_array(self.y, np.int32, ndim=2)):
            raise ValueError(
                f"{where}: classification targets y must be int32 labels of shape (samples,), "
                f"or (samples, timesteps) for one label per step. Received: {_describe(self.y)}."
            )
        if not isinstance(self.num_classes, numbers.Integral) or self.num_classes < 2:
            raise ValueError(
                f"{where}: classification needs num_classes >= 2. "
                f"Received: num_classes={self.num_classes!r}"
            )
        if self.y.size and (self.y.min() < 0 or self.y.max() >= self.num_classes):
            raise ValueError(
                f"{where}: labels must lie in 0..{self.num_classes - 1}. "
                f"Received: labels from {self.y.min()} to {self.y.max()}."
            )

    def _check_steps(self, where: str) -> None:
        """Per-step targets cover every step; weights come only with them, one per step."""
        if self.per_step and self.y.shape[1] != self.timesteps:
            raise ValueError(
                f"{where}: per-step targets y need one target per step of x, "
                f"{self.timesteps} steps. Received: y of shape {self.y.shape}."
            )
        if self.weights is None:
            return
        if not self.per_step:
            raise ValueError(
                f"{where}: weights are per-step loss weights and need per-step targets y "
                f"(samples, timesteps, ...). Received: weights with y of shape {self.y.shape}."
            )
        if not _is_array(self.weights, np.float32, ndim=2) or (
                self.weights.shape != self.y.shape[:2]):
            raise ValueError(
                f"{where}: weights must be a float32 array of shape (samples, timesteps) = "
                f"{self.y.shape[:2]}. Received: {_describe(self.weights)}."
            )
        require_finite(self.weights, f"{where}: weights")
        if self.weights.min() < 0 or not self.weights.max() > 0:
            raise ValueError(
                f"{where}: weights must be >= 0 with some step > 0. Received: weights from "
                f"{self.weights.min()} to {self.weights.max()}."
            )

    @property
    def per_step(self) -> bool:
        """Whether there is one target per step (the readout reads every step)."""
        return self.y.ndim == (2 if self.kind == "classification" else 3)

    def check_fits(self, run_name: str, kind: str | None, input_dim: int, outputs: int,
                   per_step: bool, trained_on: str | None = None) -> None:
        """Refuses this data for a run trained on data of another kind, other features or
        outputs, or targets per step where the run reads out once per sequence (and the
        reverse), naming both. `trained_on`: the name of the run's own data, when known.

        Raises:
            ValueError: naming the run's shape and the received one.
        """
        was = (kind, input_dim, outputs, "per step" if per_step else "one per sequence")
        came = (self.kind, self.input_dim, self.output_dim,
                "per step" if self.per_step else "one per sequence")
        if was != came:
            source = "" if trained_on is None else f" on {trained_on!r}"
            raise ValueError(
                f"The run {run_name!r} was trained{source}: kind, features, outputs, targets "
                f"{was}; the data must have the same. Received: {came} ({self.name})"
            )

    @property
    def num_samples(self) -> int:
        return self.x.shape[0]

    @property
    def timesteps(self) -> int:
        return self.x.shape[1]

    @property
    def input_dim(self) -> int:
        return self.x.shape[2]

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays (inputs, targets and per-step weights): what it costs to keep
        or to spool."""
        weights = 0 if self.weights is None else self.weights.nbytes
        return int(self.x.nbytes + self.y.nbytes + weights)

    @property
    def output_dim(self) -> int:
        """Units of the dense head: outputs for regression, classes for classification."""
        return self.num_classes if self.kind == "classification" else self.y.shape[-1]

    def content_hash(self) -> str:
        """A SHA-256 of what training sees: the arrays' bytes, shapes and dtypes, the kind,
        the classes and a fixed validation start. Two datasets with the same hash give a
        run the same data; the name and description do not count.

        Example:

        >>> from limconn.data import make_task
        >>> a, b = (make_task("adding", num_samples=8, seed=s) for s in (0, 1))
        >>> a.content_hash() == make_task("adding", num_samples=8, seed=0).content_hash()
        True
        >>> a.content_hash() == b.content_hash()
        False
        """
        digest = hashlib.sha256(repr((self.kind, self.num_classes,
                                      self.validation_start)).encode())
        for array in (self.x, self.y, self.weights):
            if array is not None:
                digest.update(f"{array.dtype.str}{array.shape}".encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def constant_steps(self, value: float = 0.0) -> float:
        """The fraction of time steps whose features all equal `value`.

        A `Masking(value)` layer (the `timestep` strategy) skips exactly those steps, padding
        or not: a task with such steps loses them from view (the `copy` task's delay).
        """
        return float(np.all(self.x == value, axis=2).mean())

    def hold_out(self, test_split: float) -> tuple[Dataset, Dataset | None]:
        """Sets the last `test_split` share of the samples apart as a test set.

        The test samples come off the end, with their per-step weights, before any
        validation split: `split` on the rest never sees them. Time-ordered data keeps its
        validation part; the test part is the latest stretch of it.

        Args:
            test_split: fraction in [0, 1); 0 (or too few samples for one) gives
                `(self, None)`.

        Returns:
            The rest and the test set.

        Raises:
            ValueError: if `test_split` is outside [0, 1), or time-ordered data's validation
                part is not longer than the test part.

        Example:

        >>> from limconn.data import make_task
        >>> rest, test = make_task("adding", num_samples=100, timesteps=10).hold_out(0.1)
        >>> rest.num_samples, test.num_samples
        (90, 10)
        """
        check_fraction(test_split, "test_split")
        start = self.num_samples - int(self.num_samples * test_split)
        if start == self.num_samples:
            return self, None
        if self.validation_start is not None and self.validation_start >= start:
            raise ValueError(
                f"The test set must come from this time series' validation part, which "
                f"starts at sample {self.validation_start} of {self.num_samples}; a test "
                f"split of {test_split!r} would begin at sample {start}. Use a smaller "
                "test split or a larger validation split."
            )

        def part(rows: slice, validation_start: int | None) -> Dataset:
            return dataclasses.replace(
                self, x=self.x[rows], y=self.y[rows], validation_start=validation_start,
                weights=None if self.weights is None else self.weights[rows])

        return part(slice(None, start), self.validation_start), part(slice(start, None), None)

    def split(
        self, validation_split: float = 0.2
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Returns `x_train, y_train, x_val, y_val`.

        When `validation_start` is set (time series from `load_csv`), the split is the one
        made at loading time, without leakage, and `validation_split` is not used: load the
        file again with another `validation_split` to change it. Otherwise the last
        `validation_split` fraction of the samples is the validation part.

        Args:
            validation_split: fraction in [0, 1) for validation; 0 gives empty validation
                arrays.

        Raises:
            ValueError: if `validation_split` is outside [0, 1).
        """
        start = self._validation_start(validation_split)
        return self.x[:start], self.y[:start], self.x[start:], self.y[start:]

    def split_weights(
        self, validation_split: float = 0.2
    ) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """The per-step weights of `split`'s training and validation parts, or `None, None`.

        Raises:
            ValueError: if `validation_split` is outside [0, 1).
        """
        start = self._validation_start(validation_split)
        if self.weights is None:
            return None, None
        return self.weights[:start], self.weights[start:]

    def _validation_start(self, validation_split: float) -> int:
        check_fraction(validation_split)
        if self.validation_start is not None:
            return self.validation_start
        return self.num_samples - int(self.num_samples * validation_split)


def class_labels(
    values: np.ndarray, what: str, timesteps: int | None = None
) -> tuple[np.ndarray, int]:
    """int32 labels and the number of classes; labels must be 0..C-1 with every class present.

    Labels are one per sample `(samples,)`, or one per step `(samples, timesteps)` when
    `timesteps` is given and above 1.
    """
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    per_step = timesteps is not None and timesteps > 1 and values.shape[1:] == (timesteps,)
    if values.ndim != 1 and not per_step:
        steps = f" or one per step, shape (samples, {timesteps})" if timesteps else ""
        raise ValueError(
            f"{what}: classification needs one label per sample, shape (samples,){steps}. "
            f"Received: shape {values.shape}."
        )
    if values.dtype.kind == "f":
        require_finite(values, what)
        fractional = values[values != np.round(values)]
        if fractional.size:
            raise ValueError(
                f"{what}: class labels must be whole numbers. Received: {fractional.size} "
                f"fractional value(s), e.g. {fractional[0]}. For real-valued targets use "
                "kind='regression'."
            )
    classes = np.unique(values)
    if len(classes) < 2 or classes[0] != 0 or classes[-1] != len(classes) - 1:
        shown = ", ".join(str(c) for c in classes[:10]) + (" ..." if len(classes) > 10 else "")
        raise ValueError(
            f"{what}: class labels must be the integers 0..C-1, every class present, at least "
            f"2 classes. Received labels: {shown or 'none'}. Renumber them, e.g. with "
            "np.unique(y, return_inverse=True)[1], or use kind='regression'."
        )
    return values.astype(np.int32), len(classes)


def require_finite(values: np.ndarray, what: str) -> None:
    num_nan = int(np.isnan(values).sum())
    num_inf = int(np.isinf(values).sum())
    if num_nan or num_inf:
        raise ValueError(
            f"{what} holds {num_nan} NaN and {num_inf} infinite value(s) (values beyond "
            "float32's range become infinite). Replace or drop them before loading, e.g. with "
            "np.nan_to_num or by removing those samples."
        )


def _is_array(value, dtype, ndim: int) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == dtype and value.ndim == ndim


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"dtype {value.dtype}, shape {value.shape}"
    return f"a {type(value).__name__}"
