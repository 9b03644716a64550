"""Which inputs, at which steps, drove an output: integrated gradients.

Integrated gradients (Sundararajan, Taly & Yan, 2017) from a zero baseline: the attribution
of input feature `d` at step `t` is `x[t, d]` times the mean gradient of the output along
the straight path from 0 to `x`. The attributions then add up to the output's change from
the baseline (completeness); how far they miss it measures the integration's error.

The path integral starts as Gauss-Legendre quadrature over the whole path (as Captum's
default), `steps` points, and is refined where it fails: an interval `[a, b]` of the path
whose own quadrature misses `F(b) - F(a)` (both known: the output at its ends, the gradients
within) by more than its share of the tolerance is split in two, each half integrated with
`REFINEMENT_STEPS` points, until the errors add up to less than `tolerance` times the largest
output change, or `max_evaluations` gradients are spent. This matters where the output jumps
along the path (a flip-flop's pulse grows strong enough to flip a memory, within 1e-3 of the
path); where it is smooth the first rule already suffices and nothing is refined.

The gradients are backpropagation through time written out in NumPy (`input_gradients`),
from the step's own equations, so they need no autodiff library and are the same whatever
Keras backend trained the run; every point of a refinement level is one batch.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.analysis.dynamics import Dynamics, as_dynamics

INTEGRATION_STEPS = 50
"""Gauss-Legendre points of the first rule, over the whole path."""
REFINEMENT_STEPS = 8
"""Gauss-Legendre points on each half of a split interval."""
TOLERANCE = 0.01
"""Completeness error sought, relative to the largest output change."""
MAX_EVALUATIONS = 4000
"""Gradient evaluations per explained sequence, at most (the first rule's included)."""


@dataclasses.dataclass(frozen=True)
class Attributions:
    """Integrated gradients of one output of each sequence.

    Attributes:
        values: `(samples, steps, features)`: each input's attribution at each step.
        target: `(samples,)` int: the output (or class) explained, per sequence.
        step: the step whose output is explained.
        output: `(samples,)`: that output for the sequence.
        baseline_output: `(samples,)`: that output for all-zero inputs.
        evaluations: `(samples,)` int: gradients evaluated for each sequence (`steps` when
            the first rule sufficed).
    """

    values: np.ndarray
    target: np.ndarray
    step: int
    output: np.ndarray
    baseline_output: np.ndarray
    evaluations: np.ndarray

    @property
    def sums(self) -> np.ndarray:
        """`(samples,)`: the attributions of each sequence, added up."""
        return self.values.sum(axis=(1, 2))

    @property
    def completeness_error(self) -> float:
        """The largest |sum of attributions - (output - baseline output)| over the
        sequences, relative to the largest |output - baseline output| (0 when no output
        moved)."""
        change = self.output - self.baseline_output
        scale = np.abs(change).max(initial=0.0)
        return float(np.abs(self.sums - change).max(initial=0.0) / scale) if scale else 0.0


def attributions(run, x: np.ndarray, target=None, *, step: int = -1,
                 steps: int = INTEGRATION_STEPS, tolerance: float | None = TOLERANCE,
                 max_evaluations: int = MAX_EVALUATIONS) -> Attributions:
    """Integrated gradients of the output at `step` for each sequence of `x`.

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        x: `(samples, steps, features)`.
        target: the output explained: an output index (regression) or class (classification)
            for all sequences, one per sequence, or `None`: output 0 of a regression run,
            the predicted class of a classification run.
        step: the step whose output is explained (default: the last, the prediction of a
            many-to-one run); negative counts from the end.
        steps: Gauss-Legendre points of the first rule, over the whole path.
        tolerance: the completeness error sought, relative to the largest output change:
            intervals of the path are split until their errors add up to less; `None`: the
            first rule alone.
        max_evaluations: gradients evaluated per sequence at most, the first rule's included;
            the intervals that miss most are split first.

    Example:

    >>> held_out = data.make_task("flipflop", bits=3, num_samples=4, seed=1)  # doctest: +SKIP
    >>> found = attributions("runs/flipflop", held_out.x)  # doctest: +SKIP
    >>> round(found.completeness_error, 4), found.evaluations  # doctest: +SKIP
    (0.0081, array([386, 306, 162, 722]))

    Raises:
        ValueError: for a `timestep` run (its zero baseline is all skipped steps), or a
            target, step, tolerance or budget out of range.
    """
    dynamics = as_dynamics(run)
    dynamics.refuse("Attributions")
    x = dynamics.check_inputs(x)
    samples, length = x.shape[:2]
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer. Received: steps={steps!r}")
    if tolerance is not None and not tolerance > 0:
        raise ValueError(f"tolerance must be positive or None. Received: tolerance={tolerance!r}")
    if not isinstance(max_evaluations, int) or max_evaluations < steps:
        raise ValueError(f"max_evaluations must be an integer of at least steps={steps}. "
                         f"Received: max_evaluations={max_evaluations!r}")
    if not -length <= step < length:
        raise ValueError(f"step must be in {-length}..{length - 1} for {length} steps. "
                         f"Received: step={step!r}")
    step %= length
    if target is None:
        target = (_outputs_at(dynamics, x, step).argmax(axis=-1)
                  if dynamics.kind == "classification" else 0)
    target = np.broadcast_to(np.asarray(target, int), (samples,)).copy()
    if not np.all((target >= 0) & (target < dynamics.outputs)):
        raise ValueError(f"target must be in 0..{dynamics.outputs - 1}. "
                         f"Received: {np.unique(target).tolist()}")
    path = _Path(dynamics, x, target, step)
    intervals = path.integrate(np.arange(samples), np.zeros(samples), np.ones(samples), steps)
    allowed = 0.0 if tolerance is None else tolerance * np.abs(path.change).max(initial=0.0)
    if allowed > 0:  # no output moved: nothing to add up to
        while True:
            split = _to_split(intervals, allowed, max_evaluations - path.evaluations)
            if not split.any():
                break
            parents = intervals.take(split)
            middle = (parents.start + parents.end) / 2
            halves = path.integrate(np.tile(parents.sample, 2),
                                    np.concatenate([parents.start, middle]),
                                    np.concatenate([middle, parents.end]), REFINEMENT_STEPS)
            intervals = intervals.take(~split).joined(halves)
    mean_gradient = np.zeros(x.shape)
    np.add.at(mean_gradient, intervals.sample, intervals.mean_gradient)
    return Attributions(values=x * mean_gradient, target=target, step=step,
                        output=path.output, baseline_output=path.baseline_output,
                        evaluations=path.evaluations)


@dataclasses.dataclass(frozen=True)
class _Intervals:
    """Pieces `[start, end]` of the paths of sequences `sample`: the output change along
    each (`rise`, from the output at both ends), and their quadrature's mean gradient
    contribution `(n, steps, features)` and its dot with the inputs (`integral`)."""

    sample: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rise: np.ndarray
    mean_gradient: np.ndarray
    integral: np.ndarray

    @property
    def error(self) -> np.ndarray:
        """How far each interval's quadrature misses its output change."""
        return np.abs(self.integral - self.rise)

    def take(self, chosen: np.ndarray) -> _Intervals:
        return _Intervals(*(field[chosen] for field in dataclasses.astuple(self)))

    def joined(self, other: _Intervals) -> _Intervals:
        return _Intervals(*(np.concatenate(pair) for pair in zip(
            dataclasses.astuple(self), dataclasses.astuple(other), strict=True)))


def _to_split(intervals: _Intervals, allowed: float, budget: np.ndarray) -> np.ndarray:
    """Which intervals to split: of the sequences whose errors add up to more than
    `allowed`, those that miss more than their width's share of it, as many as each
    sequence's `budget` of gradient evaluations pays for, worst first."""
    samples = len(budget)
    total = np.bincount(intervals.sample, intervals.error, minlength=samples)
    width = intervals.end - intervals.start
    wanted = (total[intervals.sample] > allowed) & (intervals.error > allowed * width)
    split = np.zeros(len(wanted), bool)
    for sample in np.flatnonzero(total > allowed):
        candidates = np.flatnonzero(wanted & (intervals.sample == sample))
        affordable = budget[sample] // (2 * REFINEMENT_STEPS)
        worst = candidates[np.argsort(-intervals.error[candidates], kind="stable")]
        split[worst[:affordable]] = True
    return split


class _Path:
    """The straight paths from the zero baseline to each sequence: the output along them,
    and Gauss-Legendre quadrature of the gradient over pieces of them, counting the
    gradients evaluated per sequence."""

    def __init__(self, dynamics: Dynamics, x: np.ndarray, target: np.ndarray, step: int):
        self.dynamics, self.x, self.target, self.step = dynamics, x, target, step
        self.samples = np.arange(len(x))
        self.baseline_output = self.output_at(self.samples, np.zeros(len(x)))
        self.output = self.output_at(self.samples, np.ones(len(x)))
        self.change = self.output - self.baseline_output
        self.evaluations = np.zeros(len(x), int)

    def output_at(self, sample: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The explained output at `alpha * x[sample]`, one batch."""
        outputs = _outputs_at(self.dynamics, alpha[:, None, None] * self.x[sample], self.step)
        return outputs[np.arange(len(sample)), self.target[sample]]

    def integrate(self, sample: np.ndarray, start: np.ndarray, end: np.ndarray,
                  points: int) -> _Intervals:
        """`points`-point quadrature over each piece `[start, end]` of the path of
        `x[sample]`: every gradient in one batch."""
        nodes, node_weights = np.polynomial.legendre.leggauss(points)
        width = end - start
        alphas = start[:, None] + width[:, None] * (nodes + 1) / 2
        weights = width[:, None] * node_weights / 2
        inputs = self.x[sample]
        along = (alphas[:, :, None, None] * inputs[:, None]).reshape(-1, *inputs.shape[1:])
        gradients, _ = input_gradients(self.dynamics, along, np.repeat(self.target[sample],
                                                                       points), self.step)
        mean_gradient = np.einsum("np,npsd->nsd", weights,
                                  gradients.reshape(len(sample), points, *inputs.shape[1:]))
        ends = self.output_at(np.concatenate([sample, sample]), np.concatenate([start, end]))
        np.add.at(self.evaluations, sample, points)
        return _Intervals(sample=sample, start=start, end=end,
                          rise=ends[len(sample):] - ends[:len(sample)],
                          mean_gradient=mean_gradient,
                          integral=np.einsum("nsd,nsd->n", mean_gradient, inputs))


def input_gradients(dynamics: Dynamics, x: np.ndarray, target: np.ndarray,
                    step: int) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of output `target[n]` at `step` with respect to every input of
    sequence `n`, by backpropagation through time; also the outputs.

    Returns `(gradients (samples, steps, features), outputs (samples,))`; the gradient is
    0 after `step` (an output does not depend on later inputs).
    """
    drive = dynamics.drive(x[:, :step + 1])
    h = c = np.zeros((len(x), dynamics.units))
    tape = []
    for t in range(step + 1):
        i, f, g, o = dynamics.gates(drive[:, t], h)
        c_next = f * c + i * g
        tanh_c = np.tanh(c_next)
        tape.append((i, f, g, o, c, tanh_c))
        h, c = o * tanh_c, c_next
    chosen = np.arange(len(x))
    outputs = dynamics.readout(h)
    if dynamics.kind == "classification":
        d_logits = -outputs * outputs[chosen, target][:, None]
        d_logits[chosen, target] += outputs[chosen, target]
    else:
        d_logits = np.zeros_like(outputs)
        d_logits[chosen, target] = 1.0
    d_h = d_logits @ dynamics.readout_kernel.T
    d_c = np.zeros_like(d_h)
    gradients = np.zeros(x.shape)
    input_kernel_t, recurrent_kernel_t = dynamics.input_kernel.T, dynamics.recurrent_kernel.T
    for t in range(step, -1, -1):
        i, f, g, o, c_previous, tanh_c = tape[t]
        d_c = d_c + d_h * o * (1 - tanh_c * tanh_c)
        d_z = np.concatenate([d_c * g * i * (1 - i), d_c * c_previous * f * (1 - f),
                              d_c * i * (1 - g * g), d_h * tanh_c * o * (1 - o)], axis=1)
        gradients[:, t] = d_z @ input_kernel_t
        d_h, d_c = d_z @ recurrent_kernel_t, d_c * f
    return gradients, outputs[chosen, target]


def _outputs_at(dynamics: Dynamics, x: np.ndarray, step: int) -> np.ndarray:
    """The readout at `step`, `(samples, outputs)`."""
    for h, _ in dynamics.unroll(x[:, :step + 1]):
        last = h
    return dynamics.readout(last)
