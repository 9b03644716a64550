"""NumPy uploads: sequences X and targets y from one `.npz` or two `.npy` files.

Files are read through `limconn.npio`: their size is checked before anything is read, NumPy
headers and archive directories are checked before anything is allocated, nothing is
unpickled, and every refusal is a `ValueError` that says what came and what to do.
"""

from __future__ import annotations

import numpy as np

from limconn.data._checks import MAX_UPLOAD_BYTES, check_choice
from limconn.data.dataset import KINDS, Dataset, class_labels
from limconn.npio import FileSource, parse_npy, read_bytes, read_npz, source_name

# The last sentence of a message about a wrong NumPy file: what a dataset file holds.
_NPY_HINT = (
    "Save X and y each with np.save, or both in one .npz with np.savez(path, X=X, y=y) "
    "and load that with load_npz."
)
_NPZ_HINT = (
    "Save X (samples, timesteps, features) and y (targets) with np.savez(path, X=X, y=y), "
    "or upload them as two .npy files (load_npy)."
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
    check_choice("kind", kind, (*KINDS, None))
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
    check_choice("kind", kind, (*KINDS, None))
    x_name, y_name = source_name(x_file), source_name(y_file)
    x = parse_npy(read_bytes(x_file, max_bytes), x_name, hint=_NPY_HINT)
    y = parse_npy(read_bytes(y_file, max_bytes), y_name, hint=_NPY_HINT)
    return _dataset_from_arrays(x, y, kind, x_name if x_name == y_name else f"{x_name} + {y_name}")


def _dataset_from_arrays(x: np.ndarray, y: np.ndarray, kind: str | None, name: str) -> Dataset:
    if kind is None:
        kind = "classification" if y.ndim == 1 and y.dtype.kind in "biu" else "regression"
    description = (
        f"Uploaded arrays {name}: X {'x'.join(map(str, x.shape))}, "
        f"y {'x'.join(map(str, y.shape))}"
    )
    if kind == "classification":
        labels, num_classes = class_labels(y, f"{name}: y")
        return Dataset(name, description, kind, x.astype(np.float32), labels, num_classes)
    targets = y[:, None] if y.ndim == 1 else y
    return Dataset(name, description, kind, x.astype(np.float32), targets.astype(np.float32))
