"""What the Design page's painter shows of a design, and how a painted view goes back into it.

A design's mask may be 2-D (all gates alike) or per gate; its signs may be per source or per
connection. The painter shows one 2-D matrix (one gate, or "all gates": where any gate
connects) with one sign per row. These pure functions convert both ways, so the page only
lays out.

Example:

>>> import numpy as np
>>> mask = np.ones((2, 3), bool)
>>> painted = gate_view(mask, "f").copy(); painted[0, 0] = False
>>> with_painted(mask, painted, "f").shape  # painting one gate makes the mask per gate
(4, 2, 3)
"""

from __future__ import annotations

import numpy as np

from limconn.connectivity import GATES, NUM_GATES, any_gate

ALL_GATES = "all gates"
GATE_CHOICES = (ALL_GATES, *GATES)


def _per_gate(array: np.ndarray) -> np.ndarray:
    return array if array.ndim == 3 else np.broadcast_to(array, (NUM_GATES, *array.shape))


def gate_view(mask: np.ndarray, gate: str) -> np.ndarray:
    """The 2-D matrix the painter shows for `gate` ("all gates": any gate connects)."""
    if gate == ALL_GATES:
        return any_gate(mask)
    return _per_gate(mask)[GATES.index(gate)]


def with_painted(mask: np.ndarray, painted: np.ndarray, gate: str) -> np.ndarray:
    """`mask` after painting `painted` on `gate`; painting "all gates" sets every gate."""
    if gate == ALL_GATES:
        return painted
    per_gate = _per_gate(mask).copy()
    per_gate[GATES.index(gate)] = painted
    return per_gate


def strip_signs(sign: np.ndarray | None, mask: np.ndarray, gate: str) -> np.ndarray:
    """One sign per row for the painter's strip: the source's sign, or, for per-connection
    signs, the sign its live connections share on this view (0 when they differ)."""
    rows = mask.shape[-2]
    if sign is None:
        return np.zeros(rows, np.int8)
    if sign.ndim == 1:
        return sign.copy()
    view = connection_view(sign, gate)
    live = gate_view(mask, gate)
    result = np.zeros(rows, np.int8)
    for row in range(rows):
        values = np.unique(view[row][live[row]])
        if values.size == 1:
            result[row] = values[0]
    return result


def connection_view(sign: np.ndarray | None, gate: str) -> np.ndarray | None:
    """Per-connection signs on this view, for the painter's cell colours; `None` for
    per-source signs or none (the strip then colours whole rows)."""
    if sign is None or sign.ndim == 1:
        return None
    if gate == ALL_GATES:
        per_gate = _per_gate(sign)
        agreed = np.all(per_gate == per_gate[0], axis=0)
        return np.where(agreed, per_gate[0], 0).astype(np.int8)
    return _per_gate(sign)[GATES.index(gate)].copy()


def with_strip(sign: np.ndarray | None, strip: np.ndarray, mask: np.ndarray,
               gate: str) -> np.ndarray | None:
    """The design's signs after the strip was edited to `strip` (one sign per row).

    Per-source (or no) signs take the strip as they are; per-connection signs set every
    connection of a changed row (on this view's gate, or all gates) to its new sign.
    Returns `None` when every sign is free and the design had none.
    """
    strip = np.asarray(strip, np.int8)
    if sign is None or sign.ndim == 1:
        if sign is None and not strip.any():
            return None
        return strip
    before = strip_signs(sign, mask, gate)
    changed = np.flatnonzero(strip != before)
    updated = _per_gate(sign).copy()
    gates = range(NUM_GATES) if gate == ALL_GATES else [GATES.index(gate)]
    for g in gates:
        updated[g, changed, :] = strip[changed, None]
    if sign.ndim == 2 and gate == ALL_GATES:
        return updated[0]
    return updated
