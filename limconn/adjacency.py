"""Designs from adjacency matrices kept as CSV tables, such as a lab's connectome.

A matrix file holds one matrix, rows = sources, columns = targets (limconn's orientation):
a non-zero cell is a connection and the value's sign is its polarity. Labs keep connectomes
as named tables, so an optional header row of target names and an optional first column
of source names are recognised:

* the first row is a header when one of its cells after the first is not a number;
* the first column holds names when one of its cells below the first row is not a number;
* an empty first cell means both (pandas writes `DataFrame.to_csv()` that way, names that
  look like numbers included).

Cells are separated by commas, or by tabs when the first line holds a tab.

Files come from visitors, so `adjacency_from_csv` reads them defensively and every refusal
is a `ValueError` saying what came: the file's size is checked before it is read, the
number of columns from its first line before any other row is parsed, rows are counted as
they are read, and only plain decimal numbers are accepted (not NaN, not infinities).

`design_from_csv` (also `Connectivity.from_csv`) builds a design from a unit → unit matrix,
an input → unit matrix, or both.

Example:

>>> import io
>>> table = io.BytesIO(b",AVA,AVB\\nAVA,0,-1\\nAVB,2,0\\n")
>>> mask, sign, rows, columns = adjacency_from_csv(table)
>>> mask.astype(int).tolist(), sign.tolist(), rows
([[0, 1], [1, 0]], [[0, -1], [1, 0]], ['AVA', 'AVB'])
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

import numpy as np

from limconn.connectivity import MAX_DESIGN_BYTES, Connectivity
from limconn.npio import FileSource, read_bytes, source_name
from limconn.settings import Limits

SIGN_MODES = {
    "auto": "signs from the values when a matrix holds a negative value; a matrix of only "
            "0 and positive values (0/1, synapse counts) gives connections without signs",
    "always": "every connection takes its value's sign (a 0/1 matrix: all excitatory)",
    "never": "connections only; the weights' signs stay free",
}
"""How `design_from_csv` turns values into signs."""

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NOT_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
_HINT = (
    "An adjacency CSV holds one matrix, rows = sources, columns = targets, a number in every "
    "cell (0: no connection), optionally a header row and a first column of names."
)


def adjacency_from_csv(
    file: FileSource, *, limits: Limits | None = None, sources: str = "units"
) -> tuple[np.ndarray, np.ndarray, list[str] | None, list[str] | None]:
    """Reads one adjacency matrix from a CSV file; see the module docstring for the format.

    Args:
        file: a path, or a binary file object (read from its start).
        limits: the server's limits: the file may be at most `limits.max_upload_bytes`,
            have at most `limits.max_units` columns and at most `limits.max_units` rows (or
            `limits.max_inputs` when `sources="inputs"`). Without limits, files up to
            `MAX_DESIGN_BYTES` are read, of any number of rows and columns.
        sources: what the rows are, `"units"` or `"inputs"`, for the row limit.

    Returns:
        `(mask, sign, row_names, column_names)`: a bool `(rows, columns)` mask (non-zero
        cells), the values' signs as int8 -1/0/+1, and the names from the first column
        and the header row, or `None` where the file has none.

    Raises:
        ValueError: for a file too large, not UTF-8 text, empty, with rows of different
            lengths, more rows or columns than the limits, a cell that is not a number
            (the message gives its line, column and text), NaN or infinity, or repeated
            names.
    """
    if sources not in ("units", "inputs"):
        raise ValueError(f"sources must be 'units' or 'inputs'. Received: sources={sources!r}")
    name = source_name(file)
    max_bytes = MAX_DESIGN_BYTES if limits is None else limits.max_upload_bytes
    text = _text(read_bytes(file, max_bytes), name)
    max_columns = None if limits is None else limits.max_units
    max_rows = None if limits is None else getattr(limits, f"max_{sources}")
    lines, rows = _rows(text, name, max_rows, max_columns)

    corner = rows[0][0].strip()
    header = corner == "" or any(not _numeric(cell) for cell in rows[0][1:])
    index = corner == "" or any(not _numeric(row[0]) for row in rows[1:])
    first = int(header)
    columns = len(rows[0]) - int(index)
    if len(rows) == first or columns == 0:
        raise ValueError(
            f"{name} holds names but no matrix: {len(rows) - first} row(s) of {columns} "
            f"value(s){_layout(index, header)}. {_HINT}"
        )
    for limit, size, what in ((max_rows, len(rows) - first, f"{sources} (rows)"),
                              (max_columns, columns, "units (columns)")):
        if limit is not None and size > limit:
            raise ValueError(
                f"This server allows at most {limit} {what}. Received: {size} in {name}"
                f"{_layout(index, header)}."
            )
    column_names = [cell.strip() for cell in rows[0][int(index):]] if header else None
    row_names = [row[0].strip() for row in rows[first:]] if index else None
    for names, what in ((row_names, "row"), (column_names, "column")):
        _check_unique(names, what, name)

    values = np.zeros((len(rows) - first, columns))
    for r, (line, row) in enumerate(zip(lines[first:], rows[first:], strict=True)):
        for c, cell in enumerate(row[int(index):]):
            values[r, c] = _number(cell, name, line, c + 1 + int(index))
    return values != 0, np.sign(values).astype(np.int8), row_names, column_names


def design_from_csv(
    recurrent: FileSource | None = None,
    inputs: FileSource | None = None,
    *,
    input_dim: int | None = None,
    signs: str = "auto",
    limits: Limits | None = None,
    name: str | None = None,
) -> Connectivity:
    """A design from a unit → unit adjacency CSV, an input → unit one, or both.

    Without an input matrix, every one of `input_dim` inputs reaches every unit; without
    a recurrent matrix, every unit feeds every unit. Every unit reaches the readout. The
    names found in the files go to the metadata as `unit_names` and `input_names`.

    Args:
        recurrent: the unit → unit matrix, square `(units, units)`; with names, its row
            and column names must agree (row i and column i are one unit).
        inputs: the input → unit matrix `(input_dim, units)`.
        input_dim: with `recurrent` alone, the number of inputs (each reaches every unit);
            with `inputs`, optional, and then it must match its rows.
        signs: one of `SIGN_MODES` (`"auto"`, `"always"`, `"never"`), applied to each
            matrix: by default a matrix with negative values gives per-connection signs
            and a 0/1 (or all-positive) matrix gives connections whose weights stay free.
        limits: the server's limits (see `adjacency_from_csv`), also applied to the design.
        name: the design's name; the recurrent (else the input) file's name without its
            extension when `None`.

    Example:

    >>> design = design_from_csv("connectome.csv", input_dim=3)  # doctest: +SKIP
    >>> design.metadata["unit_names"][:2]  # doctest: +SKIP
    ['ADAL', 'ADAR']

    Raises:
        ValueError: for a refused file (see `adjacency_from_csv`), no file, a recurrent
            matrix that is not square, matrices or names that disagree, a missing or wrong
            `input_dim`, or an unknown `signs`; the message names what came.
    """
    if signs not in SIGN_MODES:
        raise ValueError(f"signs must be one of {list(SIGN_MODES)}. Received: signs={signs!r}")
    if recurrent is None and inputs is None:
        raise ValueError(
            "Give a recurrent (unit → unit) CSV, an input (input → unit) CSV, or both."
        )
    metadata: dict = {"name": name or Path(source_name(recurrent or inputs)).stem}
    recurrent_mask = recurrent_sign = unit_names = None
    if recurrent is not None:
        recurrent_mask, sign, row_names, column_names = adjacency_from_csv(recurrent, limits=limits)
        where = source_name(recurrent)
        if recurrent_mask.shape[0] != recurrent_mask.shape[1]:
            raise ValueError(
                f"The recurrent matrix must be square (units × units). Received: "
                f"{recurrent_mask.shape[0]} rows × {recurrent_mask.shape[1]} columns in {where}"
                f"{_layout(row_names is not None, column_names is not None)}."
            )
        unit_names = _agreeing(row_names, column_names, f"{where}'s row and column names")
        recurrent_sign = signs_for(sign, signs)
        metadata["recurrent_csv"] = where
    input_mask = input_sign = input_names = None
    if inputs is not None:
        input_mask, sign, input_names, column_names = adjacency_from_csv(
            inputs, limits=limits, sources="inputs"
        )
        where = source_name(inputs)
        if recurrent_mask is not None and input_mask.shape[1] != recurrent_mask.shape[0]:
            raise ValueError(
                f"The input matrix's columns are the units: {recurrent_mask.shape[0]} in the "
                f"recurrent matrix. Received: {input_mask.shape[1]} columns in {where}"
                f"{_layout(input_names is not None, column_names is not None)}."
            )
        if input_dim is not None and input_dim != input_mask.shape[0]:
            raise ValueError(
                f"input_dim must match the input matrix's rows ({input_mask.shape[0]} in "
                f"{where}). Received: input_dim={input_dim!r}"
            )
        unit_names = _agreeing(unit_names, column_names, "the unit names of both files")
        input_sign = signs_for(sign, signs)
        metadata["input_csv"] = where
    else:
        if not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
            raise ValueError(
                "Without an input CSV, input_dim (the number of inputs, each reaching every "
                f"unit) must be a positive integer. Received: input_dim={input_dim!r}"
            )
        input_mask = np.ones((int(input_dim), recurrent_mask.shape[0]), bool)
    if limits is not None:
        limits.check_design(input_dim=input_mask.shape[0], units=input_mask.shape[1])
    metadata["signs"] = signs
    if unit_names is not None:
        metadata["unit_names"] = unit_names
    if input_names is not None:
        metadata["input_names"] = input_names
    return Connectivity(
        input_mask, recurrent_mask, metadata=metadata,
        input_sign=input_sign, recurrent_sign=recurrent_sign,
    )


def _text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{name} is not UTF-8 text: byte 0x{data[error.start]:02x} at position "
            f"{error.start} cannot be decoded. Save the table as CSV (UTF-8)."
        ) from None
    if not text.strip():
        raise ValueError(f"{name} is empty. {_HINT}")
    return text


def _rows(
    text: str, name: str, max_rows: int | None, max_columns: int | None
) -> tuple[list[int], list[list[str]]]:
    """The CSV's non-empty rows of cells, all as wide as the first, with their line numbers.

    Refused as soon as the first row is wider than `max_columns` + 1 (a column of names)
    or the rows outnumber `max_rows` + 1 (a header); the exact sizes are checked once the
    names are detected.
    """
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[int] = []
    rows: list[list[str]] = []
    try:
        for row in reader:
            if not row:
                continue
            if not rows and max_columns is not None and len(row) > max_columns + 1:
                raise ValueError(
                    f"This server allows at most {max_columns} units (columns), plus one "
                    f"column of names. Received: {len(row)} columns in the first line of {name}."
                )
            if rows and len(row) != len(rows[0]):
                raise ValueError(
                    f"{name}: line {reader.line_num} has {len(row)} cell(s) but the first "
                    f"line has {len(rows[0])}; every row must be as wide. {_HINT}"
                )
            if max_rows is not None and len(rows) > max_rows:
                raise ValueError(
                    f"This server allows at most {max_rows} source rows, plus one header row. "
                    f"Received: more than {max_rows + 1} rows in {name}."
                )
            lines.append(reader.line_num)
            rows.append(row)
    except csv.Error as error:
        raise ValueError(f"{name} is not a readable CSV table: {error}. {_HINT}") from None
    if not rows:
        raise ValueError(f"{name} is empty. {_HINT}")
    return lines, rows


def _numeric(cell: str) -> bool:
    """Whether a cell reads as a number for detecting names (NaN and infinity count, so
    that they are refused as values rather than taken for names)."""
    cell = cell.strip()
    return bool(_NUMBER.fullmatch(cell) or _NOT_FINITE.fullmatch(cell))


def _number(cell: str, name: str, line: int, column: int) -> float:
    text = cell.strip()
    where = f"{name}, line {line}, column {column}"
    if _NOT_FINITE.fullmatch(text):
        raise ValueError(
            f"{where}: {text!r} is not a connection; use 0 for none and a finite number "
            "otherwise."
        )
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{where}: {cell!r} is not a number. {_HINT}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{where}: {text!r} is too large to be a finite number.")
    return value


def _check_unique(names: list[str] | None, what: str, name: str) -> None:
    if names is None:
        return
    seen: set[str] = set()
    for item in names:
        if item in seen:
            raise ValueError(f"{name}: the {what} name {item!r} appears more than once.")
        seen.add(item)


def _agreeing(first: list[str] | None, second: list[str] | None, what: str) -> list[str] | None:
    """The names either list gives; refused if both are given and differ."""
    if first is not None and second is not None and first != second:
        position = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
        raise ValueError(
            f"{what} must name the same units in the same order. Received: {first[position]!r} "
            f"and {second[position]!r} at position {position + 1}."
        )
    return first if first is not None else second


def signs_for(sign: np.ndarray, mode: str) -> np.ndarray | None:
    """The signs a design takes from a matrix's value signs under `mode` (`SIGN_MODES`)."""
    if mode == "never" or (mode == "auto" and not (sign < 0).any()):
        return None
    return sign


def _layout(index: bool, header: bool) -> str:
    """How the file was read, for a message about its shape."""
    parts = []
    if header:
        parts.append("its first row read as names")
    if index:
        parts.append("its first column read as names")
    return f" ({' and '.join(parts)})" if parts else ""
