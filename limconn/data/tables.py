"""CSV time series: one row per step, cut into sliding windows and their targets.

Files are read through `limconn.npio.read_bytes` (the size is checked before anything is
read). The header row is read on its own first, with the standard `csv` module, so that a file
with more columns than the operator's limits allow is refused before pandas parses its body;
pandas then keeps only the columns asked for. Every refusal is a `ValueError` that says what
came and what to do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from limconn.data._checks import (
    MAX_UPLOAD_BYTES,
    check_array_size,
    check_choice,
    check_counts,
    check_fraction,
    check_limits,
)
from limconn.data.dataset import KINDS, Dataset, Normalization, class_labels
from limconn.npio import FileSource, file_limit, read_bytes, source_name
from limconn.settings import Limits

if TYPE_CHECKING:
    import pandas as pd

MISSING_POLICIES = ("error", "drop", "fill")

_EXPECTED = "limconn reads comma-separated UTF-8 text with a header row"
# How many column names a message lists.
_NAMES_SHOWN = 20
# How much of the header row is read before pandas parses the file, so that a hostile file's
# 10^6 columns cost a bounded prefix only: without limits, enough for the names a message
# lists; with limits, enough for the most columns allowed, with names this long on average.
_HEADER_MAX_CHARS = 1024 * 1024
_NAME_MAX_CHARS = 256


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
    return Path(__file__).parent.parent / "datasets" / "mauna_loa_co2_weekly.csv"


def csv_columns(
    file: FileSource,
    *,
    numeric_only: bool = False,
    max_bytes: int = MAX_UPLOAD_BYTES,
    limits: Limits | None = None,
) -> list[str]:
    """The column names of a CSV file, for choosing features and targets.

    Args:
        file: a path or a binary file object (read from its start).
        numeric_only: list only the columns whose values are all numbers.
        max_bytes: the largest file accepted.
        limits: the operator's limits: the upload size (when below `max_bytes`), and at
            most `max_inputs + max_outputs` columns, counted in the header row before the
            rest of the file is parsed. `None` checks only the byte limit.

    Raises:
        ValueError: if the file is too large, empty, not UTF-8 comma-separated text, uses
            another delimiter, or has more columns than `limits` allow.
    """
    import pandas as pd  # loaded on first use: `import limconn` stays light

    frame = _read_csv(file, max_bytes, limits)
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
    limits: Limits | None = None,
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
        limits: the operator's limits, each checked before the arrays it bounds are built:
            the window (`max_timesteps`), feature columns (`max_inputs`) and regression
            target columns (`max_outputs`) before the file is read; the upload size and the
            header row's column count (as in `csv_columns`) before pandas parses the body;
            the number of windows (`max_samples`) before they are cut; and the classes of a
            classification target. `None` checks only the byte limits.

    Returns:
        A `Dataset` with `validation_start` and `normalization` set.

    Example:

    >>> data = load_csv(example_csv_path(), feature_columns=["co2"], target_columns=["co2"],
    ...                 window=52, missing="fill")
    >>> x_train, y_train, x_val, y_val = data.split()
    >>> co2_ppmv = data.normalization.denormalize(y_val, ["co2"])

    Raises:
        ValueError: if the file is too large, empty or unparseable; a column is unknown or
            not numeric; cells are missing and `missing="error"`; either part has fewer
            rows than `window + horizon`; or a size is over `limits`. The message says what
            came and what to do.
    """
    name = source_name(file)
    features = _column_list(feature_columns, "feature_columns")
    targets = _column_list(target_columns, "target_columns")
    check_choice("kind", kind, KINDS)
    check_choice("missing", missing, MISSING_POLICIES)
    check_counts(1, window=window)
    check_counts(0, horizon=horizon)
    check_fraction(validation_split)
    if kind == "classification" and len(targets) != 1:
        raise ValueError(
            "Classification needs exactly one target column holding labels 0..C-1. "
            f"Received: target_columns={targets}"
        )
    outputs = {"outputs": len(targets)} if kind == "regression" else {}
    check_limits(
        limits, f"{name} with window={window}", timesteps=window, inputs=len(features), **outputs
    )
    used = list(dict.fromkeys(features + targets))
    frame = _read_csv(file, max_bytes, limits, columns=used)
    if frame.empty:
        raise ValueError(
            f"{name} has a header row but no rows of data. Received: 0 rows; {_EXPECTED} and "
            "one row per time step."
        )
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
    check_limits(limits, f"{name} cut into windows of {window} rows", samples=num_windows)
    check_array_size((num_windows, window, len(features)), f"{name} cut into windows")

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
        what = f"{name}: target column {targets[0]!r}"
        labels, num_classes = class_labels(y, what)
        check_limits(limits, f"{what} holds {num_classes} classes", outputs=num_classes)
        return Dataset(kind=kind, y=labels, num_classes=num_classes, **common)
    return Dataset(
        kind=kind,
        y=normalization.normalize(y, targets).astype(np.float32),
        target_names=tuple(targets),
        **common,
    )


