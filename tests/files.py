"""Files built in memory for the data and design tests: named uploads, NumPy files, CSV."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


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
