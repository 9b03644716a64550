"""Argument and size checks shared by the dataset loaders and the synthetic tasks.

Each check raises a `ValueError` that names the argument and the value received. Sizes are
bounded twice: by hard caps on bytes (`MAX_UPLOAD_BYTES`, `MAX_ARRAY_BYTES`), always, and by
the operator's `Limits` on samples, timesteps, inputs, outputs and upload size, when a
caller passes them.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from limconn.npio import size_text
from limconn.settings import Limits

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
"""The largest file a loader reads (and the largest a compressed `.npz` may expand to)."""

MAX_ARRAY_BYTES = 512 * 1024 * 1024
"""The largest float32 `x` a task or `load_csv` builds; sliding windows multiply a CSV's size."""


def check_counts(minimum: int, **values) -> None:
    for key, value in values.items():
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
            raise ValueError(
                f"{key} must be a whole number >= {minimum}. Received: {key}={value!r}"
            )


def check_choice(key: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{key} must be one of {choices}. Received: {key}={value!r}")


def check_fraction(value: float, name: str = "validation_split") -> None:
    if not (isinstance(value, numbers.Real) and 0 <= value < 1):
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={value!r}")


def check_array_size(shape: tuple[int, ...], what: str) -> None:
    num_bytes = math.prod(shape) * np.dtype(np.float32).itemsize
    if num_bytes > MAX_ARRAY_BYTES:
        raise ValueError(
            f"{what} would need a float32 array of shape {shape}, {size_text(num_bytes)}; the "
            f"limit is {size_text(MAX_ARRAY_BYTES)}. Use fewer samples, steps or features."
        )


def check_limits(limits: Limits | None, where: str, **sizes: int) -> None:
    """Refuses sizes over the operator's limits (`samples=...`, `inputs=...`); `None`: none.

    The message starts with `where` (the task or the file, and what it declares), then says
    the limit and the value, e.g. "X.npy, shape (10, 5, 300): This server allows at most 256
    inputs. Received: 300 inputs."
    """
    if limits is None:
        return
    try:
        limits.check(**sizes)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
