"""What travels between the mask painter and Python, and when a stroke may be taken.

Pure Python (NumPy, no Streamlit), so the protocol is unit-tested without a server and the
browser side (`painter.mjs`) is checked against it. Rows are sources, columns are targets.

Down to the browser: the mask as `encode_mask`'s `{"shape", "bits"}`, each row's sign as
`encode_signs`' string, per-connection signs as `encode_connection_signs`' two bit planes,
all in one JSON text (`paint_mask` says why).
Up from the browser, once per finished stroke or strip edit: the whole mask and (when the
painter shows a sign strip) every row's sign, plus the revision it was painted on:
`{"shape", "bits", "signs"?, "rev", "seq", "nonce"}`. `_reconcile` decides whether that
payload applies to the page's current state (see `limconn.ui.painter.paint_mask`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from limconn.connectivity import as_bool_mask

__all__ = [
    "MAX_SIDE",
    "SIGN_CHARS",
    "Painted",
    "as_signs",
    "check_shape",
    "decode_mask",
    "decode_signs",
    "encode_connection_signs",
    "encode_mask",
    "encode_signs",
]

_LOGGER = logging.getLogger(__name__)

MAX_SIDE = 256
"""Largest number of rows or columns the painter accepts."""

SIGN_CHARS = {"+": 1, "-": -1, "0": 0}
"""One character per row sign: `+` excitatory, `-` inhibitory, `0` free."""

_MAX_NONCE_CHARS = 64


@dataclasses.dataclass(frozen=True, eq=False)
class Painted:
    """What the painter holds after the user's latest edit.

    Attributes:
        mask: `(rows, cols)` bool array; `mask[i, j]` means source `i` reaches target `j`.
        row_signs: `(rows,)` int8 array of each source's sign (`+1` excitatory: all its
            outgoing weights >= 0; `-1` inhibitory: all <= 0; `0` free), or None when the
            painter shows no sign strip.
    """

    mask: np.ndarray
    row_signs: np.ndarray | None


def check_shape(shape: Any, what: str) -> tuple[int, int]:
    """Returns `shape` as `(rows, cols)` if it is two ints in 1..MAX_SIDE, else raises."""
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) != 2
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape)
    ):
        raise ValueError(f"{what} must be a pair of ints [rows, cols]. Received: {shape!r}")
    rows, cols = int(shape[0]), int(shape[1])
    if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE):
        raise ValueError(
            f"{what} must have 1..{MAX_SIDE} rows and columns. Received: {[rows, cols]}"
        )
    return rows, cols


def _short(value: Any, limit: int = 120) -> str:
    """`repr(value)`, cut to `limit` characters so error messages stay readable."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bits(array: np.ndarray) -> str:
    """Standard base64 of `np.packbits(array.ravel())`."""
    return base64.b64encode(np.packbits(array.ravel()).tobytes()).decode("ascii")


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """Encodes a 2-D boolean mask as `{"shape": [rows, cols], "bits": base64}`.

    `bits` is the standard (padded) base64 of `np.packbits(mask.ravel())`: row-major,
    8 cells per byte, most significant bit first, the last byte padded with zeros.
    A 256 x 256 mask travels as 10,924 characters.

    Args:
        mask: 2-D bool array (or 0/1 numbers), 1..256 rows and columns.

    Returns:
        A JSON-serialisable dict that `decode_mask` turns back into the same array.

    Raises:
        ValueError: if `mask` is not 2-D, not 0/1, or has a side outside 1..256.

    Example:

    >>> state = encode_mask(np.eye(3, dtype=bool))
    >>> state
    {'shape': [3, 3], 'bits': 'iIA='}
    >>> bool((decode_mask(state, (3, 3)) == np.eye(3, dtype=bool)).all())
    True
    """
    array = as_bool_mask(mask, "mask", ndims=(2,))
    check_shape(list(array.shape), "mask.shape")
    return {"shape": [int(array.shape[0]), int(array.shape[1])], "bits": _bits(array)}


