"""Hidden and cell states of a run over sequences, and its readout at every step."""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.analysis.dynamics import as_dynamics


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """A run's states over sequences.

    Attributes:
        hidden: `(samples, steps, units)`, the hidden state `h` after each step.
        cell: `(samples, steps, units)`, the cell state `c` after each step.
        outputs: `(samples, steps, outputs)`, the readout of `h` at every step (class
            probabilities for a classification run).
        per_step: whether the run's prediction is every step's output or the last one's.
    """

    hidden: np.ndarray
    cell: np.ndarray
    outputs: np.ndarray
    per_step: bool

    @property
    def predictions(self) -> np.ndarray:
        """What the run's Keras model predicts: `outputs`, or `outputs[:, -1]` for a
        many-to-one run."""
        return self.outputs if self.per_step else self.outputs[:, -1]


def trajectories(run, x: np.ndarray) -> Trajectories:
    """The hidden and cell states of `run` over the sequences `x`, from a zero state.

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        x: `(samples, steps, features)`; any number of steps.

    Example:

    >>> states = trajectories("runs/flipflop", dataset.x[:100])  # doctest: +SKIP
    >>> states.hidden.shape  # doctest: +SKIP
    (100, 100, 32)

    Raises:
        ValueError: if `x` does not have the run's features, or the run is not readable.
    """
    dynamics = as_dynamics(run)
    hidden, cell = dynamics.states(dynamics.check_inputs(x))
    return Trajectories(hidden, cell, dynamics.readout(hidden), dynamics.per_step)
