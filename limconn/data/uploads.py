"""One entry point for an uploaded dataset file, chosen by its extension."""

from __future__ import annotations

from pathlib import Path

from limconn.data.arrays import load_npz
from limconn.data.dataset import Dataset
from limconn.data.tables import load_csv
from limconn.npio import FileSource, source_name
from limconn.settings import Limits


def load_upload(file: FileSource, *, limits: Limits | None = None, **options) -> Dataset:
    """Loads a `.csv` or `.npz` file, chosen by the file name's extension.

    Args:
        file: a path, or a binary file object with a `.name` (e.g. Streamlit's
            `UploadedFile`).
        limits: the operator's limits, passed on to the loader, which checks them before
            allocating; `None` checks only the byte limits.
        **options: passed on to `load_csv` (which needs `feature_columns`,
            `target_columns` and `window`) or `load_npz`.

    Raises:
        ValueError: for a `.npy` file (X and y come as two files: use `load_npy`), any other
            extension, or anything the chosen loader refuses.
    """
    name = source_name(file)
    extension = Path(name).suffix.lower()
    if extension == ".csv":
        return load_csv(file, limits=limits, **options)
    if extension == ".npz":
        return load_npz(file, limits=limits, **options)
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