def decode_mask(state: Any, shape: tuple[int, int]) -> np.ndarray:
    """Decodes `encode_mask`'s (or the painter's) encoding into a boolean array.

    The size of the payload is checked against `shape` before anything is decoded or
    allocated, so a malformed or hostile state costs nothing.

    Args:
        state: mapping with `"shape"` (`[rows, cols]`) and `"bits"` (base64 of the
            packed bits); other keys (the painter's `signs`, `rev`, `seq`, `nonce`) are
            ignored.
        shape: the `(rows, cols)` the caller expects.

    Returns:
        A new `(rows, cols)` bool array.

    Raises:
        ValueError: if `state` is not a mapping, its shape is not two ints or differs
            from `shape`, or `bits` is not base64 of exactly `ceil(rows * cols / 8)` bytes.
            The message names the value received.
    """
    rows, cols = check_shape(tuple(shape), "shape")
    if not isinstance(state, Mapping):
        raise ValueError(f"A mask state must be a mapping. Received: {_short(state)}")
    got = check_shape(state.get("shape"), "state['shape']")
    if got != (rows, cols):
        raise ValueError(
            f"state['shape'] must equal the expected shape {[rows, cols]}. Received: {list(got)}"
        )
    bits = state.get("bits")
    if not isinstance(bits, str):
        raise ValueError(f"state['bits'] must be a base64 string. Received: {_short(bits)}")
    n_bytes = (rows * cols + 7) // 8
    n_chars = 4 * ((n_bytes + 2) // 3)
    if len(bits) != n_chars:
        raise ValueError(
            f"state['bits'] must be {n_chars} base64 characters for a {rows}x{cols} mask. "
            f"Received: {len(bits)} characters"
        )
    try:
        raw = base64.b64decode(bits, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"state['bits'] is not valid base64. Received: {_short(bits)}") from error
    if len(raw) != n_bytes:
        raise ValueError(
            f"state['bits'] must decode to {n_bytes} bytes. Received: {len(raw)} bytes"
        )
    flat = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=rows * cols)
    return flat.astype(bool).reshape(rows, cols)


# --------------------------------------------------------------------------------------
# Signs (Dale's law): each source excitatory, inhibitory or free.
# --------------------------------------------------------------------------------------


