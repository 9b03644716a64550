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
