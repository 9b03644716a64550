"""A connectivity design: which inputs reach which units, which units feed which.

Conventions (shared with Keras's own weight layout):

* rows are sources, columns are targets;
* `input_mask[i, j]`: input feature `i` may reach unit `j`, shape `(input_dim, units)`;
* `recurrent_mask[i, j]`: unit `i`'s previous hidden state may reach unit `j`,
  shape `(units, units)`;
* a 3-D mask `(4, rows, units)` is per gate, in Keras's gate order i, f, c, o;
  a 2-D mask applies to all four gates;
* `output_mask[j]`: unit `j` may reach the readout, shape `(units,)`;
* optional signs (Dale's law): `input_sign` / `recurrent_sign` hold -1, 0 or +1 per
  **source** (`(input_dim,)`, `(units,)`: +1 means every outgoing weight of that source is
  >= 0 in every gate, -1 means <= 0, 0 leaves it free) or per **connection**, shaped like the
  mask (a polarity per synapse, as ncps wirings have).

Masks are boolean in memory and in files. Files are read through `limconn.npio`, always:
sizes are checked before anything is read or decompressed (`MAX_DESIGN_BYTES` unless a
`max_bytes` is given), a pickled or object-dtype file is refused, and the masks' declared
shapes are checked against the operator's `Limits` (when given) and against the dense masks
a design implies, before any of them is allocated.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from typing import Any

import numpy as np

from limconn.npio import (
    ArrayHeader,
    FileSource,
    file_limit,
    parse_npy,
    read_bytes,
    read_npz,
    size_text,
    source_name,
)
from limconn.settings import Limits

GATES = ("i", "f", "c", "o")
NUM_GATES = len(GATES)

MAX_DESIGN_BYTES = 64 * 1024 * 1024
"""The largest design or mask file read (and the most a design's arrays may expand to)."""

_METADATA_KEY = "metadata_json"
# What the trailing axes of each design array count, for checking them against `Limits`.
_DESIGN_AXES = {
    "input_mask": ("inputs", "units"),
    "recurrent_mask": ("units", "units"),
    "output_mask": ("units",),
    "input_sign": ("inputs", "units"),
    "recurrent_sign": ("units", "units"),
}
"""What each trailing axis of a design's arrays counts; a 1-D sign array has one per source."""
# The last sentence of a message about a wrong file: what a design or a mask file holds.
_DESIGN_HINT = (
    "A design is an .npz archive with arrays input_mask and, optionally, recurrent_mask, "
    "output_mask and metadata_json, as written by Connectivity.save; load a single mask "
    "(.npy) with load_mask_npy."
)
_MASK_HINT = (
    "A mask is one .npy array of bool or 0/1, as written by save_mask_npy; load a whole "
    "design (.npz) with Connectivity.load."
)


def as_bool_mask(value: Any, name: str, ndims: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Converts a bool or 0/1 array-like to a boolean mask, refusing anything else.

    Args:
        value: array-like of bools, or numbers that are all exactly 0 or 1.
        name: what the mask is called in error messages (e.g. `"input_mask"`).
        ndims: the ranks accepted.

    Returns:
        A new `np.ndarray` of dtype bool.

    Raises:
        ValueError: for another rank, NaN, values other than 0/1, or a non-numeric dtype.
    """
    try:
        array = np.asarray(value)
    except Exception as error:
        raise ValueError(f"{name} must be an array of 0/1 or bool. Received: {value!r}") from error
    if array.ndim not in ndims:
        expected = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(
            f"{name} must be {expected}. Received: shape {array.shape} ({array.ndim}-D)."
        )
    if array.dtype == bool:
        return array.copy()
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"{name} must hold bool or 0/1 numbers. Received: dtype {array.dtype}."
        )
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ValueError(
            f"{name} must hold only 0 and 1. Received: {int(np.isnan(array).sum())} NaN value(s)."
        )
    bad = array[(array != 0) & (array != 1)]
    if bad.size:
        shown = ", ".join(str(v) for v in np.unique(bad)[:5])
        raise ValueError(f"{name} must hold only 0 and 1. Received other values: {shown}.")
    return array.astype(bool)


def as_sign(value: Any, name: str, mask_shape: tuple[int, ...]) -> np.ndarray | None:
    """Validates signs for a mask of `mask_shape`: per source `(rows,)` or shaped like it.

    Args:
        value: `None` (no sign constraints), or integers in {-1, 0, +1}: one per source
            (`(rows,)`), one per connection (`(rows, units)`), or per gate and connection
            (`(4, rows, units)`).
        name: what the signs are called in error messages (e.g. `"input_sign"`).
        mask_shape: the shape of the mask the signs go with.

    Returns:
        `None`, or a new int8 array.

    Raises:
        ValueError: for values other than -1, 0, +1, NaN, or a shape that fits neither a
            source vector nor the mask; the message names what came.
    """
    if value is None:
        return None
    try:
        array = np.asarray(value)
    except Exception as error:
        raise ValueError(f"{name} must be an array of -1, 0, +1. Received: {value!r}") from error
    rows, units = mask_shape[-2], mask_shape[-1]
    accepted = [(rows,), (rows, units), (NUM_GATES, rows, units)]
    if array.shape not in accepted:
        raise ValueError(
            f"{name} must have shape {accepted[0]} (one sign per source), {accepted[1]} or "
            f"{accepted[2]} (one per connection). Received: shape {array.shape}."
        )
    if array.dtype != bool and not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold -1, 0 or +1. Received: dtype {array.dtype}.")
    bad = array[~np.isin(array, (-1, 0, 1))]
    if bad.size:
        shown = ", ".join(str(v) for v in np.unique(bad)[:5])
        raise ValueError(f"{name} must hold only -1, 0 and +1. Received other values: {shown}.")
    return array.astype(np.int8)


def sign_layout(sign: np.ndarray | None, mask_shape: tuple[int, ...]) -> np.ndarray | None:
    """Signs in the `(rows, 4 * units)` layout of Keras's kernels, or `None`."""
    if sign is None:
        return None
    units = mask_shape[-1]
    if sign.ndim == 1:
        return np.repeat(sign[:, None], NUM_GATES * units, axis=1)
    return expand_gates(sign)


def expand_gates(mask: np.ndarray) -> np.ndarray:
    """Returns the `(rows, 4 * units)` layout of Keras's kernels for a 2-D or per-gate mask.

    A 2-D mask is tiled over the four gate blocks; a `(4, rows, units)` mask puts gate `g`
    in columns `g * units : (g + 1) * units`, gate order i, f, c, o.
    """
    if mask.ndim == 2:
        return np.tile(mask, (1, NUM_GATES))
    gates, rows, units = mask.shape
    return mask.transpose(1, 0, 2).reshape(rows, gates * units)


def any_gate(mask: np.ndarray) -> np.ndarray:
    """Collapses a per-gate mask to 2-D: a source reaches a target if any gate connects them."""
    return mask if mask.ndim == 2 else mask.any(axis=0)


@dataclasses.dataclass(frozen=True)
class SignCounts:
    """How many sources (per-source signs) or live connections (per-connection signs) are
    excitatory (+1), inhibitory (-1) or free (0).

    Attributes:
        per: `"source"` or `"connection"`.
        excitatory, inhibitory, free: the counts.
    """

    per: str
    excitatory: int
    inhibitory: int
    free: int


def _sign_counts(sign: np.ndarray | None, mask: np.ndarray) -> SignCounts | None:
    if sign is None:
        return None
    if sign.ndim == 1:
        values, per = sign, "source"
    else:
        live = any_gate(mask) if sign.ndim < mask.ndim else np.broadcast_to(mask, sign.shape)
        values, per = sign[live], "connection"
    return SignCounts(per, int((values > 0).sum()), int((values < 0).sum()),
                      int((values == 0).sum()))


@dataclasses.dataclass(frozen=True)
class ConnectivityStats:
    """Numbers that describe a design; computed by `Connectivity.stats()`.

    Attributes:
        input_density: fraction of True in the input mask (over all gates).
        recurrent_density: fraction of True in the recurrent mask (over all gates).
        output_density: fraction of units that reach the readout.
        effective_parameters: trainable LSTM parameters left by the masks (biases included).
        dense_parameters: trainable parameters of the dense LSTM of the same size.
        fan_in: per unit, how many inputs and units reach it (any gate).
        fan_out: per unit, how many units it feeds (any gate), plus 1 if it reaches the readout.
        unreachable_units: units that no input reaches, directly or through other units.
        dead_end_units: units whose state cannot reach the readout, directly or through others.
        isolated_units: units with no connection in or out, other than to themselves.
        input_signs: E/I counts of the input signs, or `None` without input signs.
        recurrent_signs: E/I counts of the recurrent signs, or `None` without them.
    """

    input_density: float
    recurrent_density: float
    output_density: float
    effective_parameters: int
    dense_parameters: int
    fan_in: np.ndarray
    fan_out: np.ndarray
    unreachable_units: tuple[int, ...]
    dead_end_units: tuple[int, ...]
    isolated_units: tuple[int, ...]
    input_signs: SignCounts | None = None
    recurrent_signs: SignCounts | None = None

    @property
    def parameter_ratio(self) -> float:
        """Effective over dense parameters, in [0, 1]."""
        return self.effective_parameters / self.dense_parameters


@dataclasses.dataclass(frozen=True, eq=False)
class Connectivity:
    """One connectivity design for an LSTM layer: input, recurrent and output masks.

    A design is a plain value: it validates on construction, describes itself with
    `stats()`, and round-trips through `.npz` with `save` / `load`.

    Args:
        input_mask: `(input_dim, units)` or per gate `(4, input_dim, units)`, bool or 0/1.
        recurrent_mask: `(units, units)` or `(4, units, units)`; all True when omitted.
        output_mask: `(units,)`; all True when omitted.
        metadata: plain JSON-serialisable values (name, preset, parameters, ...).
        input_sign: `None` (free), or -1/0/+1 per input `(input_dim,)` or per connection
            (shaped like `input_mask`); see the module docstring.
        recurrent_sign: `None`, or -1/0/+1 per unit `(units,)` or per connection.

    Example:

    >>> design = Connectivity(np.eye(3, 4), recurrent_mask=np.eye(4))
    >>> design.input_dim, design.units
    (3, 4)
    >>> design.save("design.npz")  # doctest: +SKIP
    >>> Connectivity.load("design.npz").recurrent_mask.sum()  # doctest: +SKIP
    4

    Raises:
        ValueError: if a mask holds values other than 0/1, has the wrong rank, or its
            dimensions disagree with the others; the message names what came.
    """

    input_mask: np.ndarray
    recurrent_mask: np.ndarray | None = None
    output_mask: np.ndarray | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    input_sign: np.ndarray | None = None
    recurrent_sign: np.ndarray | None = None

    def __post_init__(self):
        input_mask = as_bool_mask(self.input_mask, "input_mask")
        units = input_mask.shape[-1]
        if input_mask.ndim == 3 and input_mask.shape[0] != NUM_GATES:
            raise ValueError(
                "A per-gate input_mask must have shape (4, input_dim, units), gates i, f, c, o. "
                f"Received: shape {input_mask.shape}."
            )
        if self.recurrent_mask is None:
            recurrent_mask = np.ones((units, units), bool)
        else:
            recurrent_mask = as_bool_mask(self.recurrent_mask, "recurrent_mask")
        expected = (units, units)
        if recurrent_mask.shape[-2:] != expected or (
            recurrent_mask.ndim == 3 and recurrent_mask.shape[0] != NUM_GATES
        ):
            raise ValueError(
                f"recurrent_mask must have shape {expected} or {(NUM_GATES, *expected)} to match "
                f"input_mask's {units} units. Received: shape {recurrent_mask.shape}."
            )
        if self.output_mask is None:
            output_mask = np.ones(units, bool)
        else:
            output_mask = as_bool_mask(self.output_mask, "output_mask", ndims=(1,))
        if output_mask.shape != (units,):
            raise ValueError(
                f"output_mask must have shape ({units},) to match {units} units. "
                f"Received: shape {output_mask.shape}."
            )
        try:
            metadata = json.loads(json.dumps(dict(self.metadata)))
        except (TypeError, ValueError, RecursionError) as error:
            raise ValueError(
                f"metadata must hold plain JSON values. Received: {self.metadata!r}"
            ) from error
        input_sign = as_sign(self.input_sign, "input_sign", input_mask.shape)
        recurrent_sign = as_sign(self.recurrent_sign, "recurrent_sign", recurrent_mask.shape)
        for name, value in (
            ("input_mask", input_mask),
            ("recurrent_mask", recurrent_mask),
            ("output_mask", output_mask),
            ("input_sign", input_sign),
            ("recurrent_sign", recurrent_sign),
        ):
            if value is not None:
                value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "metadata", metadata)

    @classmethod
    def dense(cls, input_dim: int, units: int, **metadata) -> Connectivity:
        """The fully connected design: every mask all True."""
        return cls(np.ones((input_dim, units), bool), metadata=metadata)

    @classmethod
    def from_ncps(cls, wiring, name: str | None = None) -> Connectivity:
        """The design of a built ncps `Wiring`; see `limconn.wirings.from_ncps`."""
        from limconn import wirings

        return wirings.from_ncps(wiring, name=name)

    @classmethod
    def from_csv(
        cls, recurrent=None, inputs=None, *, input_dim: int | None = None, signs: str = "auto",
        limits=None, name: str | None = None,
    ) -> Connectivity:
        """A design from adjacency CSV files; see `limconn.adjacency.design_from_csv`."""
        from limconn import adjacency

        return adjacency.design_from_csv(
            recurrent, inputs, input_dim=input_dim, signs=signs, limits=limits, name=name
        )

    @property
    def input_dim(self) -> int:
        return self.input_mask.shape[-2]

    @property
    def units(self) -> int:
        return self.input_mask.shape[-1]

    @property
    def per_gate(self) -> bool:
        """True if either matrix has its own mask per gate."""
        return self.input_mask.ndim == 3 or self.recurrent_mask.ndim == 3

    @property
    def signed(self) -> bool:
        """True if either matrix carries sign constraints."""
        return self.input_sign is not None or self.recurrent_sign is not None

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    def replace(self, **changes) -> Connectivity:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def edited(self, **changes) -> Connectivity:
        """A copy changed by hand: its metadata no longer claims to be a preset's output.

        The name is kept; a `preset` and its `params` move under `based_on`, so an exported
        design says what it started from without saying it still is that preset.
        """
        metadata = {key: value for key, value in self.metadata.items()
                    if key not in ("preset", "params")}
        if "preset" in self.metadata:
            metadata["based_on"] = {"preset": self.metadata["preset"],
                                    "params": self.metadata.get("params", {})}
        return self.replace(metadata=metadata, **changes)

    def resized(self, input_dim: int, units: int) -> Connectivity:
        """A copy with other sizes: existing entries kept, new connections switched on."""
        for name, value in (("input_dim", input_dim), ("units", units)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
        return self.replace(
            input_mask=_fit(self.input_mask, (input_dim, units)),
            recurrent_mask=_fit(self.recurrent_mask, (units, units)),
            output_mask=_fit(self.output_mask, (units,)),
            input_sign=_fit_sign(self.input_sign, input_dim, units),
            recurrent_sign=_fit_sign(self.recurrent_sign, units, units),
        )

    def kernel_mask(self) -> np.ndarray:
        """The input mask in the layout of Keras's `kernel`: `(input_dim, 4 * units)`."""
        return expand_gates(self.input_mask)

    def recurrent_kernel_mask(self) -> np.ndarray:
        """The recurrent mask in the layout of `recurrent_kernel`: `(units, 4 * units)`."""
        return expand_gates(self.recurrent_mask)

    def kernel_sign(self) -> np.ndarray | None:
        """The input signs in the layout of Keras's `kernel`, or `None` without signs."""
        return sign_layout(self.input_sign, self.input_mask.shape)

    def recurrent_kernel_sign(self) -> np.ndarray | None:
        """The recurrent signs in the layout of `recurrent_kernel`, or `None`."""
        return sign_layout(self.recurrent_sign, self.recurrent_mask.shape)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Connectivity):
            return NotImplemented
        return (
            np.array_equal(self.input_mask, other.input_mask)
            and self.input_mask.shape == other.input_mask.shape
            and self.recurrent_mask.shape == other.recurrent_mask.shape
            and np.array_equal(self.recurrent_mask, other.recurrent_mask)
            and np.array_equal(self.output_mask, other.output_mask)
            and _same_sign(self.input_sign, other.input_sign)
            and _same_sign(self.recurrent_sign, other.recurrent_sign)
            and self.metadata == other.metadata
        )

    __hash__ = None

    def stats(self) -> ConnectivityStats:
        """Densities, parameter counts, fan-in/out and reachability of this design."""
        units = self.units
        input_any = any_gate(self.input_mask)
        recurrent_any = any_gate(self.recurrent_mask)
        off_diagonal = recurrent_any & ~np.eye(units, dtype=bool)

        reached = _closure(input_any.any(axis=0), off_diagonal)
        reaches_output = _closure(self.output_mask, off_diagonal.T)
        has_in = input_any.any(axis=0) | off_diagonal.any(axis=0)
        has_out = off_diagonal.any(axis=1) | self.output_mask

        dense_parameters = NUM_GATES * (self.input_dim * units + units * units + units)
        effective = (
            int(self.kernel_mask().sum())
            + int(self.recurrent_kernel_mask().sum())
            + NUM_GATES * units
        )
        return ConnectivityStats(
            input_density=float(self.input_mask.mean()),
            recurrent_density=float(self.recurrent_mask.mean()),
            output_density=float(self.output_mask.mean()),
            effective_parameters=effective,
            dense_parameters=dense_parameters,
            fan_in=input_any.sum(axis=0) + recurrent_any.sum(axis=0),
            fan_out=recurrent_any.sum(axis=1) + self.output_mask.astype(int),
            unreachable_units=tuple(np.flatnonzero(~reached).tolist()),
            dead_end_units=tuple(np.flatnonzero(~reaches_output).tolist()),
            isolated_units=tuple(np.flatnonzero(~has_in & ~has_out).tolist()),
            input_signs=_sign_counts(self.input_sign, self.input_mask),
            recurrent_signs=_sign_counts(self.recurrent_sign, self.recurrent_mask),
        )

    def save(self, path: str | os.PathLike) -> None:
        """Writes the design to an `.npz` file: masks as bool arrays, signs (if any) as int8,
        metadata as JSON text."""
        signs = {
            name: value
            for name, value in (("input_sign", self.input_sign),
                                ("recurrent_sign", self.recurrent_sign))
            if value is not None
        }
        np.savez_compressed(
            path,
            input_mask=self.input_mask,
            recurrent_mask=self.recurrent_mask,
            output_mask=self.output_mask,
            **signs,
            **{_METADATA_KEY: np.array(json.dumps(self.metadata))},
        )

    def to_npz_bytes(self) -> bytes:
        """The `.npz` file's bytes, for a download button or an HTTP response."""
        buffer = io.BytesIO()
        self.save(buffer)
        return buffer.getvalue()

    @classmethod
    def load(
        cls,
        path_or_file: FileSource,
        *,
        max_bytes: int = MAX_DESIGN_BYTES,
        limits: Limits | None = None,
    ) -> Connectivity:
        """Reads a design written by `save` (a path or a binary file object).

        The file goes through `limconn.npio`: its size and its arrays' declared sizes are
        checked before anything is read or decompressed, and nothing is unpickled. The
        masks' shapes are then checked from their headers, before any mask is read: a
        design without a recurrent mask implies a dense `(units, units)` one, which must fit
        in `max_bytes` too, so a tiny file cannot make it allocate gigabytes.

        Args:
            path_or_file: a path, or a binary file object (read from its start).
            max_bytes: the largest file accepted, the most bytes its arrays may take once
                decompressed, and the most a mask it leaves out may take.
            limits: the operator's limits: the upload size (when below `max_bytes`),
                `max_inputs` and `max_units`. `None` checks only the byte limits.

        Raises:
            ValueError: if the file is too large, not an `.npz` archive, holds pickled or
                object arrays, lacks `input_mask`, declares a design over `limits` or an
                implied recurrent mask over `max_bytes`, or its masks or metadata are
                invalid.
        """
        name = source_name(path_or_file)
        max_bytes = file_limit(max_bytes, limits)
        arrays = read_npz(
            read_bytes(path_or_file, max_bytes), name, max_bytes, kinds="biufU", hint=_DESIGN_HINT,
            check=lambda headers: _check_design_headers(headers, name, max_bytes, limits),
        )
        if "input_mask" not in arrays:
            raise ValueError(
                f"{name} is not a design: it has no 'input_mask' array. {_DESIGN_HINT} "
                f"Received arrays: {sorted(arrays) or 'none'}."
            )
        metadata = _metadata(arrays.get(_METADATA_KEY), name)
        return cls(
            arrays["input_mask"],
            arrays.get("recurrent_mask"),
            arrays.get("output_mask"),
            metadata=metadata,
            input_sign=arrays.get("input_sign"),
            recurrent_sign=arrays.get("recurrent_sign"),
        )


def _check_design_headers(
    headers: dict[str, ArrayHeader], name: str, max_bytes: int, limits: Limits | None
) -> None:
    """Refuses a design's declared masks over `limits`, or an implied one over `max_bytes`.

    Shapes of the wrong rank are left to `Connectivity`, whose messages say what they must be.
    """
    input_header = headers.get("input_mask")
    if input_header is None or input_header.ndim not in (2, 3):
        return
    if limits is not None:
        for key, axes in _DESIGN_AXES.items():
            header = headers.get(key)
            if header is None or header.ndim == 0:
                continue
            axes = axes[: header.ndim]  # per-source signs: the source axis only
            for axis, size in zip(axes, header.shape[-len(axes) :], strict=True):
                try:
                    limits.check(**{axis: size})
                except ValueError as error:
                    raise ValueError(f"{name}: {key} has shape {header.shape}. {error}") from None
    units = input_header.shape[-1]
    implied = units * units * np.dtype(bool).itemsize
    if "recurrent_mask" not in headers and implied > max_bytes:
        raise ValueError(
            f"{name} has no recurrent_mask, so its input_mask of shape {input_header.shape} "
            f"implies a dense ({units}, {units}) one: {size_text(implied)}, over the limit of "
            f"{size_text(max_bytes)}. Use fewer units, or save the design with its "
            "recurrent_mask (Connectivity.save does)."
        )


def _check_mask_header(header: ArrayHeader, what: str, limits: Limits | None) -> None:
    """Refuses a single mask larger than any design `limits` allow, from its declared shape.

    Its last axis counts units; the one before, its rows, counts inputs or units (a mask
    file does not say which matrix it is for).
    """
    if limits is None or header.ndim == 0:
        return
    max_rows = max(limits.max_inputs, limits.max_units)
    rows = header.shape[-2] if header.ndim >= 2 else 0
    if header.shape[-1] > limits.max_units or rows > max_rows:
        raise ValueError(
            f"{what} holds a mask of shape {header.shape}, larger than any design this server "
            f"allows: at most {max_rows} rows (inputs or units) and {limits.max_units} columns "
            "(units). Use a smaller mask."
        )


def _fit(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Crops or pads (with True) the trailing axes of `mask` to `shape`."""
    fitted = np.ones((*mask.shape[: mask.ndim - len(shape)], *shape), bool)
    trailing = mask.shape[-len(shape) :]
    common = tuple(slice(0, min(a, b)) for a, b in zip(trailing, shape, strict=True))
    fitted[(..., *common)] = mask[(..., *common)]
    return fitted


def _fit_sign(sign: np.ndarray | None, rows: int, units: int) -> np.ndarray | None:
    """Crops or pads (with 0, free) signs to `rows` sources and `units` targets."""
    if sign is None:
        return None
    shape = (rows,) if sign.ndim == 1 else (*sign.shape[:-2], rows, units)
    fitted = np.zeros(shape, np.int8)
    common = tuple(slice(0, min(a, b)) for a, b in zip(sign.shape, shape, strict=True))
    fitted[common] = sign[common]
    return fitted


def _same_sign(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and np.array_equal(a, b)


def _closure(start: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Nodes reachable from `start` by following `edges[source, target]` any number of times."""
    reached = start.copy()
    frontier = start.copy()
    while frontier.any():
        frontier = edges[frontier].any(axis=0) & ~reached
        reached |= frontier
    return reached


def _metadata(text: np.ndarray | None, name: str) -> dict:
    """The metadata dict from a design's 0-d text array `metadata_json` (`{}` when absent)."""
    if text is None:
        return {}
    if text.dtype.kind != "U" or text.ndim != 0:
        raise ValueError(
            f"{name}: {_METADATA_KEY} must be one JSON string (a 0-d text array). "
            f"Received: dtype {text.dtype}, shape {text.shape}."
        )
    try:
        metadata = json.loads(str(text))
    except RecursionError as error:  # Python's parser gives up near 1,000 levels deep
        raise ValueError(f"{name}: {_METADATA_KEY} is nested too deeply.") from error
    except ValueError as error:
        raise ValueError(f"{name}: {_METADATA_KEY} is not valid JSON ({error}).") from error
    if not isinstance(metadata, dict):
        raise ValueError(
            f"{name}: {_METADATA_KEY} must hold a JSON object. "
            f"Received: a JSON {type(metadata).__name__}."
        )
    return metadata


def save_mask_npy(path_or_file, mask: Any) -> None:
    """Writes one mask (any rank 1-3, bool or 0/1) to an `.npy` file as bool."""
    np.save(path_or_file, as_bool_mask(mask, "mask", ndims=(1, 2, 3)), allow_pickle=False)


def mask_npy_bytes(mask: Any) -> bytes:
    """One mask as the bytes of an `.npy` file, for downloads."""
    buffer = io.BytesIO()
    save_mask_npy(buffer, mask)
    return buffer.getvalue()


def load_mask_npy(
    path_or_file: FileSource,
    name: str = "mask",
    ndims: tuple[int, ...] = (2, 3),
    *,
    max_bytes: int = MAX_DESIGN_BYTES,
    limits: Limits | None = None,
) -> np.ndarray:
    """Reads one mask from an `.npy` file, never unpickling.

    Args:
        path_or_file: a path, or a binary file object (read from its start).
        name: what the mask is called in error messages (e.g. `"input_mask"`).
        ndims: the ranks accepted.
        max_bytes: the largest file accepted.
        limits: the operator's limits: the upload size (when below `max_bytes`), at most
            `max_units` columns and `max(max_inputs, max_units)` rows, checked from the
            file's header before the mask is read. `None` checks only the byte limit.

    Raises:
        ValueError: if the file is too large, not an `.npy` array, pickled or object-dtype,
            declares a shape over `limits`, or does not hold a 0/1 mask of an accepted rank.
    """
    what = source_name(path_or_file)
    data = read_bytes(path_or_file, file_limit(max_bytes, limits))
    array = parse_npy(
        data, what, hint=_MASK_HINT, check=lambda header: _check_mask_header(header, what, limits)
    )
    return as_bool_mask(array, name, ndims)