def as_signs(values: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Converts an array-like of -1/0/+1 numbers of `shape` to int8, refusing anything else.

    Args:
        values: array-like of integers (or floats) that are all exactly -1, 0 or +1.
        name: what the array is called in error messages (e.g. `"row_signs"`).
        shape: the shape it must have.

    Returns:
        A new int8 `np.ndarray`.

    Raises:
        ValueError: for another shape, a non-numeric or bool dtype, or another value.
    """
    try:
        array = np.asarray(values)
    except Exception as error:
        raise ValueError(
            f"{name} must be an array of -1, 0 and 1. Received: {_short(values)}"
        ) from error
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}. Received: shape {array.shape}")
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold the numbers -1, 0 and 1. Received: dtype {array.dtype}")
    bad = array[(array != -1) & (array != 0) & (array != 1)]
    if bad.size:
        shown = ", ".join(str(v) for v in np.unique(bad)[:5])
        raise ValueError(f"{name} must hold only -1, 0 and 1. Received other values: {shown}")
    return array.astype(np.int8)


def encode_signs(row_signs: np.ndarray) -> str:
    """Encodes row signs as one character per row: `+` (+1), `-` (-1), `0` (free).

    Args:
        row_signs: 1-D array of -1/0/+1, 1..256 entries.

    Returns:
        A string that `decode_signs` turns back into the same signs.

    Raises:
        ValueError: if `row_signs` is not 1-D, has more than 256 entries, or holds
            another value.

    Example:

    >>> encode_signs(np.array([1, -1, 0]))
    '+-0'
    """
    array = np.asarray(row_signs)
    if array.ndim != 1 or not 1 <= array.size <= MAX_SIDE:
        raise ValueError(
            f"row_signs must be 1-D with 1..{MAX_SIDE} entries. Received: shape {array.shape}"
        )
    checked = as_signs(array, "row_signs", array.shape)
    return "".join(np.array(["-", "0", "+"])[checked + 1])


def decode_signs(text: Any, rows: int) -> np.ndarray:
    """Decodes `encode_signs`' (or the painter's) string into `(rows,)` int8 signs.

    The length is checked before anything else is read.

    Args:
        text: a string of exactly `rows` characters, each `+`, `-` or `0`.
        rows: the number of rows the caller expects.

    Returns:
        A new int8 array of -1, 0 and +1.

    Raises:
        ValueError: if `text` is not a string, has another length or another character.
            The message names the value received.
    """
    if not isinstance(text, str):
        raise ValueError(f"state['signs'] must be a string of +, - and 0. Received: {_short(text)}")
    if len(text) != rows:
        raise ValueError(
            f"state['signs'] must have {rows} characters, one per row. "
            f"Received: {len(text)} characters"
        )
    unknown = set(text) - SIGN_CHARS.keys()
    if unknown:
        raise ValueError(
            f"state['signs'] may hold only +, - and 0. Received: {_short(''.join(sorted(unknown)))}"
        )
    return np.array([SIGN_CHARS[char] for char in text], dtype=np.int8)


def encode_connection_signs(connection_signs: np.ndarray) -> dict[str, str]:
    """Encodes per-connection signs as two bit planes, `{"positive", "negative"}`.

    Each plane is `encode_mask`'s `bits` of `signs > 0` and `signs < 0`, so a 256 x 256
    array travels as twice 10,924 characters.

    Args:
        connection_signs: 2-D array of -1/0/+1, 1..256 rows and columns.

    Returns:
        A JSON-serialisable dict the painter decodes for display.

    Raises:
        ValueError: if `connection_signs` is not 2-D within 1..256 a side or holds
            another value.
    """
    array = np.asarray(connection_signs)
    if array.ndim != 2:
        raise ValueError(
            f"connection_signs must be 2-D. Received: shape {array.shape} ({array.ndim}-D)"
        )
    check_shape(list(array.shape), "connection_signs.shape")
    checked = as_signs(array, "connection_signs", array.shape)
    return {"positive": _bits(checked > 0), "negative": _bits(checked < 0)}


# --------------------------------------------------------------------------------------
# The revision protocol.
# --------------------------------------------------------------------------------------


def _digest(mask: np.ndarray, row_signs: np.ndarray | None = None) -> str:
    """A short content hash of a bool mask (shape included) and its row signs, if any."""
    payload = f"{mask.shape[0]}x{mask.shape[1]}:".encode() + np.packbits(mask.ravel()).tobytes()
    if row_signs is not None:
        payload += b"|signs:" + encode_signs(row_signs).encode("ascii")
    return hashlib.blake2b(payload, digest_size=12).hexdigest()


def _stroke_id(stroke: Any) -> dict[str, Any] | None:
    """`{"nonce", "seq"}` naming a stroke state, or None if it names nothing usable."""
    if not isinstance(stroke, Mapping):
        return None
    nonce, seq = stroke.get("nonce"), stroke.get("seq")
    if not isinstance(nonce, str) or not 0 < len(nonce) <= _MAX_NONCE_CHARS:
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    return {"nonce": nonce, "seq": seq}


def _decode_stroke(stroke: Mapping[str, Any], mask: np.ndarray, signed: bool) -> Painted:
    """The mask and row signs a stroke carries; signs only when the painter has a strip."""
    painted = decode_mask(stroke, mask.shape)
    signs = stroke.get("signs")
    if not signed:
        if signs is not None:
            raise ValueError(
                f"state['signs'] must be absent: this painter has no sign strip. "
                f"Received: {_short(signs)}"
            )
        return Painted(painted, None)
    return Painted(painted, decode_signs(signs, mask.shape[0]))


def _reconcile(
    mask: np.ndarray,
    book: Mapping[str, Any] | None,
    stroke: Any,
    row_signs: np.ndarray | None = None,
) -> tuple[Painted | None, dict[str, Any]]:
    """Decides whether the browser's latest stroke or strip edit applies to the page's state.

    The page's state is `mask` plus, when the painter shows a sign strip, `row_signs`;
    a change to either is a change of revision, so a strip edit painted on an older
    revision is as stale as a stroke.

    Args:
        mask: the page's authoritative mask (validated 2-D bool).
        book: what this painter did last, or None on first use: `rev` (the revision),
            `digest` (of the state on show), `ack` (the last stroke known to be stored) and
            `pending` (the stroke returned last time, with its result's digest, until the
            page is seen holding that result).
        stroke: the component's `stroke` state (whatever the browser sent), or None.
        row_signs: the page's authoritative row signs (validated `(rows,)` int8), or None
            when the painter shows no sign strip.

    Returns:
        `(painted, book)`: `painted` is the new state when `stroke` is a new stroke painted
        on the current revision with `mask`'s shape (and, with a strip, signs for every
        row), else None; `book` is the updated book.
    """
    digest = _digest(mask, row_signs)
    stroke_id = _stroke_id(stroke)
    if book is None:
        # First sight: whatever state is lying around predates us; never apply it.
        return None, {"rev": 0, "digest": digest, "ack": stroke_id, "pending": None}
    rev, shown, ack = int(book["rev"]), book["digest"], book["ack"]
    pending = book.get("pending")
    if pending is not None and pending["digest"] == digest:
        # The page stored what we returned last time.
        shown, ack = digest, pending["ack"]
    # Otherwise it did not (its run was interrupted by the next stroke, or it chose not
    # to), and the stroke, still not acknowledged, is offered again below.
    if digest != shown:
        # The page changed the mask or the signs (a preset, an upload, a new shape):
        # new revision.
        rev, shown = rev + 1, digest
    book = {"rev": rev, "digest": shown, "ack": ack, "pending": None}
    if stroke_id is None or stroke_id == ack or stroke.get("rev") != rev:
        return None, book
    try:
        painted = _decode_stroke(stroke, mask, signed=row_signs is not None)
    except ValueError as error:
        _LOGGER.warning("Ignoring a malformed painter stroke: %s", error)
        book["ack"] = stroke_id
        return None, book
    book["pending"] = {"digest": _digest(painted.mask, painted.row_signs), "ack": stroke_id}
    return painted, book
