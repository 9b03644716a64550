"""Which units matter: the loss when a unit (or a group of units) is silenced.

A lesion holds a unit's hidden state at 0 at every step, so nothing it computes reaches
the other units or the readout. Every lesion runs in one vectorised pass: the state gets a
leading lesion axis, `(lesions, samples, units)`, and each step multiplies `h` by the
lesions' keep-masks, so all units (and groups) cost one run of a batch `lesions` times
larger. The loss is the run's own (`limconn.evaluation.loss_and_metric`: MSE or
cross-entropy, weighted per step as in training).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.analysis.dynamics import Dynamics, as_dynamics
from limconn.analysis.spectrum import unit_signs
from limconn.evaluation import loss_and_metric
from limconn.trainconfig import LOSS_AND_METRIC

MAX_BATCH_BYTES = 256 * 2**20
"""The most memory one chunk of lesions' gate pre-activations may take; more lesions than
fit run in several chunks."""
COSTLY_SHARE = 0.1
"""A lesion is costly when it raises the loss by more than this share of the loss."""


@dataclasses.dataclass(frozen=True)
class Lesions:
    """Loss changes from silencing units and groups of units.

    Attributes:
        units: `(n,)` the units lesioned one at a time.
        delta_loss: `(n,)` the loss with that unit silenced, minus `loss`.
        group_names: `(groups,)` str, e.g. `"block 1 (units 0-15)"`, `"inhibitory units"`.
        group_units: `(groups, units)` bool: which units each group silences.
        group_delta_loss: `(groups,)` the loss with the whole group silenced, minus `loss`.
        loss: the loss with no lesion.
        loss_name: the run's loss (`limconn.training.LOSS_AND_METRIC`).
    """

    units: np.ndarray
    delta_loss: np.ndarray
    group_names: np.ndarray
    group_units: np.ndarray
    group_delta_loss: np.ndarray
    loss: float
    loss_name: str

    def top(self, count: int = 5) -> list[dict]:
        """The `count` units whose lesion raises the loss most: `{"unit", "delta_loss"}`."""
        order = np.argsort(-self.delta_loss, kind="stable")[:count]
        return [{"unit": int(self.units[i]), "delta_loss": float(self.delta_loss[i])}
                for i in order]

    def costly(self, share: float = COSTLY_SHARE) -> list[int]:
        """The units whose lesion raises the loss by more than `share` of the loss."""
        return [int(unit) for unit, delta in zip(self.units, self.delta_loss, strict=True)
                if delta > share * self.loss]


def lesions(run, x: np.ndarray, y: np.ndarray, units=None, *, weights=None,
            groups: dict[str, np.ndarray] | None = None) -> Lesions:
    """The change in loss when each unit, and each group, is silenced, in one pass.

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        x: `(samples, steps, features)`.
        y: the targets, as `Dataset.y` (per sequence or per step, as the run reads out).
        units: the units to lesion one at a time; all by default.
        weights: per-step loss weights `(samples, steps)`, or `None`.
        groups: named unit sets to lesion whole (bool `(units,)` each); by default
            `unit_groups`: the blocks of a block-diagonal design, the excitatory and the
            inhibitory units of a signed one.

    Example:

    >>> found = lesions("runs/ff", dataset.x, dataset.y, weights=dataset.weights)  # doctest: +SKIP
    >>> found.top(5)  # doctest: +SKIP

    Raises:
        ValueError: for a `timestep` run, data that does not fit the run, or a unit out of
            range.
    """
    dynamics = as_dynamics(run)
    dynamics.refuse("Lesions")
    x = dynamics.check_inputs(x)
    chosen = np.arange(dynamics.units) if units is None else np.asarray(units, int).reshape(-1)
    if chosen.size and not np.all((chosen >= 0) & (chosen < dynamics.units)):
        raise ValueError(f"units must be in 0..{dynamics.units - 1}. Received: {chosen.tolist()}")
    groups = unit_groups(dynamics) if groups is None else groups
    names = list(groups)
    members = np.zeros((len(names), dynamics.units), bool)
    for row, name in enumerate(names):
        members[row] = np.broadcast_to(np.asarray(groups[name], bool), (dynamics.units,))
    keep = np.ones((1 + len(chosen) + len(names), dynamics.units))
    keep[np.arange(1, 1 + len(chosen)), chosen] = 0.0
    keep[1 + len(chosen):][members] = 0.0
    losses = lesion_losses(dynamics, x, y, keep, weights)
    return Lesions(
        units=chosen, delta_loss=losses[1:1 + len(chosen)] - losses[0],
        group_names=np.array(names, dtype=str).reshape(len(names)), group_units=members,
        group_delta_loss=losses[1 + len(chosen):] - losses[0], loss=float(losses[0]),
        loss_name=LOSS_AND_METRIC[dynamics.kind][0],
    )


def lesion_losses(dynamics: Dynamics, x: np.ndarray, y: np.ndarray, keep: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """The run's loss under each row of `keep` `(lesions, units)` (the hidden state's
    multiplier at every step), all rows in one vectorised pass (chunked only to stay under
    `MAX_BATCH_BYTES`)."""
    _check_targets(dynamics, x, y, weights)
    rows_per_chunk = max(1, MAX_BATCH_BYTES // (8 * 4 * dynamics.units * len(x)))
    losses = []
    for start in range(0, len(keep), rows_per_chunk):
        chunk = keep[start:start + rows_per_chunk]
        if dynamics.per_step:
            predictions = np.stack([dynamics.readout(h) for h, _ in dynamics.unroll(x, chunk)],
                                   axis=2)
        else:
            for h, _ in dynamics.unroll(x, chunk):
                last = h
            predictions = dynamics.readout(last)
        losses += [loss_and_metric(dynamics.kind, y, prediction, weights)[0]
                   for prediction in predictions]
    return np.array(losses)


def _check_targets(dynamics: Dynamics, x: np.ndarray, y: np.ndarray, weights) -> None:
    """Refuses targets (or weights) of another shape than the run's readout gives."""
    samples, steps = x.shape[:2]
    leading = (samples, steps) if dynamics.per_step else (samples,)
    expected = leading if dynamics.kind == "classification" else (*leading, dynamics.outputs)
    if np.shape(y) != expected:
        raise ValueError(
            f"y must be {expected} for this {dynamics.kind} run ("
            f"{'per step' if dynamics.per_step else 'one target per sequence'}, "
            f"{dynamics.outputs} outputs). Received: shape {np.shape(y)}")
    if weights is not None and np.shape(weights) != (samples, steps):
        raise ValueError(f"weights must be (samples, steps) = {(samples, steps)}. "
                         f"Received: shape {np.shape(weights)}")


