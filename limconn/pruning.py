"""Designs from trained weights: keep a run's strongest connections, or a random control.

Magnitude pruning as a design step: train, keep the connections whose trained weights are
largest, train the smaller design again (Han et al., "Learning both weights and connections
for efficient neural networks", 2015; Frankle & Carbin's lottery tickets, 2019). To tell
what the chosen connections are worth from what their number is worth, `random_like`
gives the control: a random design with exactly as many connections.

Both return a `Connectivity`, so the result is painted, saved and trained like any design:

>>> from limconn import runs  # doctest: +SKIP
>>> run = runs.read_run_folder("runs/first")  # doctest: +SKIP
>>> pruned = strongest(run, keep=0.5)  # doctest: +SKIP
>>> control = random_like(pruned, seed=0)  # doctest: +SKIP

No Keras here: the weights are the arrays a run stores in `weights.npz`.
"""

from __future__ import annotations

import numbers

import numpy as np

from limconn.connectivity import NUM_GATES, Connectivity, any_gate
from limconn.enforcement import trained_connectivity
from limconn.strategies import enforcement_of

_NAMES = ("unit_names", "input_names")
"""Metadata a derived design keeps from its parent: the units and inputs are the same."""


def strongest(run, keep: float, per_gate: bool = False) -> Connectivity:
    """The design that keeps a run's strongest live connections.

    Each connection is scored by its trained |weight| summed over the four gates (or, with
    `per_gate`, gate by gate), and the input matrix and the recurrent matrix are each
    pruned on their own: in each, the `round(keep * live)` best-scored live connections
    are kept, at least one when the matrix has any (`round` as Python's: halves to even).
    Without `per_gate` a connection is a source-target pair, live if any gate is; of a
    per-gate parent it keeps only the gates it had, so the result is per gate too.
    A live connection is one the run's model really had: connected in
    `limconn.enforcement.trained_connectivity` of the run's strategy, so a strategy that
    leaves a matrix dense ranks all of it, and a masked connection is never revived.

    Ranking is total: no dropped connection scores higher than a kept one; among equal
    scores, the connection first in row-major order (lower source, then lower target) is
    kept. For `sparse_projection` runs the input matrix is ranked by the projection's
    |weight| (`projection_kernel`; one weight per connection, live where the projection's
    mask is), the recurrent one by the dense LSTM's `recurrent_kernel`; with `per_gate`,
    only the recurrent matrix is then per gate. Signs and the output mask carry over from
    the run's design, as do `unit_names` and `input_names`.

    Args:
        run: a `limconn.runs.Run` (`read_run_folder`) or a `limconn.training.RunResult`.
        keep: share of each matrix's live connections to keep, in (0, 1].
        per_gate: rank each gate on its own, giving a per-gate design.

    Returns:
        A `Connectivity` named "<design name> · strongest 50%", with metadata `parent_run`
        (the run's id, `None` for a `RunResult`), `parent_design`, `strategy`, `keep`
        and `per_gate`.

    Raises:
        ValueError: for `keep` outside (0, 1], or weights that are missing, of the wrong
            shape, or not finite (a diverged run); the message names what came.
    """
    if not isinstance(keep, numbers.Real) or isinstance(keep, bool) or not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1]. Received: keep={keep!r}")
    design = run.connectivity
    strategy = run.config.strategy
    enforcement = enforcement_of(strategy)
    live = trained_connectivity(enforcement, design)
    weights = run.weights
    recurrent = _ranked(
        _weight(weights, "recurrent_kernel", (NUM_GATES, design.units, design.units)),
        live.recurrent_mask, keep, per_gate,
    )
    if enforcement.input == "projection":
        projection = _weight(weights, "projection_kernel", (design.input_dim, design.units))
        inputs = _ranked(projection[None], any_gate(design.input_mask), keep, per_gate=False)
    else:
        inputs = _ranked(
            _weight(weights, "kernel", (NUM_GATES, design.input_dim, design.units)),
            live.input_mask, keep, per_gate,
        )
    parent = design.name or "design"
    metadata = {
        **{key: design.metadata[key] for key in _NAMES if key in design.metadata},
        "name": f"{parent} · strongest {keep * 100:g}%",
        "parent_run": _run_id(run),
        "parent_design": parent,
        "strategy": strategy,
        "keep": keep,
        "per_gate": per_gate,
    }
    return Connectivity(
        inputs, recurrent, design.output_mask, metadata=metadata,
        input_sign=design.input_sign, recurrent_sign=design.recurrent_sign,
    )


