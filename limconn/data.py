"""Data for training masked LSTMs: synthetic tasks and uploaded CSV / NPY / NPZ files.

Every source becomes one `Dataset`: float32 sequences `x` of shape `(samples, timesteps,
features)` and one target per sequence, because every model downstream is many-to-one (the
LSTM's last hidden state feeds a dense head).

* Synthetic tasks are small pure functions registered in `TASKS`; their keyword parameters
  become form fields in the app and options in the CLI. Add one by writing a function that
  returns a `Dataset` and decorating it with `@TASKS.register`.
* Uploads (`load_csv`, `load_npz`, `load_npy`, `load_upload`) take a path or a binary file
  object (such as Streamlit's `UploadedFile`). Files are read through `limconn.npio`: their
  size is checked before anything is read, NumPy headers and archive directories are checked
  before anything is allocated, nothing is unpickled, and every refusal is a `ValueError`
  that says what came and what to do.

Nothing here imports Streamlit.
"""

from __future__ import annotations

import dataclasses
import io
import math
import numbers
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from limconn.npio import FileSource, parse_npy, read_bytes, read_npz, size_text, source_name
from limconn.registry import Registry

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
"""The largest file a loader reads (and the largest a compressed `.npz` may expand to)."""

MAX_ARRAY_BYTES = 512 * 1024 * 1024
"""The largest float32 `x` a task or `load_csv` builds; sliding windows multiply a CSV's size."""

KINDS = ("regression", "classification")
MISSING_POLICIES = ("error", "drop", "fill")

