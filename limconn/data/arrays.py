"""NumPy uploads: sequences X and targets y from one `.npz` or two `.npy` files.

Targets are one per sequence or one per step; an `.npz` may add per-step loss `weights`.

Files are read through `limconn.npio`: their size is checked before anything is read, NumPy
headers and archive directories are checked before anything is allocated, nothing is
unpickled, and every refusal is a `ValueError` that says what came and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from limconn.data._checks import (
    MAX_UPLOAD_BYTES,
    check_array_size,
    check_choice,
    check_limits,
)
from limconn.data.dataset import KINDS, Dataset, class_labels
from limconn.npio import (
    ArrayHeader,
    FileSource,
    file_limit,
    parse_npy,
    read_bytes,
    read_npz,
    source_name,
)
from limconn.settings import Limits

# The last sentence of a message about a wrong NumPy file: what a dataset file holds.
_NPY_HINT = (
    "Save X and y each with np.save, or both in one .npz with np.savez(path, X=X, y=y) "
    "and load that with load_npz."
)
_NPZ_HINT = (
    "Save X (samples, timesteps, features) and y (targets) with np.savez(path, X=X, y=y) "
    "(per-step loss weights as weights=...), or upload them as two .npy files (load_npy)."
)


def load_npz(
    file: FileSource,
    *,
    kind: str | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    limits: Limits | None = None,
) -> Dataset:
    """Loads sequences and targets from an `.npz` archive holding arrays `X` (or `x`) and `y`,
    and optionally per-step loss `weights`.

    `X` has shape `(samples, timesteps, features)`. `y` is one target per sequence,
    `(samples,)` or `(samples, outputs)`, or one per step: regression
    `(samples, timesteps, outputs)`, class labels `(samples, timesteps)`. `weights`, only
    with per-step targets, is `(samples, timesteps)`: each step's weight in the loss (0 for
    steps that do not count). Nothing is unpickled, the arrays' size is checked from the
    archive's directory before they are decompressed, and their shapes are checked against
    `limits` from their headers before they are read.

    Args:
        file: a path or a binary file object (read from its start), as written by
            `np.savez(path, X=X, y=y)` (or `np.savez(path, X=X, y=y, weights=w)`) or
            `np.savez_compressed`.
        kind: `"regression"`, `"classification"`, or `None` to infer: a `y` of integer (or
            bool) dtype shaped `(samples,)` or `(samples, timesteps)` is classification,
            and its labels must then be 0..C-1 with every class present; a float `y` is
            regression. Pass `kind="classification"` for labels saved as floats, or
            `kind="regression"` for integer targets such as counts.
        max_bytes: the largest file accepted, and the most bytes X and y may take once
            decompressed.
        limits: the operator's limits: the upload size (when below `max_bytes`), samples,
            timesteps, features (`max_inputs`), and outputs (regression target columns or
            classes). `None` checks only the byte limits.

    Example:

    >>> np.savez("data.npz", X=np.zeros((10, 5, 2)), y=np.arange(10) % 2)  # doctest: +SKIP
    >>> load_npz("data.npz").num_classes  # doctest: +SKIP
    2
    >>> np.savez("steps.npz", X=np.zeros((10, 5, 2)), y=np.zeros((10, 5, 1)),
    ...          weights=np.ones((10, 5)))  # doctest: +SKIP
    >>> load_npz("steps.npz").per_step  # doctest: +SKIP
    True

    Raises:
        ValueError: if the file is too large, not an `.npz`, holds pickled or non-numeric
            arrays, lacks X or y, declares shapes over `limits`, or the arrays are invalid
            (wrong rank, lengths that differ, NaN or infinite values, bad labels, weights
            that do not fit per-step targets).
    """
    name = source_name(file)
    check_choice("kind", kind, (*KINDS, None))
    max_bytes = file_limit(max_bytes, limits)

    def check_headers(headers: Mapping[str, ArrayHeader]) -> None:
        timesteps = _check_x_header(headers["x"], f"{name}: X", limits)
        _check_y_header(headers["y"], kind, f"{name}: y", limits, timesteps)
        if "weights" in headers:
            _check_weights_header(headers["weights"], f"{name}: weights", limits)

    arrays = read_npz(
        read_bytes(file, max_bytes), name, max_bytes, ("x", "y"), optional=("weights",),
        hint=_NPZ_HINT, check=check_headers,
    )
    return _dataset_from_arrays(
        arrays["x"], arrays["y"], kind, name, limits, arrays.get("weights")
    )


def load_npy(
    x_file: FileSource,
    y_file: FileSource,
    *,
    kind: str | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    limits: Limits | None = None,
) -> Dataset:
    """Loads sequences and targets from two `.npy` files.

    Args:
        x_file: path or binary file object holding X, shape `(samples, timesteps, features)`.
        y_file: path or binary file object holding y, one target per sequence or per
            step, as in `load_npz` (per-step weights need an `.npz`).
        kind: `"regression"`, `"classification"`, or `None` to infer, as in `load_npz`.
        max_bytes: the largest size accepted for each file.
        limits: the operator's limits, checked from each file's header before it is loaded,
            as in `load_npz`.

    Example:

    >>> np.save("X.npy", np.zeros((10, 5, 2))); np.save("y.npy", np.ones(10))  # doctest: +SKIP
    >>> load_npy("X.npy", "y.npy", kind="regression").output_dim  # doctest: +SKIP
    1

    Raises:
        ValueError: as `load_npz`.
    """
    check_choice("kind", kind, (*KINDS, None))
    max_bytes = file_limit(max_bytes, limits)
    x_name, y_name = source_name(x_file), source_name(y_file)
    x = parse_npy(
        read_bytes(x_file, max_bytes), x_name, hint=_NPY_HINT,
        check=lambda header: _check_x_header(header, x_name, limits),
    )
    timesteps = x.shape[1] if x.ndim == 3 else None
    y = parse_npy(
        read_bytes(y_file, max_bytes), y_name, hint=_NPY_HINT,
        check=lambda header: _check_y_header(header, kind, y_name, limits, timesteps),
    )
    name = x_name if x_name == y_name else f"{x_name} + {y_name}"
    return _dataset_from_arrays(x, y, kind, name, limits)


def _check_x_header(header: ArrayHeader, what: str, limits: Limits | None) -> int | None:
    """Refuses sequences whose declared shape is over `limits` or too large as float32.

    Returns their timesteps, or `None` when X is not 3-D (the `Dataset` refuses it then).
    """
    timesteps = None
    if header.ndim == 3:
        samples, timesteps, features = header.shape
        check_limits(
            limits, f"{what}, shape {header.shape}",
            samples=samples, timesteps=timesteps, inputs=features,
        )
    check_array_size(header.shape, what)
    return timesteps


def _check_y_header(
    header: ArrayHeader, kind: str | None, what: str, limits: Limits | None,
    timesteps: int | None,
) -> None:
    """Refuses targets whose declared shape is over `limits` or too large as float32.

    Regression outputs are y's last axis (columns, or per step); the classes of
    classification labels are only known once they are read (see `_dataset_from_arrays`).
    """
    sizes = {"samples": header.shape[0]} if header.ndim else {}
    if _kind(kind, header.shape, header.dtype, timesteps) == "regression" and header.ndim >= 2:
        sizes["outputs"] = header.shape[-1]
    check_limits(limits, f"{what}, shape {header.shape}", **sizes)
    check_array_size(header.shape, what)


def _check_weights_header(header: ArrayHeader, what: str, limits: Limits | None) -> None:
    """Refuses per-step weights whose declared shape is over `limits` or too large."""
    sizes = {"samples": header.shape[0]} if header.ndim else {}
    check_limits(limits, f"{what}, shape {header.shape}", **sizes)
    check_array_size(header.shape, what)


def _kind(
    kind: str | None, y_shape: tuple[int, ...], y_dtype: np.dtype, timesteps: int | None
) -> str:
    """`kind`, or when it is `None` the one inferred from y: integers shaped `(samples,)`,
    or `(samples, timesteps)` for sequences of more than one step, are labels."""
    if kind is not None:
        return kind
    labels_shape = len(y_shape) == 1 or (
        timesteps is not None and timesteps > 1 and y_shape[1:] == (timesteps,)
    )
    return "classification" if labels_shape and y_dtype.kind in "biu" else "regression"


def _dataset_from_arrays(
    x: np.ndarray, y: np.ndarray, kind: str | None, name: str, limits: Limits | None,
    weights: np.ndarray | None = None,
) -> Dataset:
    timesteps = x.shape[1] if x.ndim == 3 else None
    kind = _kind(kind, y.shape, y.dtype, timesteps)
    description = (
        f"Uploaded arrays {name}: X {'x'.join(map(str, x.shape))}, "
        f"y {'x'.join(map(str, y.shape))}"
    )
    if weights is not None:
        weights = weights.astype(np.float32)
        description += " with per-step weights"
    if kind == "classification":
        labels, num_classes = class_labels(y, f"{name}: y", timesteps)
        check_limits(limits, f"{name}: y holds {num_classes} classes", outputs=num_classes)
        return Dataset(name, description, kind, x.astype(np.float32), labels, num_classes,
                       weights=weights)
    targets = y[:, None] if y.ndim == 1 else y
    return Dataset(name, description, kind, x.astype(np.float32), targets.astype(np.float32),
                   weights=weights)