def unit_groups(dynamics: Dynamics) -> dict[str, np.ndarray]:
    """Groups worth lesioning whole, as bool `(units,)` masks by name.

    The blocks of a block-diagonal design (the recurrent mask's connected components, when
    there are several; each with more than one unit), and, where the trained model enforces
    signs, the excitatory and the inhibitory units.
    """
    groups = {}
    blocks = _components(np.broadcast_to(dynamics.connectivity.recurrent_mask,
                                         (4, dynamics.units, dynamics.units)).any(axis=0))
    if len(blocks) > 1:
        for number, block in enumerate((b for b in blocks if len(b) > 1), start=1):
            contiguous = block[-1] - block[0] + 1 == len(block)
            where = f"units {block[0]}-{block[-1]}" if contiguous else f"{len(block)} units"
            groups[f"block {number} ({where})"] = np.isin(np.arange(dynamics.units), block)
    signs = unit_signs(dynamics.connectivity)
    for sign, name in ((1, "excitatory units"), (-1, "inhibitory units")):
        if np.any(signs == sign):
            groups[name] = signs == sign
    return groups


def _components(adjacency: np.ndarray) -> list[list[int]]:
    """The connected components of a directed graph taken as undirected, sorted units each."""
    linked = adjacency | adjacency.T
    unseen = set(range(len(linked)))
    components = []
    while unseen:
        frontier = [min(unseen)]
        unseen.discard(frontier[0])
        component = []
        while frontier:
            unit = frontier.pop()
            component.append(unit)
            neighbours = [int(n) for n in np.flatnonzero(linked[unit]) if n in unseen]
            unseen.difference_update(neighbours)
            frontier += neighbours
        components.append(sorted(component))
    return components