# The last sentence of a message about a wrong NumPy file: what a dataset file holds.
_NPY_HINT = (
    "Save X and y each with np.save, or both in one .npz with np.savez(path, X=X, y=y) "
    "and load that with load_npz."
)
_NPZ_HINT = (
    "Save X (samples, timesteps, features) and y (targets) with np.savez(path, X=X, y=y), "
    "or upload them as two .npy files (load_npy)."
)

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
    """Sequences and one target per sequence, ready for a many-to-one LSTM.

    Synthetic tasks draw their samples independently, so any tail of them is a fair
    validation set. Time series loaded from a CSV are split in time order when they are
    loaded, and `validation_start` records where the validation part begins.

    Args:
        name: short name (the task's or the file's).
        description: one line for the app.
        kind: `"regression"` or `"classification"`.
        x: float32 array `(samples, timesteps, features)`.
        y: regression: float32 `(samples, outputs)`; classification: int32 labels
            `(samples,)` in `0 .. num_classes - 1`.
        num_classes: number of classes, classification only.
        feature_names: one name per feature, or empty.
        target_names: one name per output (regression: per target column; classification:
            per class), or empty.
        validation_start: samples from this index on are the validation part (time-ordered
            data); `None` lets `split` take a fraction from the end.
        normalization: the scaling `load_csv` applied, to map predictions back; `None` when
            the values are as they came.

    Example:

    >>> data = make_task("adding", num_samples=100, timesteps=10)
    >>> data.input_dim, data.timesteps, data.output_dim
    (2, 10, 1)
    >>> x_train, y_train, x_val, y_val = data.split(0.2)
    >>> len(x_train), len(x_val)
    (80, 20)

    Raises:
        ValueError: if an array has the wrong dtype or rank, `x` and `y` differ in length,
            values are not finite, labels are out of range, or names do not match the
            dimensions; the message names what came.
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
        _require_finite(self.x, f"{where}: x")
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
        if not _is_array(self.y, np.float32, ndim=2) or self.y.shape[1] == 0:
            raise ValueError(
                f"{where}: regression targets y must be a float32 array of shape "
                f"(samples, outputs). Received: {_describe(self.y)}. For one output, use "
                "y[:, None]."
            )
        if self.num_classes is not None:
            raise ValueError(
                f"{where}: num_classes is for classification only. "
                f"Received: num_classes={self.num_classes!r} with kind='regression'."
            )
        _require_finite(self.y, f"{where}: y")

    def _check_classification_targets(self, where: str) -> None:
        if not _is_array(self.y, np.int32, ndim=1):
            raise ValueError(
                f"{where}: classification targets y must be int32 labels of shape (samples,). "
                f"Received: {_describe(self.y)}."
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
    def output_dim(self) -> int:
        """Units of the dense head: outputs for regression, classes for classification."""
        return self.num_classes if self.kind == "classification" else self.y.shape[1]

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
        _check_fraction(validation_split)
        start = self.validation_start
        if start is None:
            start = self.num_samples - int(self.num_samples * validation_split)
        return self.x[:start], self.y[:start], self.x[start:], self.y[start:]


# --------------------------------------------------------------------------------------------
# Synthetic tasks
# --------------------------------------------------------------------------------------------

TASKS = Registry("task")


def make_task(name: str, **params) -> Dataset:
    """Builds the synthetic task `name` with its keyword parameters (strings are converted).

    Example:

    >>> make_task("largest_sum", num_samples=10, seed=3).num_classes
    3

    Raises:
        ValueError: for an unknown task or parameter, or a parameter value out of range.
    """
    return TASKS.call(name, **params)


@TASKS.register
def adding(*, num_samples: int = 4000, timesteps: int = 50, seed: int = 0) -> Dataset:
    """Adding problem: sum the two marked numbers in a long sequence (long-range memory).

    Hochreiter & Schmidhuber (1997). Feature 0 is a value drawn uniformly from [0, 1) at
    every step; feature 1 is a marker that is 1 at exactly two steps, one in each half of the
    sequence, and 0 elsewhere. The target is the sum of the two marked values. Always
    predicting the mean (1.0) gives an MSE of 1/6 ~ 0.167 (the variance of a sum of two
    uniform values), so a model has learned something only below that.

    Args:
        num_samples: number of sequences.
        timesteps: sequence length (at least 2); longer is harder.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = adding(num_samples=8, timesteps=20)
    >>> data.x.shape, data.y.shape
    ((8, 20, 2), (8, 1))
    """
    _check_counts(1, num_samples=num_samples)
    _check_counts(2, timesteps=timesteps)
    _check_counts(0, seed=seed)
    _check_array_size((num_samples, timesteps, 2), "adding")
    rng = np.random.default_rng(seed)
    values = rng.random((num_samples, timesteps), dtype=np.float32)
    half = timesteps // 2
    rows = np.arange(num_samples)
    first = rng.integers(0, half, num_samples)
    second = rng.integers(half, timesteps, num_samples)
    markers = np.zeros_like(values)
    markers[rows, first] = 1
    markers[rows, second] = 1
    return Dataset(
        name="adding",
        description=f"Adding problem: sum the 2 marked values among {timesteps} steps "
        "(predicting the mean: MSE ~ 0.167).",
        kind="regression",
        x=np.stack([values, markers], axis=-1),
        y=(values[rows, first] + values[rows, second])[:, None],
        feature_names=("value", "marker"),
        target_names=("sum",),
    )


@TASKS.register
def copy(
    *, num_samples: int = 4000, num_values: int = 3, delay: int = 20, seed: int = 0
) -> Dataset:
    """Delayed recall: remember a few numbers through a stretch of blanks (memory capacity).

    Feature 0 carries `num_values` numbers drawn uniformly from [0, 1) in the first steps and
    is 0 for the remaining `delay + 1` steps; feature 1 is the recall cue, 1 on the last step
    only, so sequences have `num_values + delay + 1` steps. The targets are the numbers in
    order, shape `(samples, num_values)`. Predicting 0.5 everywhere gives an MSE of
    1/12 ~ 0.083.

    Args:
        num_samples: number of sequences.
        num_values: how many numbers to remember (outputs per sequence).
        delay: blank steps between the numbers and the recall cue; longer is harder.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = copy(num_samples=8, num_values=2, delay=5)
    >>> data.x.shape, data.y.shape
    ((8, 8, 2), (8, 2))
    """
    _check_counts(1, num_samples=num_samples, num_values=num_values)
    _check_counts(0, delay=delay, seed=seed)
    timesteps = num_values + delay + 1
    _check_array_size((num_samples, timesteps, 2), "copy")
    rng = np.random.default_rng(seed)
    values = rng.random((num_samples, num_values), dtype=np.float32)
    x = np.zeros((num_samples, timesteps, 2), np.float32)
    x[:, :num_values, 0] = values
    x[:, -1, 1] = 1
    return Dataset(
        name="copy",
        description=f"Delayed recall: repeat {num_values} numbers after {delay} blank steps "
        "(predicting 0.5: MSE ~ 0.083).",
        kind="regression",
        x=x,
        y=values,
        feature_names=("value", "recall cue"),
        target_names=tuple(f"value {i}" for i in range(num_values)),
    )


@TASKS.register
def sine(
    *,
    num_samples: int = 2000,
    timesteps: int = 40,
    num_waves: int = 3,
    horizon: int = 1,
    noise: float = 0.05,
    seed: int = 0,
) -> Dataset:
    """Sine forecasting: continue a noisy sum of sine waves for the next step(s).

    The seed draws `num_waves` periods between 4 and `timesteps` steps and their amplitudes
    (summing to 1), shared by all sequences; each sequence has its own random phases. The
    input is the sum plus Gaussian noise of standard deviation `noise`; the targets are the
    next `horizon` values of the noiseless sum, shape `(samples, horizon)`.

    Args:
        num_samples: number of sequences.
        timesteps: length of the observed window.
        num_waves: number of sine waves summed.
        horizon: how many future steps to predict (outputs per sequence).
        noise: standard deviation of the noise added to the inputs (not to the targets).
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = sine(num_samples=8, timesteps=30, horizon=2)
    >>> data.x.shape, data.y.shape
    ((8, 30, 1), (8, 2))
    """
    _check_counts(1, num_samples=num_samples, num_waves=num_waves, horizon=horizon)
    _check_counts(4, timesteps=timesteps)
    _check_counts(0, seed=seed)
    if not noise >= 0:
        raise ValueError(f"noise must be a standard deviation >= 0. Received: noise={noise!r}")
    _check_array_size((num_samples, timesteps + horizon, 1), "sine")
    rng = np.random.default_rng(seed)
    periods = rng.uniform(4, timesteps, num_waves)
    amplitudes = rng.uniform(0.5, 1.0, num_waves)
    amplitudes /= amplitudes.sum()
    phases = rng.uniform(0, 2 * np.pi, (num_samples, num_waves))
    steps = np.arange(timesteps + horizon)
    signal = np.zeros((num_samples, timesteps + horizon))
    for amplitude, period, phase in zip(amplitudes, periods, phases.T, strict=True):
        signal += amplitude * np.sin(2 * np.pi * steps / period + phase[:, None])
    observed = signal[:, :timesteps] + noise * rng.standard_normal((num_samples, timesteps))
    return Dataset(
        name="sine",
        description=f"Sine forecasting: continue a sum of {num_waves} sine waves for "
        f"{horizon} step(s) from {timesteps} noisy steps.",
        kind="regression",
        x=observed[:, :, None].astype(np.float32),
        y=signal[:, timesteps:].astype(np.float32),
        feature_names=("signal",),
        target_names=tuple(f"t+{i + 1}" for i in range(horizon)),
    )


@TASKS.register
def channels(
    *,
    num_samples: int = 4000,
    timesteps: int = 20,
    groups: int = 2,
    features_per_group: int = 2,
    seed: int = 0,
) -> Dataset:
    """Independent channels: each group's target depends only on that group's inputs.

    The inputs are `groups * features_per_group` standard normal features, group `g` being
    features `g * features_per_group` to `(g + 1) * features_per_group - 1`. Target `g` is
    the sum over time of group `g`'s features, each with a fixed random sign (drawn from the
    seed), divided by sqrt(timesteps * features_per_group), so it is standard normal and
    always predicting 0 gives an MSE of 1. Because no target mixes groups, a block-diagonal
    connectivity with `groups` blocks (inputs of group g -> units of block g, recurrence
    within blocks) should fit as well as a dense LSTM, with fewer parameters.

    Args:
        num_samples: number of sequences.
        timesteps: sequence length.
        groups: number of independent groups, and of targets.
        features_per_group: input features in each group.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = channels(num_samples=8, groups=3, features_per_group=2)
    >>> data.input_dim, data.output_dim
    (6, 3)
    """
    _check_counts(1, num_samples=num_samples, timesteps=timesteps, groups=groups)
    _check_counts(1, features_per_group=features_per_group)
    _check_counts(0, seed=seed)
    num_features = groups * features_per_group
    _check_array_size((num_samples, timesteps, num_features), "channels")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_samples, timesteps, num_features), dtype=np.float32)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), num_features)
    weighted_sums = (x * signs).sum(axis=1)
    y = weighted_sums.reshape(num_samples, groups, features_per_group).sum(axis=2)
    return Dataset(
        name="channels",
        description=f"Independent channels: {groups} groups of {features_per_group} inputs, "
        "each group's target depends on its own inputs only.",
        kind="regression",
        x=x,
        y=(y / np.sqrt(timesteps * features_per_group)).astype(np.float32),
        feature_names=tuple(
            f"group {g} feature {f}" for g in range(groups) for f in range(features_per_group)
        ),
        target_names=tuple(f"group {g}" for g in range(groups)),
    )


@TASKS.register
def largest_sum(
    *, num_samples: int = 4000, timesteps: int = 20, num_channels: int = 3, seed: int = 0
) -> Dataset:
    """Sequence classification: which channel has the largest sum over time?

    Each of `num_channels` features is standard normal noise at every step; the label is the
    index of the feature whose sum over the sequence is largest. The classes are balanced
    (each has probability 1 / num_channels by symmetry), so chance accuracy is
    1 / num_channels.

    Args:
        num_samples: number of sequences.
        timesteps: sequence length.
        num_channels: number of features, and of classes (at least 2).
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = largest_sum(num_samples=8, num_channels=4)
    >>> data.kind, data.num_classes, data.y.dtype
    ('classification', 4, dtype('int32'))
    """
    _check_counts(1, num_samples=num_samples, timesteps=timesteps)
    _check_counts(2, num_channels=num_channels)
    _check_counts(0, seed=seed)
    _check_array_size((num_samples, timesteps, num_channels), "largest_sum")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_samples, timesteps, num_channels), dtype=np.float32)
    return Dataset(
        name="largest_sum",
        description=f"Classification: which of {num_channels} noisy channels has the largest "
        f"sum over {timesteps} steps (chance: {1 / num_channels:.0%}).",
        kind="classification",
        x=x,
        y=x.sum(axis=1).argmax(axis=1).astype(np.int32),
        num_classes=num_channels,
        feature_names=tuple(f"channel {c}" for c in range(num_channels)),
        target_names=tuple(f"channel {c}" for c in range(num_channels)),
    )


# --------------------------------------------------------------------------------------------
# Uploaded files
# --------------------------------------------------------------------------------------------


def example_csv_path() -> Path:
    """The bundled worked example: weekly CO2 at Mauna Loa, 1958-2001 (public domain).

    Columns `date` (YYYYMMDD) and `co2` (ppmv, 59 empty weeks); see
    `limconn/datasets/README.md` for source and licence.

    Example:

    >>> data = load_csv(example_csv_path(), feature_columns=["co2"], target_columns=["co2"],
    ...                 window=52, missing="fill")
    >>> data.input_dim, data.timesteps
    (1, 52)
    """
    return Path(__file__).parent / "datasets" / "mauna_loa_co2_weekly.csv"


def load_upload(file: FileSource, **options) -> Dataset:
    """Loads a `.csv` or `.npz` file, chosen by the file name's extension.

    Args:
        file: a path, or a binary file object with a `.name` (e.g. Streamlit's
            `UploadedFile`).
        **options: passed on to `load_csv` (which needs `feature_columns`,
            `target_columns` and `window`) or `load_npz`.

    Raises:
        ValueError: for a `.npy` file (X and y come as two files: use `load_npy`), any other
            extension, or anything the chosen loader refuses.
    """
    name = source_name(file)
    extension = Path(name).suffix.lower()
    if extension == ".csv":
        return load_csv(file, **options)
    if extension == ".npz":
        return load_npz(file, **options)
    if extension == ".npy":
        raise ValueError(
            f"{name} is a single .npy array, but a dataset needs sequences X and targets y. "
            "Upload X and y as two .npy files (load_npy), or one .npz holding both "
            "(np.savez(path, X=X, y=y))."
        )
    raise ValueError(
        f"Cannot load {name}: unsupported file type {extension or '(no extension)'!r}. "
        "Upload a .csv time series, an .npz with arrays X and y, or X and y as two .npy files."
    )


def csv_columns(
    file: FileSource, *, numeric_only: bool = False, max_bytes: int = MAX_UPLOAD_BYTES
) -> list[str]:
    """The column names of a CSV file, for choosing features and targets.

    Args:
        file: a path or a binary file object (read from its start).
        numeric_only: list only the columns whose values are all numbers.
        max_bytes: the largest file accepted.

    Raises:
        ValueError: if the file is too large, empty, not UTF-8 comma-separated text, or
            uses another delimiter.
    """
    frame = _read_csv(file, max_bytes)
    return [
        str(column)
        for column in frame.columns
        if not numeric_only or pd.api.types.is_numeric_dtype(frame[column])
    ]


def load_csv(
    file: FileSource,
    *,
    feature_columns: str | Sequence[str],
    target_columns: str | Sequence[str],
    window: int,
    horizon: int = 1,
    validation_split: float = 0.2,
    missing: str = "error",
    kind: str = "regression",
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Dataset:
    """Turns a CSV time series (one row per step) into sliding windows and their targets.

    Each sample is `window` consecutive rows of the feature columns; its target is the
    target columns' row `horizon` rows after the window's last row. To keep validation
    honest, the rows are split in time order first (the first `1 - validation_split` of the
    rows train, the rest validate), windows are cut inside each part separately (no window
    or target crosses the boundary; the first `window` validation rows serve only as
    context), and the per-column mean and standard deviation are fitted on the training
    rows only and applied to both parts. `Dataset.normalization` keeps them, and
    `Dataset.validation_start` is the number of training windows.

    Args:
        file: a path or a binary file object (read from its start), comma-separated UTF-8
            text with a header row.
        feature_columns: the columns fed to the LSTM, in order.
        target_columns: the columns to predict (may overlap the features, e.g. to forecast
            a series from its own past). Classification: exactly one column of labels
            0..C-1, which is not normalised.
        window: rows per sample (the LSTM's timesteps).
        horizon: how many rows after the window's last row the target is read; 0 reads it
            from the last row itself (sensible only when targets are not features).
        validation_split: fraction of rows, from the end, for validation; 0 for none.
        missing: what to do with empty, NaN or infinite cells in the chosen columns:
            `"error"` refuses the file, `"drop"` drops those rows, `"fill"` forward-fills
            then back-fills them (within each part, so nothing leaks across the split).
        kind: `"regression"` or `"classification"`.
        max_bytes: the largest file accepted.

    Returns:
        A `Dataset` with `validation_start` and `normalization` set.

    Example:

    >>> data = load_csv(example_csv_path(), feature_columns=["co2"], target_columns=["co2"],
    ...                 window=52, missing="fill")
    >>> x_train, y_train, x_val, y_val = data.split()
    >>> co2_ppmv = data.normalization.denormalize(y_val, ["co2"])

    Raises:
        ValueError: if the file is too large, empty or unparseable; a column is unknown or
            not numeric; cells are missing and `missing="error"`; or either part has fewer
            rows than `window + horizon`. The message says what came and what to do.
    """
    name = source_name(file)
    features = _column_list(feature_columns, "feature_columns")
    targets = _column_list(target_columns, "target_columns")
    _check_choice("kind", kind, KINDS)
    _check_choice("missing", missing, MISSING_POLICIES)
    _check_counts(1, window=window)
    _check_counts(0, horizon=horizon)
    _check_fraction(validation_split)
    if kind == "classification" and len(targets) != 1:
        raise ValueError(
            "Classification needs exactly one target column holding labels 0..C-1. "
            f"Received: target_columns={targets}"
        )
    frame = _read_csv(file, max_bytes)
    used = list(dict.fromkeys(features + targets))
    rows = _numeric_rows(frame, used, name)
    if missing == "error":
        _refuse_missing(rows, name)

    num_validation_rows = int(len(rows) * validation_split)
    num_training_rows = len(rows) - num_validation_rows
    training = f"training part (the first {num_training_rows} of {len(rows)} rows)"
    validation = f"validation part (the last {num_validation_rows} of {len(rows)} rows)"
    parts = {training: rows.iloc[:num_training_rows]}
    if validation_split > 0:
        parts[validation] = rows.iloc[num_training_rows:]
    parts = {
        description: _handle_missing(part, missing, f"{name}, {description}")
        for description, part in parts.items()
    }
    for description, part in parts.items():
        _check_enough_rows(len(part), window, horizon, f"{name}: the {description}")
    num_windows = sum(len(part) - window - horizon + 1 for part in parts.values())
    _check_array_size((num_windows, window, len(features)), f"{name} cut into windows")

    normalized_columns = features if kind == "classification" else used
    normalization = Normalization.fit(parts[training][normalized_columns])
    x_parts, y_parts = [], []
    for part in parts.values():
        x_part, y_part = _windows(
            normalization.normalize(part[features].to_numpy(), features),
            part[targets].to_numpy(),
            window,
            horizon,
        )
        x_parts.append(x_part)
        y_parts.append(y_part)
    x = np.concatenate(x_parts, dtype=np.float32)
    y = np.concatenate(y_parts)
    description = (
        f"{name}: {window} rows of {', '.join(features)} -> {', '.join(targets)} "
        f"{horizon} row(s) later"
    )
    common = dict(
        name=name,
        description=description,
        x=x,
        feature_names=tuple(features),
        validation_start=len(x_parts[0]),
        normalization=normalization,
    )
    if kind == "classification":
        labels, num_classes = _class_labels(y, f"{name}: target column {targets[0]!r}")
        return Dataset(kind=kind, y=labels, num_classes=num_classes, **common)
    return Dataset(
        kind=kind,
        y=normalization.normalize(y, targets).astype(np.float32),
        target_names=tuple(targets),
        **common,
    )


def load_npz(
    file: FileSource, *, kind: str | None = None, max_bytes: int = MAX_UPLOAD_BYTES
) -> Dataset:
    """Loads sequences and targets from an `.npz` archive holding arrays `X` (or `x`) and `y`.

    `X` has shape `(samples, timesteps, features)`; `y` is `(samples,)` or
    `(samples, outputs)`. Nothing is unpickled, and the arrays' size is checked from the
    archive's directory before they are decompressed.

    Args:
        file: a path or a binary file object (read from its start), as written by
            `np.savez(path, X=X, y=y)` or `np.savez_compressed`.
        kind: `"regression"`, `"classification"`, or `None` to infer: a 1-D `y` of integer
            (or bool) dtype is classification, and its labels must then be 0..C-1 with every
            class present; a float `y` is regression. Pass `kind="classification"` for labels
            saved as floats, or `kind="regression"` for integer targets such as counts.
        max_bytes: the largest file accepted, and the most bytes X and y may take once
            decompressed.

    Example:

    >>> np.savez("data.npz", X=np.zeros((10, 5, 2)), y=np.arange(10) % 2)  # doctest: +SKIP
    >>> load_npz("data.npz").num_classes  # doctest: +SKIP
    2

    Raises:
        ValueError: if the file is too large, not an `.npz`, holds pickled or non-numeric
            arrays, lacks X or y, or the arrays are invalid (wrong rank, lengths that
            differ, NaN or infinite values, bad labels).
    """
    name = source_name(file)
    _check_choice("kind", kind, (*KINDS, None))
    data = read_bytes(file, max_bytes)
    arrays = read_npz(data, name, max_bytes, ("x", "y"), hint=_NPZ_HINT)
    return _dataset_from_arrays(arrays["x"], arrays["y"], kind, name)


def load_npy(
    x_file: FileSource,
    y_file: FileSource,
    *,
    kind: str | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Dataset:
    """Loads sequences and targets from two `.npy` files.

    Args:
        x_file: path or binary file object holding X, shape `(samples, timesteps, features)`.
        y_file: path or binary file object holding y, `(samples,)` or `(samples, outputs)`.
        kind: `"regression"`, `"classification"`, or `None` to infer, as in `load_npz`.
        max_bytes: the largest size accepted for each file.

    Example:

    >>> np.save("X.npy", np.zeros((10, 5, 2))); np.save("y.npy", np.ones(10))  # doctest: +SKIP
    >>> load_npy("X.npy", "y.npy", kind="regression").output_dim  # doctest: +SKIP
    1

    Raises:
        ValueError: as `load_npz`.
    """
    _check_choice("kind", kind, (*KINDS, None))
    x_name, y_name = source_name(x_file), source_name(y_file)
    x = parse_npy(read_bytes(x_file, max_bytes), x_name, hint=_NPY_HINT)
    y = parse_npy(read_bytes(y_file, max_bytes), y_name, hint=_NPY_HINT)
    return _dataset_from_arrays(x, y, kind, x_name if x_name == y_name else f"{x_name} + {y_name}")


# --------------------------------------------------------------------------------------------
# Helpers: parameter checks
# --------------------------------------------------------------------------------------------


def _check_counts(minimum: int, **values) -> None:
    for key, value in values.items():
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
            raise ValueError(
                f"{key} must be a whole number >= {minimum}. Received: {key}={value!r}"
            )


def _check_choice(key: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{key} must be one of {choices}. Received: {key}={value!r}")


def _check_fraction(validation_split: float) -> None:
    if not (isinstance(validation_split, numbers.Real) and 0 <= validation_split < 1):
        raise ValueError(
            f"validation_split must be in [0, 1). Received: validation_split={validation_split!r}"
        )


def _check_array_size(shape: tuple[int, ...], what: str) -> None:
    num_bytes = math.prod(shape) * np.dtype(np.float32).itemsize
    if num_bytes > MAX_ARRAY_BYTES:
        raise ValueError(
            f"{what} would need a float32 array of shape {shape}, {size_text(num_bytes)}; the "
            f"limit is {size_text(MAX_ARRAY_BYTES)}. Use fewer samples, steps or features."
        )


def _column_list(columns: str | Sequence[str], key: str) -> list[str]:
    listed = [columns] if isinstance(columns, str) else list(columns)
    if not listed or not all(isinstance(column, str) for column in listed):
        raise ValueError(f"{key} must be one or more column names. Received: {key}={columns!r}")
    return listed


# --------------------------------------------------------------------------------------------
# Helpers: arrays to a Dataset
# --------------------------------------------------------------------------------------------


def _dataset_from_arrays(x: np.ndarray, y: np.ndarray, kind: str | None, name: str) -> Dataset:
    if kind is None:
        kind = "classification" if y.ndim == 1 and y.dtype.kind in "biu" else "regression"
    description = (
        f"Uploaded arrays {name}: X {'x'.join(map(str, x.shape))}, "
        f"y {'x'.join(map(str, y.shape))}"
    )
    if kind == "classification":
        labels, num_classes = _class_labels(y, f"{name}: y")
        return Dataset(name, description, kind, x.astype(np.float32), labels, num_classes)
    targets = y[:, None] if y.ndim == 1 else y
    return Dataset(name, description, kind, x.astype(np.float32), targets.astype(np.float32))


def _class_labels(values: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    """int32 labels and the number of classes; labels must be 0..C-1 with every class present."""
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"{what}: classification needs one label per sample, shape (samples,). "
            f"Received: shape {values.shape}."
        )
    if values.dtype.kind == "f":
        _require_finite(values, what)
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


def _require_finite(values: np.ndarray, what: str) -> None:
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


# --------------------------------------------------------------------------------------------
# Helpers: CSV files
# --------------------------------------------------------------------------------------------


def _read_csv(file: FileSource, max_bytes: int) -> pd.DataFrame:
    name = source_name(file)
    data = read_bytes(file, max_bytes)
    expected = "limconn reads comma-separated UTF-8 text with a header row"
    if not data.strip():
        raise ValueError(f"{name} is empty; {expected} and one row per time step.")
    try:
        frame = pd.read_csv(io.BytesIO(data), skipinitialspace=True, low_memory=False)
    except ValueError as error:  # pandas' parser and empty-data errors, UnicodeDecodeError
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{name} could not be read as CSV ({reason}); {expected}.") from error
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if delimiter in header:
                raise ValueError(
                    f"{name} seems to separate columns with {label} (header: {header!r}); "
                    f"{expected}. Save it with commas as the delimiter."
                )
    return frame


def _numeric_rows(frame: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """`frame[columns]` as float64, refusing unknown and non-numeric columns by name."""
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise ValueError(
            f"{name} has no column {', '.join(map(repr, unknown))}. "
            f"Available columns: {', '.join(map(repr, map(str, frame.columns)))}."
        )
    non_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        examples = "; ".join(
            f"{c!r} (e.g. {_first_non_number(frame[c])!r})" for c in non_numeric
        )
        raise ValueError(
            f"{name}: column(s) {examples} are not numeric. Choose numeric columns, or "
            "convert these to numbers in the file."
        )
    return frame[columns].astype(np.float64)


def _first_non_number(column: pd.Series):
    numbers_or_nan = pd.to_numeric(column, errors="coerce")
    offending = column[numbers_or_nan.isna() & column.notna()]
    return offending.iloc[0] if len(offending) else None


def _refuse_missing(rows: pd.DataFrame, name: str) -> None:
    missing = (~np.isfinite(rows)).sum()
    missing = missing[missing > 0]
    if len(missing):
        counts = ", ".join(f"{column!r}: {count}" for column, count in missing.items())
        raise ValueError(
            f"{name} has {int(missing.sum())} missing or infinite value(s) (empty cells, NaN "
            f"or inf) in the chosen columns ({counts}). Choose missing='drop' to drop those "
            "rows, or missing='fill' to forward-fill then back-fill them."
        )


def _handle_missing(part: pd.DataFrame, missing: str, where: str) -> pd.DataFrame:
    if missing == "drop":
        return part[np.isfinite(part).all(axis=1)]
    if missing == "fill":
        filled = part.replace([np.inf, -np.inf], np.nan).ffill().bfill()
        empty = [str(c) for c in filled.columns if filled[c].isna().any()]
        if empty:
            raise ValueError(
                f"{where}: column(s) {empty} have no finite value to fill from. Remove those "
                "columns or choose another validation_split."
            )
        return filled
    return part


def _check_enough_rows(num_rows: int, window: int, horizon: int, where: str) -> None:
    needed = window + horizon
    if num_rows < needed:
        raise ValueError(
            f"{where} has {num_rows} usable row(s), but one window of {window} rows and a "
            f"target {horizon} row(s) later need {needed}. Use a smaller window or horizon, a "
            "different validation_split, or a longer file."
        )


def _windows(
    features: np.ndarray, targets: np.ndarray, window: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows `features[s : s + window]` and their targets `targets[s + window - 1 + horizon]`."""
    count = len(features) - window - horizon + 1
    windows = np.lib.stride_tricks.sliding_window_view(features, window, axis=0)[:count]
    return windows.transpose(0, 2, 1), targets[window - 1 + horizon :]
