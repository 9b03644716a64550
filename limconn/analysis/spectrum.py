"""Eigenvalues of a run's recurrent weights, per gate, and of its dynamics at fixed points."""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.analysis.dynamics import as_dynamics
from limconn.connectivity import GATES


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """What the recurrent weights and the linearised dynamics say about stability.

    Attributes:
        gate_eigenvalues: `(4, units)` complex: the eigenvalues of each gate's effective
            recurrent weight (masks and signs applied), gates i, f, c, o.
        spectral_radius: the largest |eigenvalue| of each gate, keyed `"i"`, `"f"`, `"c"`,
            `"o"`.
        unit_sign: `(units,)` int8: +1 for an excitatory unit (all its live outgoing
            recurrent weights held >= 0), -1 inhibitory, 0 free; all 0 when the strategy
            enforces no signs. In the step `z = h @ W`, unit `j`'s sign is that of column
            `j` of `W.T`, the matrix whose eigenvalues these are.
        fixed_point_eigenvalues: `(points, 2 * units)` complex: the eigenvalues of the
            step's Jacobian at each fixed point given (`fixed_points`), or `None`.
    """

    gate_eigenvalues: np.ndarray
    spectral_radius: dict[str, float]
    unit_sign: np.ndarray
    fixed_point_eigenvalues: np.ndarray | None = None


def spectrum(run, fixed_points=None) -> Spectrum:
    """The eigenvalues of each gate's recurrent weight and, with `fixed_points`, of the
    linearised dynamics at each point.

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        fixed_points: a `FixedPoints` (`limconn.analysis.fixed_points`), or `None`.

    Example:

    >>> spectrum("runs/flipflop").spectral_radius  # doctest: +SKIP
    {'i': 1.93, 'f': 1.12, 'c': 2.41, 'o': 1.37}
    """
    dynamics = as_dynamics(run)
    eigenvalues = np.linalg.eigvals(dynamics.gate_recurrent_kernels())
    return Spectrum(
        gate_eigenvalues=eigenvalues,
        spectral_radius={gate: float(np.abs(values).max())
                         for gate, values in zip(GATES, eigenvalues, strict=True)},
        unit_sign=unit_signs(dynamics.connectivity),
        fixed_point_eigenvalues=None if fixed_points is None else fixed_points.eigenvalues,
    )


def unit_signs(connectivity) -> np.ndarray:
    """+1, -1 or 0 per unit: the sign all its live outgoing recurrent weights are held to
    (0 when free or mixed, or without recurrent signs)."""
    sign = connectivity.recurrent_sign
    if sign is None:
        return np.zeros(connectivity.units, np.int8)
    if sign.ndim == 1:
        return sign.astype(np.int8)
    units = connectivity.units
    mask = np.broadcast_to(connectivity.recurrent_mask, (4, units, units))
    signs = np.broadcast_to(sign, mask.shape)
    live = mask.any(axis=(0, 2))
    positive = np.all(np.where(mask, signs > 0, True), axis=(0, 2))
    negative = np.all(np.where(mask, signs < 0, True), axis=(0, 2))
    return np.where(live & positive, 1, np.where(live & negative, -1, 0)).astype(np.int8)
