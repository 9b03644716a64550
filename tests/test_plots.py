"""Figures are plain functions of data: what they draw is what they are handed."""

from __future__ import annotations

import numpy as np

from limconn.data import make_task
from limconn.plots import sequence_preview


def test_sequence_preview_draws_per_step_targets_and_shades_the_steps_that_do_not_count():
    dataset = make_task("delayed_match", num_samples=5, delay=3, num_stimuli=2)
    figure = sequence_preview(dataset.x, samples=2, targets=dataset.y, weights=dataset.weights)
    targets = [trace for trace in figure.data if trace.name == "target 0"]
    assert len(targets) == 2 and targets[0].line.dash == "dash"
    np.testing.assert_array_equal(targets[1].y, dataset.y[1])
    assert len([t for t in figure.data if t.name.startswith("feature")]) == 2 * 3
    # One grey band per sample: the steps before the decision (weight 0), half-step edges.
    shaded = [(shape.x0, shape.x1, shape.xref) for shape in figure.layout.shapes]
    decision = 15 + 3
    assert shaded == [(-0.5, decision - 0.5, "x"), (-0.5, decision - 0.5, "x2")]


def test_sequence_preview_without_targets_draws_the_inputs_only():
    x = np.zeros((4, 6, 3), np.float32)
    figure = sequence_preview(x, samples=3)
    assert [trace.name for trace in figure.data] == [f"feature {f}" for f in range(3)] * 3
    assert not figure.layout.shapes


def test_sequence_preview_draws_each_runs_outputs_in_its_colour_at_every_step():
    dataset = make_task("flipflop", bits=2, num_samples=3, timesteps=12)
    guess = np.zeros_like(dataset.y[:2])
    figure = sequence_preview(dataset.x, samples=2, targets=dataset.y, weights=dataset.weights,
                              outputs={"run a": (guess, "#123456"),
                                       "run b": (dataset.y[:2], "#abcdef")})
    b = [trace for trace in figure.data if trace.name == "run b"]
    assert len(b) == 2 * 2 and {trace.line.color for trace in b} == {"#abcdef"}
    np.testing.assert_array_equal(b[3].y, dataset.y[1, :, 1])  # sample 1, output 1
    assert [trace.showlegend for trace in b] == [True, False, False, False]
