"""Figures are plain functions of data: what they draw is what they are handed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from limconn import presets
from limconn.data import make_task
from limconn.plots import FAN_IN_COLOUR, FAN_OUT_COLOUR, fan_bars_html, sequence_preview


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


def test_fan_bars_draw_each_units_counts_in_proportion_and_name_them_on_hover():
    stats = presets.random(2, 5, density=0.5, seed=1).stats()
    page = fan_bars_html(stats.fan_in, stats.fan_out)
    top = max(stats.fan_in.max(), stats.fan_out.max())
    titles = re.findall(r'title="unit (\d+): fan-in (\d+), fan-out (\d+)"', page)
    assert titles == [(str(u), str(stats.fan_in[u]), str(stats.fan_out[u])) for u in range(5)]
    bars = re.findall(r"height:([0-9.]+)%;background:(#[0-9a-f]{6})", page)
    assert [colour for _, colour in bars] == [FAN_IN_COLOUR, FAN_OUT_COLOUR] * 5
    drawn = np.array([float(height) for height, _ in bars]).reshape(5, 2)
    np.testing.assert_allclose(drawn, 100 * np.stack([stats.fan_in, stats.fan_out], 1) / top,
                               rtol=1e-3)
    assert f"max {top}" in page and "unit 4<" in page


def test_fan_bars_refuse_counts_that_do_not_pair_up():
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        fan_bars_html(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="Received: minimum -1"):
        fan_bars_html(np.array([1, -1]), np.ones(2))