def _column_list(columns: str | Sequence[str], key: str) -> list[str]:
    listed = [columns] if isinstance(columns, str) else list(columns)
    if not listed or not all(isinstance(column, str) for column in listed):
        raise ValueError(f"{key} must be one or more column names. Received: {key}={columns!r}")
    return listed


def _read_csv(
    file: FileSource,
    max_bytes: int,
    limits: Limits | None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The file parsed by pandas: every column, or only `columns`, all of which must exist.

    The header row is checked first, before pandas parses the rest: another delimiter is
    named, and a header with more columns than `limits` allow is refused.
    """
    import pandas as pd  # loaded on first use: `import limconn` stays light

    name = source_name(file)
    data = read_bytes(file, file_limit(max_bytes, limits))
    if not data.strip():
        raise ValueError(f"{name} is empty; {_EXPECTED} and one row per time step.")
    max_chars = _HEADER_MAX_CHARS if limits is None else _most_columns(limits) * _NAME_MAX_CHARS
    header, complete = _header_row(data, name, max_chars)
    if len(header) == 1:
        for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if delimiter in header[0]:
                raise ValueError(
                    f"{name} seems to separate columns with {label} (header: "
                    f"{header[0][:200]!r}); {_EXPECTED}. Save it with commas as the delimiter."
                )
    if limits is not None:
        _check_column_count(header, complete, max_chars, limits, name)
    # pandas keeps only the asked-for columns, matched by its own names ("a.1" for a second
    # column "a"), so a wide file costs memory for those columns only.
    wanted = set(columns or ())
    keep = None if columns is None else (lambda column: column in wanted)
    try:
        frame = pd.read_csv(io.BytesIO(data), skipinitialspace=True, low_memory=False, usecols=keep)
    except ValueError as error:  # pandas' parser and empty-data errors, UnicodeDecodeError
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{name} could not be read as CSV ({reason}); {_EXPECTED}.") from error
    unknown = [c for c in columns or () if c not in frame.columns]
    if unknown:
        raise ValueError(
            f"{name} has no column {', '.join(map(repr, unknown))}. "
            f"Available columns: {_names_text(header)}."
        )
    return frame


def _header_row(data: bytes, name: str, max_chars: int) -> tuple[list[str], bool]:
    """The names in the header row (the first non-empty one), and whether all were read.

    Only the file's first `max_chars` characters are decoded and parsed; a longer header row
    gives the names in them and `False`.
    """
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        prefix = text.read(max_chars)
        lines = io.StringIO(prefix)
        for row in csv.reader(lines, skipinitialspace=True):
            if row:
                return row, len(prefix) < max_chars or lines.tell() < len(prefix)
    except (csv.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{name} could not be read as CSV ({error}); {_EXPECTED}.") from error
    return [], True


def _check_column_count(
    header: list[str], complete: bool, max_chars: int, limits: Limits, name: str
) -> None:
    """Refuses more columns than a dataset can use, or a header row too long to count."""
    most = _most_columns(limits)
    if len(header) > most:
        received = f"{len(header):,}" if complete else f"at least {len(header):,}"
        raise ValueError(
            f"{name}: This server allows at most {most:,} columns in a CSV file (max_inputs "
            f"{limits.max_inputs} + max_outputs {limits.max_outputs}). Received: {received} "
            "columns in the header row. Save only the columns you need."
        )
    if not complete:
        raise ValueError(
            f"{name}: its header row is longer than {max_chars:,} characters; this server "
            f"reads CSV files of at most {most:,} columns, with names of {_NAME_MAX_CHARS} "
            "characters on average at most. Save only the columns you need, with shorter names."
        )


def _most_columns(limits: Limits) -> int:
    """A dataset uses at most `max_inputs` feature columns and `max_outputs` target columns."""
    return limits.max_inputs + limits.max_outputs


def _names_text(names: Sequence[str]) -> str:
    """`'a', 'b', 'c'`, or the first names and an ellipsis."""
    shown = ", ".join(repr(str(n)) for n in names[:_NAMES_SHOWN])
    return shown if len(names) <= _NAMES_SHOWN else f"{shown}, ..."


def _numeric_rows(frame: pd.DataFrame, columns: list[str], name: str) -> pd.DataFrame:
    """`frame[columns]` as float64, refusing non-numeric columns by name."""
    import pandas as pd  # loaded on first use: `import limconn` stays light

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
    import pandas as pd  # loaded on first use: `import limconn` stays light

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