def keep_strongest(scores: np.ndarray, live: np.ndarray, keep: float) -> np.ndarray:
    """The live positions with the highest scores: `round(keep * live.sum())`, at least 1.

    Args:
        scores: real numbers, any shape.
        live: bool, the shape of `scores`; only these positions can be kept.
        keep: share of the live positions to keep, in (0, 1].

    Returns:
        A bool array of `scores`' shape, True at the kept positions. Among equal scores,
        the position first in row-major (C) order is kept.
    """
    flat_scores = scores.ravel()
    candidates = np.flatnonzero(live.ravel())
    count = max(1, round(keep * candidates.size)) if candidates.size else 0
    # A stable sort of the negated scores keeps ties in index order: lower index first.
    order = np.argsort(-flat_scores[candidates], kind="stable")
    kept = np.zeros(flat_scores.size, bool)
    kept[candidates[order[:count]]] = True
    return kept.reshape(scores.shape)


def random_like(design: Connectivity, seed: int = 0) -> Connectivity:
    """A random design with as many connections as `design`, matrix by matrix.

    The control for a pruned design: the same number of live connections in the input
    matrix and in the recurrent matrix (in each gate, for a per-gate design), placed
    uniformly at random; the output mask and per-source signs (Dale's law) are kept, and
    per-connection signs are dealt out anew: the new connections take the old ones' signs
    in random order, so the counts of excitatory and inhibitory connections stay too.

    Args:
        design: the design to match.
        seed: random seed; the same seed gives the same design.

    Returns:
        A `Connectivity` named "<name> · random control", metadata `random_like` (the
        design's name) and `seed`.

    Example:

    >>> from limconn import presets
    >>> design = presets.random(3, 8, density=0.3, seed=0)
    >>> control = random_like(design, seed=1)
    >>> int(control.recurrent_mask.sum()) == int(design.recurrent_mask.sum())
    True
    """
    rng = np.random.default_rng(seed)
    input_mask, input_sign = _shuffled(rng, design.input_mask, design.input_sign)
    recurrent_mask, recurrent_sign = _shuffled(rng, design.recurrent_mask, design.recurrent_sign)
    parent = design.name or "design"
    metadata = {
        **{key: design.metadata[key] for key in _NAMES if key in design.metadata},
        "name": f"{parent} · random control",
        "random_like": parent,
        "seed": seed,
    }
    return Connectivity(
        input_mask, recurrent_mask, design.output_mask, metadata=metadata,
        input_sign=input_sign, recurrent_sign=recurrent_sign,
    )


def _run_id(run) -> str | None:
    """A run folder's id from its `run.json` (in the store, its folder's name); `None` for a
    `RunResult`, which is not saved yet."""
    record = getattr(run, "record", None)
    return None if record is None else str(record.get("id", run.info.id))


def _weight(weights: dict, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in weights:
        raise ValueError(
            f"The run's weights lack {name!r}. Received: {sorted(weights) or 'none'}."
        )
    value = np.asarray(weights[name], dtype=np.float64)
    if value.shape != shape:
        raise ValueError(
            f"The run's {name} must have shape {shape} for its design. Received: {value.shape}."
        )
    if not np.isfinite(value).all():
        raise ValueError(
            f"The run's {name} holds {int((~np.isfinite(value)).sum())} NaN or infinite "
            "value(s) (the run diverged); its weights cannot be ranked."
        )
    return value


def _ranked(weight: np.ndarray, live: np.ndarray, keep: float, per_gate: bool) -> np.ndarray:
    """The kept mask of one matrix: from `weight` `(gates, rows, units)` and `live` (2-D
    or per gate), per gate or on |weight| summed over the gates. A kept connection keeps
    only the gates it had, so a per-gate `live` gives a per-gate mask either way."""
    magnitude = np.abs(weight)
    if per_gate:
        live = np.broadcast_to(live, magnitude.shape)
        return np.stack([keep_strongest(m, g, keep) for m, g in zip(magnitude, live, strict=True)])
    kept = keep_strongest(magnitude.sum(axis=0), any_gate(live), keep)
    return kept & live


def _shuffled(rng, mask: np.ndarray, sign: np.ndarray | None):
    """As many random positions as `mask` has (per gate), and signs to go with them."""
    gates = mask if mask.ndim == 3 else mask[None]
    moved = np.zeros_like(gates)
    for new, old in zip(moved, gates, strict=True):
        new.flat[rng.choice(old.size, size=int(old.sum()), replace=False)] = True
    new_mask = moved if mask.ndim == 3 else moved[0]
    if sign is None or sign.ndim == 1:
        return new_mask, sign
    # Per-gate positions or per-gate signs give each gate its own signs.
    layers = NUM_GATES if mask.ndim == 3 or sign.ndim == 3 else 1
    old_mask = np.broadcast_to(gates, (layers, *mask.shape[-2:]))
    new_layers = np.broadcast_to(moved, (layers, *mask.shape[-2:]))
    old_sign = np.broadcast_to(sign, (layers, *mask.shape[-2:]))
    new_sign = np.zeros((layers, *mask.shape[-2:]), np.int8)
    for target, old, new, signs in zip(new_sign, old_mask, new_layers, old_sign, strict=True):
        target[new] = rng.permutation(signs[old])
    return new_mask, new_sign if layers > 1 else new_sign[0]
