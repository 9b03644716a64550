"""Plotly figures of a run's analysis (`limconn.analysis`): trajectories with fixed points,
eigenvalues in the complex plane, lesion costs per unit, attributions. Pure functions of
plain arrays, as `limconn.plots`: the Analyze page hands them what
`limconn.analysis.load` read, the CLI's users their own arrays.

Conventions shared with `limconn.plots`: one diverging scale centred at 0 (`RdBu_r`) for
signed values, excitatory red and inhibitory blue, names a visitor typed escaped
(`limconn.plots.plotly_text`), float32 arrays handed to Plotly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from limconn.plots import EXCITATORY, INHIBITORY, plotly_text

STABLE, UNSTABLE = "stable fixed points", "unstable fixed points"
"""Legend names of the fixed points on a trajectory figure."""
FIXED_POINT_COLOUR = "#222222"
COSTLY = "#c44e52"
"""Bars of units whose lesion costs more than the threshold."""
SIGN_NAMES = {1: "excitatory", -1: "inhibitory", 0: "free"}
SIGN_COLOURS = {1: EXCITATORY, -1: INHIBITORY, 0: "#7f7f7f"}
CONDITION_COLOURS = tuple(colour for colour in (*plotly.colors.qualitative.Plotly,
                                               *plotly.colors.qualitative.D3)
                          if colour.lower() != "#7f7f7f")
"""Colours of conditions: none black or grey, the colours of fixed points and of steps
that do not count."""
MAX_CONDITIONS = len(CONDITION_COLOURS)
"""Beyond this many distinct conditions, states are drawn in one colour."""
NOT_COUNTED = "steps that do not count"
"""The condition of steps of weight 0, drawn grey."""
LINES = 12
"""Sequences drawn as lines through their states (the states of all are dots)."""


def target_conditions(targets: np.ndarray, timesteps: int,
                      weights: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """A condition per sequence and step to colour trajectories by, and its names.

    Regression targets become their sign pattern (a 3-bit flip-flop's eight memories read
    `+ − +`), class labels their class; one target per sequence holds for all its steps.
    Steps of weight 0, which do not count in the loss (a flip-flop's steps before every
    channel has pulsed), form one last condition, `NOT_COUNTED`.

    Args:
        targets: per step `(samples, steps, outputs)` or labels `(samples, steps)`, or one
            per sequence `(samples, outputs)` or labels `(samples,)`.
        timesteps: the sequences' length (to spread one target per sequence over it).
        weights: per-step loss weights `(samples, steps)`, or `None`.

    Returns:
        int32 condition indices `(samples, timesteps)` and one name per index.

    Example:

    >>> targets = np.array([[[0.0, -1.0], [1.0, -1.0], [1.0, 1.0]]])
    >>> conditions, names = target_conditions(targets, 3, weights=np.array([[0, 1, 1]]))
    >>> conditions.tolist(), names
    ([[2, 0, 1]], ['+ −', '+ +', 'steps that do not count'])
    """
    targets = np.asarray(targets)
    if np.issubdtype(targets.dtype, np.integer):  # class labels
        keys = targets if targets.ndim == 2 else np.repeat(targets[:, None], timesteps, 1)
        keys = keys[..., None]
    else:
        keys = targets if targets.ndim == 3 else np.repeat(targets[:, None], timesteps, 1)
        keys = np.sign(keys).astype(np.int8)
    counted = np.ones(keys.shape[:2], bool) if weights is None else np.asarray(weights) > 0
    patterns, conditions = np.unique(keys[counted], axis=0, return_inverse=True)
    indices = np.full(keys.shape[:2], len(patterns), np.int32)
    indices[counted] = conditions.reshape(-1)
    if np.issubdtype(targets.dtype, np.integer):
        names = [f"class {int(pattern[0])}" for pattern in patterns]
    else:
        symbols = {1: "+", -1: "−", 0: "0"}
        names = [" ".join(symbols[int(value)] for value in pattern) for pattern in patterns]
    return indices, names + ([NOT_COUNTED] if not counted.all() else [])


def trajectory_figure(
    projected: np.ndarray,
    conditions: np.ndarray | None = None,
    condition_names: Sequence[str] = (),
    fixed_points: np.ndarray | None = None,
    stable: np.ndarray | None = None,
    explained: Sequence[float] = (),
    dims: int = 2,
) -> go.Figure:
    """State trajectories on their first principal components, with the fixed points on the
    same axes: stable ones filled, unstable ones hollow.

    Every state is a dot coloured by its condition (the target at that step,
    `target_conditions`), one legend entry per condition, so the states that hold one
    memory gather in one colour around their fixed point; the first `LINES` sequences are
    also thin grey lines through their states, in time order.

    Args:
        projected: trajectories on the principal axes, `(samples, steps, k)` with k >= dims.
        conditions: int condition per sample and step `(samples, steps)`, or `None` (or
            more than `MAX_CONDITIONS`) for one colour.
        condition_names: one legend name per condition index.
        fixed_points: fixed points on the same axes, `(points, k)`, or `None`.
        stable: bool per fixed point (every eigenvalue of its Jacobian inside the unit
            circle).
        explained: variance explained per axis (fractions), for the axis titles.
        dims: 2 or 3 axes.

    Raises:
        ValueError: for `dims` other than 2 or 3, or fewer axes than `dims`.
    """
    projected = np.asarray(projected, np.float32)
    if dims not in (2, 3) or projected.ndim != 3 or projected.shape[2] < dims:
        raise ValueError(f"Trajectories are drawn on 2 or 3 principal axes. Received: dims="
                         f"{dims!r}, projected of shape {projected.shape}")
    if conditions is None or len(condition_names) > MAX_CONDITIONS:
        conditions, condition_names = np.zeros(projected.shape[:2], np.int32), ["states"]
    figure = go.Figure()
    axes = projected.shape[2]
    drawn = projected[:LINES]
    gaps = np.full((len(drawn), 1, axes), np.nan, np.float32)  # one line, broken per sequence
    lines = np.concatenate([drawn, gaps], axis=1).reshape(-1, axes)
    figure.add_trace(_scatter(dims, lines, name="trajectories", mode="lines",
                              line={"color": "rgba(120,120,120,0.35)", "width": 1},
                              hoverinfo="skip"))
    flat, flat_conditions = projected.reshape(-1, axes), conditions.reshape(-1)
    for index, name in enumerate(condition_names):
        chosen = flat_conditions == index
        if chosen.any():
            figure.add_trace(_scatter(dims, flat[chosen], name=plotly_text(name), mode="markers",
                                      marker={"size": 3 if dims == 3 else 4,
                                              "color": _condition_colour(index, name),
                                              "opacity": 0.7}))
    if fixed_points is not None and len(fixed_points):
        points = np.asarray(fixed_points, np.float32)
        stable = np.asarray(stable, bool)
        for name, chosen, symbol in ((STABLE, stable, "circle"),
                                     (UNSTABLE, ~stable, "circle-open")):
            figure.add_trace(_scatter(dims, points[chosen], name=name, mode="markers",
                                      marker={"size": 8 if dims == 3 else 12,
                                              "symbol": symbol, "color": FIXED_POINT_COLOUR,
                                              "line": {"width": 2,
                                                       "color": FIXED_POINT_COLOUR}},
                                      showlegend=bool(chosen.any())))
    titles = [f"PC {axis + 1}" + (f" ({explained[axis]:.0%})" if axis < len(explained) else "")
              for axis in range(dims)]
    layout = {"height": 520, "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
              "legend": {"itemsizing": "constant"}}
    if dims == 3:
        layout["scene"] = dict(zip(("xaxis", "yaxis", "zaxis"),
                                   ({"title": title} for title in titles), strict=True))
    else:
        layout.update(xaxis_title=titles[0], yaxis_title=titles[1])
    figure.update_layout(**layout)
    return figure


def _condition_colour(index: int, name: str) -> str:
    if name == NOT_COUNTED:
        return "#bbbbbb"
    return CONDITION_COLOURS[index]


def _scatter(dims: int, points: np.ndarray, **options):
    """A 2-D or 3-D scatter of `points` `(n, >= dims)`."""
    points = np.asarray(points, np.float32)
    if dims == 3:
        return go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], **options)
    return go.Scatter(x=points[:, 0], y=points[:, 1], **options)


def eigenvalues_by_sign(eigenvalues: np.ndarray, recurrent_kernel: np.ndarray,
                        unit_sign: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Each gate's eigenvalues with the sign of the units each one lives on, for
    `eigenvalue_figure`; `(eigenvalues, None)` when no unit has a sign.

    An eigenvalue's mode is its eigenvector over the units (of the step `h @ W`, so of
    `W.T`); it takes the sign of the unit with the largest |component|: a mode of the
    excitatory units, or of the inhibitory ones. To pair each eigenvalue with its own
    eigenvector they are computed again from `recurrent_kernel`, the weights the analysis
    used, so they are `eigenvalues` up to order.

    Args:
        eigenvalues: `(4, units)` complex, per gate (`spectrum/eigenvalues`).
        recurrent_kernel: the run's effective recurrent weights `(4, units, units)`, rows
            sources (`weights.npz`).
        unit_sign: `(units,)`: +1 excitatory, -1 inhibitory, 0 free (`spectrum/unit_sign`).

    Example:

    >>> kernel = np.stack([np.diag([0.9, -0.5])] * 4).astype(np.float32)
    >>> values, signs = eigenvalues_by_sign(None, kernel, np.array([1, -1]))
    >>> [round(float(value), 3) for value in values[0].real], signs[0].tolist()
    ([0.9, -0.5], [1, -1])
    """
    unit_sign = np.asarray(unit_sign, np.int8)
    if not unit_sign.any():
        return np.asarray(eigenvalues), None
    values, vectors = np.linalg.eig(np.swapaxes(np.asarray(recurrent_kernel), 1, 2))
    dominant = np.abs(vectors).argmax(axis=1)  # per gate and eigenvalue: its main unit
    return values.astype(np.complex64), unit_sign[dominant]


