"""Fixed points of a run's dynamics under a constant input (Sussillo & Barak, 2013).

A fixed point is a state `s = (h, c)` the LSTM step leaves where it is: `F(s) = s`. They
are found as Sussillo and Barak find them, by minimising `q(s) = 1/2 ||F(s) - s||^2` from
many initial states drawn from the run's own trajectories, all at once: each start is one
row of a batch. The minimiser is Levenberg-Marquardt on the residual `F(s) - s`, with the
step's Jacobian written out (`Dynamics.jacobian`), damped per start: it converges
quadratically onto true fixed points (q reaches ~1e-25 in float64), while starts that stall
at a slow point (a local minimum of q above 0) stop once their damping grows past use.
Points under `tolerance` are kept, duplicates merged, and each is classified by the
eigenvalues of the step's Jacobian there: stable when every |eigenvalue| < 1.

Example:

>>> points = fixed_points("runs/flipflop", x=dataset.x[:100])  # doctest: +SKIP
>>> int(points.stable.sum()), points.outputs[points.stable].round()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.analysis.dynamics import Dynamics, as_dynamics
from limconn.analysis.trajectories import trajectories

_GIVE_UP_DAMPING = 1e12
"""A start whose damping grows past this takes no useful step any more: a slow point."""


@dataclasses.dataclass(frozen=True)
class FixedPoints:
    """The fixed points found, ordered by q (most exact first).

    Attributes:
        hidden: `(points, units)`, `h` at each point.
        cell: `(points, units)`, `c` at each point.
        q: `(points,)`, `1/2 ||F(s) - s||^2` there (all below the tolerance).
        stable: `(points,)` bool, every |eigenvalue| < 1.
        eigenvalues: `(points, 2 * units)` complex: the Jacobian's eigenvalues at each
            point, largest modulus first (the linearised dynamics there).
        outputs: `(points, outputs)`: the readout at each point (class probabilities for a
            classification run).
        input: `(features,)`: the constant input the dynamics ran under.
        starts: how many initial states the search began from.
        converged: how many of them ended under the tolerance, before duplicates merged.
    """

    hidden: np.ndarray
    cell: np.ndarray
    q: np.ndarray
    stable: np.ndarray
    eigenvalues: np.ndarray
    outputs: np.ndarray
    input: np.ndarray
    starts: int
    converged: int

    @property
    def states(self) -> np.ndarray:
        """`(points, 2 * units)`: `h` and `c` side by side."""
        return np.concatenate([self.hidden, self.cell], axis=-1)


def fixed_points(run, input=None, *, states=None, x=None, starts: int = 256,  # noqa: A002
                 tolerance: float = 1e-10, merge_distance: float = 1e-3,
                 iterations: int = 200, noise: float = 0.0, seed: int = 0) -> FixedPoints:
    """Fixed points of `run` under a constant `input`, from starts on its trajectories.

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        input: `(features,)`, the constant input; zeros (no input) by default.
        states: the states to draw starts from: a `Trajectories`, or anything with
            `hidden` and `cell` arrays `(..., units)`.
        x: instead of `states`, sequences to compute them from (`trajectories(run, x)`).
        starts: how many initial states to draw (at random, with `seed`).
        tolerance: keep points with q below it.
        merge_distance: points closer than this (Euclidean, in `(h, c)`) are one point.
        iterations: the most Levenberg-Marquardt steps per start.
        noise: standard deviation of Gaussian noise added to each start, in units of
            the states' own standard deviation (0: the visited states themselves).
        seed: which starts are drawn, and the noise.

    Raises:
        ValueError: for a `timestep` run (its Masking layer skips the constant steps of a
            zero input), without `states` or `x`, or for an input of the wrong size.
    """
    dynamics = as_dynamics(run)
    dynamics.refuse("Fixed points")
    if states is None:
        if x is None:
            raise ValueError("fixed_points needs initial states: give states= (a "
                             "Trajectories) or x= (sequences). Received: neither")
        states = trajectories(dynamics, x)
    constant = np.zeros(dynamics.input_dim) if input is None else np.asarray(input, np.float64)
    if constant.shape != (dynamics.input_dim,):
        raise ValueError(f"input must be one value per feature, shape ({dynamics.input_dim},). "
                         f"Received: shape {constant.shape}")
    if not isinstance(starts, int) or starts < 1:
        raise ValueError(f"starts must be a positive integer. Received: starts={starts!r}")
    pool = np.concatenate([np.reshape(states.hidden, (-1, dynamics.units)),
                           np.reshape(states.cell, (-1, dynamics.units))], axis=1)
    rng = np.random.default_rng(seed)
    initial = pool[rng.choice(len(pool), size=starts, replace=len(pool) < starts)]
    if noise:
        initial = initial + rng.normal(size=initial.shape) * noise * pool.std(axis=0)
    drive = dynamics.drive(constant)
    found, q = _minimise_q(dynamics, drive, initial, iterations, tolerance)
    converged = q < tolerance
    order = np.argsort(q[converged], kind="stable")
    points, q = _merged(found[converged][order], q[converged][order], merge_distance)
    units = dynamics.units
    hidden, cell = points[:, :units], points[:, units:]
    eigenvalues = np.linalg.eigvals(dynamics.jacobian(drive, hidden, cell))
    eigenvalues = np.take_along_axis(eigenvalues, np.argsort(-np.abs(eigenvalues), axis=1),
                                     axis=1)
    return FixedPoints(
        hidden=hidden, cell=cell, q=q,
        stable=np.all(np.abs(eigenvalues) < 1.0, axis=1),
        eigenvalues=eigenvalues, outputs=dynamics.readout(hidden), input=constant,
        starts=starts, converged=int(converged.sum()),
    )


def _minimise_q(dynamics: Dynamics, drive: np.ndarray, initial: np.ndarray,
                iterations: int, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on `r(s) = F(s) - s` for every start at once; the states
    reached and their q. A start stops once q is far below `tolerance` or it stalls."""
    units = dynamics.units
    identity = np.eye(2 * units)

    def residual(states):
        h, c = states[:, :units], states[:, units:]
        h_next, c_next = dynamics.step(drive, h, c)
        r = np.concatenate([h_next - h, c_next - c], axis=1)
        return r, 0.5 * np.sum(r * r, axis=1)

    states = initial.astype(np.float64)
    r, q = residual(states)
    damping = np.full(len(states), 1e-3)
    done_below = tolerance * 1e-6
    active = q > done_below
    for _ in range(iterations):
        rows = np.flatnonzero(active)
        if not rows.size:
            break
        s = states[rows]
        a = dynamics.jacobian(drive, s[:, :units], s[:, units:]) - identity  # dr/ds
        gradient = np.einsum("bij,bi->bj", a, r[rows])
        normal = np.einsum("bki,bkj->bij", a, a) + damping[rows, None, None] * identity
        trial = s - np.linalg.solve(normal, gradient[..., None])[..., 0]
        r_trial, q_trial = residual(trial)
        better = q_trial < q[rows]
        accepted = rows[better]
        states[accepted], r[accepted], q[accepted] = trial[better], r_trial[better], q_trial[better]
        damping[rows] = np.where(better, damping[rows] / 3, damping[rows] * 4)
        active[rows] = (q[rows] > done_below) & (damping[rows] < _GIVE_UP_DAMPING)
    return states, q


def _merged(points: np.ndarray, q: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The points (ordered by q) without those within `distance` of an earlier one."""
    kept: list[int] = []
    for index, point in enumerate(points):
        if not kept or np.min(np.linalg.norm(points[kept] - point, axis=1)) >= distance:
            kept.append(index)
    return points[kept], q[kept]
