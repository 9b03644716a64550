"""Which inputs, at which steps, drove an output: integrated gradients.

Integrated gradients (Sundararajan, Taly & Yan, 2017) from a zero baseline: the attribution
of input feature `d` at step `t` is `x[t, d]` times the mean gradient of the output along
the straight path from 0 to `x`. The attributions then add up to the output's change from
the baseline (completeness); how far they miss it measures the integration's error. The path
integral is taken with Gauss-Legendre quadrature (as Captum's default), `steps` points.

The gradients are backpropagation through time written out in NumPy (`input_gradients`),
from the step's own equations, so they need no autodiff library and are the same whatever
Keras backend trained the run.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.analysis.dynamics import Dynamics, as_dynamics

INTEGRATION_STEPS = 50


@dataclasses.dataclass(frozen=True)
class Attributions:
    """Integrated gradients of one output of each sequence.

    Attributes:
        values: `(samples, steps, features)`: each input's attribution at each step.
        target: `(samples,)` int: the output (or class) explained, per sequence.
        step: the step whose output is explained.
        output: `(samples,)`: that output for the sequence.
        baseline_output: `(samples,)`: that output for all-zero inputs.
    """

    values: np.ndarray
    target: np.ndarray
    step: int
    output: np.ndarray
    baseline_output: np.ndarray

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
                 steps: int = INTEGRATION_STEPS) -> Attributions:
    """Integrated gradients of the output at `step` for each sequence of `x`.

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        x: `(samples, steps, features)`.
        target: the output explained: an output index (regression) or class (classification)
            for all sequences, one per sequence, or `None`: output 0 of a regression run,
            the predicted class of a classification run.
        step: the step whose output is explained (default: the last, the prediction of a
            many-to-one run); negative counts from the end.
        steps: quadrature points on the path from the baseline.

    Example:

    >>> found = attributions("runs/flipflop", dataset.x[:4], target=2)  # doctest: +SKIP
    >>> found.values.shape, found.completeness_error  # doctest: +SKIP
    ((4, 100, 3), 2e-09)

    Raises:
        ValueError: for a `timestep` run (its zero baseline is all skipped steps), or a
            target or step out of range.
    """
    dynamics = as_dynamics(run)
    dynamics.refuse("Attributions")
    x = dynamics.check_inputs(x)
    samples, length = x.shape[:2]
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer. Received: steps={steps!r}")
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
    nodes, node_weights = np.polynomial.legendre.leggauss(steps)
    alphas, alpha_weights = (nodes + 1) / 2, node_weights / 2
    path = (alphas[:, None, None, None] * x).reshape(-1, *x.shape[1:])
    gradients, _ = input_gradients(dynamics, path, np.tile(target, steps), step)
    mean_gradient = np.tensordot(alpha_weights, gradients.reshape(steps, *x.shape), axes=1)
    chosen = np.arange(samples)
    return Attributions(
        values=x * mean_gradient,
        target=target,
        step=step,
        output=_outputs_at(dynamics, x, step)[chosen, target],
        baseline_output=_outputs_at(dynamics, np.zeros_like(x), step)[chosen, target],
    )


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
