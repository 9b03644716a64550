"""Files built in memory for the data and design tests, and how a refusal is measured."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def named_bytes(content: bytes, name: str) -> io.BytesIO:
    """A binary file object with a name, like Streamlit's `UploadedFile`."""
    stream = io.BytesIO(content)
    stream.name = name
    return stream


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(compressed: bool = False, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def row_index_frame(num_rows: int) -> pd.DataFrame:
    """Column `row` holds each row's index, so windows and targets can be traced back."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"row": np.arange(num_rows, dtype=float), "noise": rng.normal(size=num_rows)}
    )


def declared_npy(shape: tuple[int, ...], dtype: str = "<f4", data: bytes = b"") -> bytes:
    """`.npy` bytes whose header declares `shape` and `dtype`, followed by `data` as it is."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of `members` (name -> bytes), as an `.npz` is, compressed as asked."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def refusal(load: Callable[[], object], max_peak_bytes: int) -> str:
    """The message of the plain `ValueError` that `load()` raises.

    Fails if `load()` returns, raises anything else (a subclass such as UnicodeDecodeError
    included), or held more than `max_peak_bytes` of memory at once before refusing, as
    tracemalloc counts it (NumPy and pandas buffers included).
    """
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as raised:
            load()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert type(raised.value) is ValueError, repr(raised.value)
    assert peak <= max_peak_bytes, f"held {peak:,} bytes before refusing: {raised.value}"
    return str(raised.value)