def eigenvalue_figure(eigenvalues: Mapping[str, np.ndarray],
                      signs: Mapping[str, np.ndarray] | None = None) -> go.Figure:
    """Eigenvalues in the complex plane with the unit circle, one panel per gate.

    An eigenvalue outside the circle is a mode the gate's recurrent weight amplifies step
    after step. With `signs`, each eigenvalue is coloured by the sign of the units it
    mostly lives on (excitatory red, inhibitory blue, free grey), else all alike.

    Args:
        eigenvalues: gate name (i, f, c, o) → complex eigenvalues `(units,)`.
        signs: gate name → the sign (+1, -1, 0) each eigenvalue is coloured by, or `None`.
    """
    gates = list(eigenvalues)
    figure = make_subplots(rows=1, cols=len(gates), subplot_titles=[
        f"gate {gate}: radius {np.abs(np.asarray(values)).max(initial=0.0):.3g}"
        for gate, values in eigenvalues.items()])
    angles = np.linspace(0, 2 * np.pi, 181, dtype=np.float32)
    shown = set()
    for column, gate in enumerate(gates, start=1):
        figure.add_trace(go.Scatter(x=np.cos(angles), y=np.sin(angles), mode="lines",
                                    name="unit circle", line={"color": "#999999", "width": 1},
                                    hoverinfo="skip", showlegend=column == 1),
                         row=1, col=column)
        values = np.asarray(eigenvalues[gate], np.complex64)
        groups = np.zeros(len(values), np.int8) if signs is None else np.sign(
            np.asarray(signs[gate])).astype(np.int8)
        for sign in (1, -1, 0):
            chosen = groups == sign
            if not chosen.any():
                continue
            name = "eigenvalues" if signs is None else SIGN_NAMES[sign]
            figure.add_trace(go.Scatter(
                x=values.real[chosen], y=values.imag[chosen], mode="markers", name=name,
                legendgroup=name, showlegend=name not in shown,
                marker={"size": 7, "color": "#4c72b0" if signs is None else SIGN_COLOURS[sign]},
                hovertemplate="%{x:.3f} %{y:+.3f}i<extra></extra>",
            ), row=1, col=column)
            shown.add(name)
    figure.update_xaxes(title_text="real", zeroline=True)
    figure.update_yaxes(title_text="imaginary", scaleanchor="x", zeroline=True)
    for column in range(2, len(gates) + 1):
        figure.update_yaxes(scaleanchor=f"x{column}", row=1, col=column)
    figure.update_annotations(font_size=12)
    figure.update_layout(height=340, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    return figure


def lesion_bars(deltas: np.ndarray, baseline: float, threshold: float = 0.1,
                labels: Sequence[str] | None = None) -> go.Figure:
    """The change in test loss when each unit is silenced, one horizontal bar per unit,
    unit 0 at the top (as in `limconn.plots.connectivity_graph`, shown beside it).

    A unit whose lesion raises the loss by more than `threshold` of `baseline` is drawn in
    red: the network cannot do without it.

    Args:
        deltas: loss with the unit silenced minus the intact loss, `(units,)`.
        baseline: the intact test loss.
        threshold: the share of `baseline` above which a lesion counts as costly.
        labels: one label per bar (default `unit <index>`).
    """
    deltas = np.asarray(deltas, np.float32)
    labels = [f"unit {unit}" for unit in range(len(deltas))] if labels is None else [
        plotly_text(label) for label in labels]
    costly = deltas > threshold * baseline
    figure = go.Figure(go.Bar(
        x=deltas, y=labels, orientation="h",
        marker={"color": [COSTLY if cost else "#8da0cb" for cost in costly]},
        hovertemplate="%{y}: Δ loss %{x:.4g}<extra></extra>",
    ))
    figure.add_vline(x=threshold * baseline, line={"dash": "dot", "color": COSTLY},
                     annotation_text=f"{threshold:.0%} of the test loss",
                     annotation_position="top right", annotation_yshift=18)
    figure.update_layout(
        height=max(260, 16 * len(deltas) + 80), margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="Δ test loss when silenced",
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return figure


def attribution_heatmap(attributions: np.ndarray, feature_names: Sequence[str] = (),
                        title: str = "") -> go.Figure:
    """How much each input feature at each step moved the output (integrated gradients),
    features × steps on one colour scale centred at 0.

    Args:
        attributions: one sequence's attributions `(steps, features)`.
        feature_names: one name per feature (default `feature <index>`).
        title: the figure title (which sequence and output).
    """
    values = np.asarray(attributions, np.float32).T
    names = [plotly_text(name) for name in feature_names] or [
        f"feature {feature}" for feature in range(values.shape[0])]
    limit = float(np.abs(values).max(initial=0.0)) or 1.0
    figure = go.Figure(go.Heatmap(
        z=values, y=names, colorscale="RdBu_r", zmid=0.0, zmin=-limit, zmax=limit,
        colorbar={"title": "attribution"},
        hovertemplate="%{y}, step %{x}: %{z:.4g}<extra></extra>",
    ))
    figure.update_layout(title=plotly_text(title), height=120 + 28 * values.shape[0],
                         margin={"l": 10, "r": 10, "t": 40, "b": 10}, xaxis_title="step",
                         yaxis={"autorange": "reversed"})
    return figure
