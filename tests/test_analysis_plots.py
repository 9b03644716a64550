"""Analyze's figures and table row are plain functions of arrays: what they draw is what they
are handed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from limconn import analysis_plots, compare
from limconn.data import make_task


def test_flipflop_targets_become_its_eight_memories_and_the_steps_that_do_not_count():
    flips = make_task("flipflop", bits=3, num_samples=40, timesteps=60, pulse_probability=0.2)
    conditions, names = analysis_plots.target_conditions(flips.y, flips.timesteps,
                                                         flips.weights)
    assert conditions.shape == (40, 60) and conditions.dtype == np.int32
    assert names == [f"{a} {b} {c}" for a in "−+" for b in "−+" for c in "−+"] + [
        analysis_plots.NOT_COUNTED]
    counted = flips.weights > 0
    assert (conditions[~counted] == 8).all() and (conditions[counted] < 8).all()
    sample, step = np.argwhere(counted)[-1]
    expected = " ".join({1.0: "+", -1.0: "−"}[v] for v in flips.y[sample, step])
    assert names[conditions[sample, step]] == expected
    every_step, with_zeros = analysis_plots.target_conditions(flips.y, flips.timesteps)
    assert len(with_zeros) > 8 and analysis_plots.NOT_COUNTED not in with_zeros


def test_class_labels_per_sequence_hold_for_every_step():
    conditions, names = analysis_plots.target_conditions(np.array([2, 0, 2], np.int32), 4)
    assert names == ["class 0", "class 2"]
    assert conditions.tolist() == [[1] * 4, [0] * 4, [1] * 4]


def test_trajectories_colour_states_by_condition_and_mark_stable_points_filled():
    rng = np.random.default_rng(0)
    projected = rng.normal(size=(3, 5, 3)).astype(np.float32)
    conditions = np.array([[0] * 5, [1] * 5, [0, 0, 1, 1, 1]], np.int32)
    points = np.array([[1, 1, 1], [2, 2, 2], [3, 3, 3]], np.float32)
    figure = analysis_plots.trajectory_figure(
        projected, conditions, ["+", "−"], fixed_points=points,
        stable=np.array([True, False, True]), explained=[0.5, 0.3, 0.1])
    by_name = {trace.name: trace for trace in figure.data}
    assert len(by_name["+"].x) == 7 and len(by_name["−"].x) == 8
    stable, unstable = by_name[analysis_plots.STABLE], by_name[analysis_plots.UNSTABLE]
    assert stable.marker.symbol == "circle" and unstable.marker.symbol == "circle-open"
    np.testing.assert_array_equal(stable.x, [1, 3])
    np.testing.assert_array_equal(unstable.y, [2])
    assert figure.layout.xaxis.title.text == "PC 1 (50%)"
    # One line through every sequence, broken between them.
    assert np.isnan(by_name["trajectories"].x).sum() == 3
    many = analysis_plots.trajectory_figure(rng.normal(size=(40, 5, 2)))
    assert np.isnan(many.data[0].x).sum() == analysis_plots.LINES
    assert [trace.name for trace in many.data] == ["trajectories", "states"]
    three = analysis_plots.trajectory_figure(projected, dims=3, fixed_points=points,
                                             stable=np.array([True, True, True]))
    assert {trace.type for trace in three.data} == {"scatter3d"}
    assert not {trace.name: trace for trace in three.data}[analysis_plots.UNSTABLE].showlegend
    with pytest.raises(ValueError, match="Received: dims=4"):
        analysis_plots.trajectory_figure(projected, dims=4)


def test_eigenvalues_sit_in_the_complex_plane_with_the_unit_circle_per_gate():
    values = {gate: np.array([0.5 + 0.5j, 1.2, -0.3j]) for gate in "ifco"}
    figure = analysis_plots.eigenvalue_figure(values)
    circles = [trace for trace in figure.data if trace.name == "unit circle"]
    assert len(circles) == 4
    np.testing.assert_allclose(np.hypot(circles[0].x, circles[0].y), 1, atol=1e-6)
    points = [trace for trace in figure.data if trace.name == "eigenvalues"]
    np.testing.assert_allclose(points[2].x, [0.5, 1.2, 0.0])
    np.testing.assert_allclose(points[2].y, [0.5, 0.0, -0.3])
    assert "radius 1.2" in figure.layout.annotations[0].text
    signed = analysis_plots.eigenvalue_figure(values, {gate: np.array([1, 1, -1])
                                                       for gate in "ifco"})
    inhibitory = [trace for trace in signed.data if trace.name == "inhibitory"]
    assert len(inhibitory) == 4 and inhibitory[0].marker.color == analysis_plots.INHIBITORY
    assert [trace.showlegend for trace in inhibitory] == [True, False, False, False]


def test_each_eigenvalue_takes_the_sign_of_the_units_its_mode_lives_on():
    rng = np.random.default_rng(1)
    excitatory = np.abs(rng.normal(size=(4, 3, 3)))
    inhibitory = -np.abs(rng.normal(size=(4, 2, 2)))
    kernel = np.zeros((4, 5, 5))
    kernel[:, :3, :3], kernel[:, 3:, 3:] = excitatory, inhibitory  # no E-I coupling
    unit_sign = np.array([1, 1, 1, -1, -1])
    cached = np.linalg.eigvals(kernel)
    values, signs = analysis_plots.eigenvalues_by_sign(cached, kernel, unit_sign)
    for gate in range(4):
        np.testing.assert_allclose(np.sort_complex(values[gate]), np.sort_complex(cached[gate]),
                                   rtol=1e-5, atol=1e-6)
        from_e = np.linalg.eigvals(excitatory[gate])
        for value, sign in zip(values[gate], signs[gate], strict=True):
            assert sign == (1 if np.isclose(from_e, value, atol=1e-5).any() else -1)
    unsigned, none = analysis_plots.eigenvalues_by_sign(cached, kernel, np.zeros(5))
    assert none is None and unsigned is cached


def test_lesion_bars_mark_the_units_that_cost_more_than_the_threshold():
    figure = analysis_plots.lesion_bars(np.array([0.001, 0.5, 0.005]), baseline=0.1)
    [bars] = figure.data
    assert list(bars.y) == ["unit 0", "unit 1", "unit 2"]
    assert list(bars.marker.color) == ["#8da0cb", analysis_plots.COSTLY, "#8da0cb"]
    assert figure.layout.shapes[0].x0 == pytest.approx(0.01)


def test_attribution_heatmap_has_features_as_rows_and_steps_as_columns():
    attributions = np.arange(12, dtype=np.float32).reshape(4, 3) - 6  # (steps, features)
    figure = analysis_plots.attribution_heatmap(attributions, ["a", "<b>"])
    [heatmap] = figure.data
    np.testing.assert_array_equal(heatmap.z, attributions.T)
    assert list(heatmap.y) == ["a", "&lt;b&gt;"] and heatmap.zmid == 0


def test_analysis_row_reads_the_summary_and_leaves_missing_analyses_empty():
    info = SimpleNamespace(id="r1", design="banded", strategy="kernel", dataset="flipflop")
    row = compare.analysis_row(info, {
        "fixed_points": {"found": 11, "stable": 8},
        "spectral_radius": {"i": 0.9, "f": 1.1, "c": 0.7, "o": 0.8},
        "lesion_costly_units": [3, 5], "test_loss": 0.002})
    assert row["fixed points (stable / found)"] == "8 / 11"
    assert row["spectral radius f"] == 1.1 and row["test loss"] == 0.002
    assert row["units whose lesion costs > 10%"] == "3, 5"
    assert list(row)[0] == "run" and row["id"] == "r1"
    partial = compare.analysis_row(info, {"lesion_costly_units": []})
    assert partial["fixed points (stable / found)"] is None
    assert partial["units whose lesion costs > 10%"] == "none"
    styled = compare.coloured_by_run(pd.DataFrame([row]), {"r1": "#123456"}).to_html()
    assert "color: #123456" in styled
