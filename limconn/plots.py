"""Plotly figures of designs, data and runs. Pure functions: data in, `go.Figure` out.

Weights are drawn with one diverging colour scale centred at 0 (`RdBu_r`) shared by all
panels of a figure, masked positions as NaN so the mask shows as blank cells.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from limconn.connectivity import GATES, Connectivity, any_gate

_WEIGHT_SCALE = "RdBu_r"


def connectivity_graph(design: Connectivity, max_edges: int = 4000) -> go.Figure:
    """Inputs → units → readout as a layered graph; recurrent links arc between units.

    Inputs sit in a column on the left, units in a column in the middle (each unit shown
    once, its recurrent links drawn as curves on the right of it), the readout on the right.
    Beyond `max_edges` links per kind, a deterministic sample is drawn and the title says so.
    """
    input_any = any_gate(design.input_mask)
    recurrent_any = any_gate(design.recurrent_mask) & ~np.eye(design.units, dtype=bool)
    input_y = _spread(design.input_dim)
    unit_y = _spread(design.units)
    figure = go.Figure()
    sampled = False
    input_edges = np.argwhere(input_any)
    recurrent_edges = np.argwhere(recurrent_any)
    for edges in (input_edges, recurrent_edges):
        sampled |= len(edges) > max_edges
    input_edges = _sample(input_edges, max_edges)
    recurrent_edges = _sample(recurrent_edges, max_edges)
    figure.add_trace(_lines(
        [(0.0, input_y[i], 1.0, unit_y[j]) for i, j in input_edges], "input → unit", "#8da0cb"
    ))
    arcs_x, arcs_y = [], []
    for source, target in recurrent_edges:
        bulge = 1.0 + 0.15 + 0.35 * abs(unit_y[source] - unit_y[target])
        xs = 1.0 + (bulge - 1.0) * np.sin(np.linspace(0, np.pi, 12))
        ys = np.linspace(unit_y[source], unit_y[target], 12)
        arcs_x += [*xs, None]
        arcs_y += [*ys, None]
    figure.add_trace(go.Scatter(x=arcs_x, y=arcs_y, mode="lines", name="unit → unit",
                                line={"width": 0.7, "color": "#fc8d62"}, hoverinfo="skip"))
    outputs = np.flatnonzero(design.output_mask)
    figure.add_trace(_lines(
        [(1.0, unit_y[j], 2.0, 0.5) for j in outputs], "unit → readout", "#66c2a5"
    ))
    stats = design.stats()
    cut_off = set(stats.unreachable_units) | set(stats.dead_end_units)
    figure.add_trace(go.Scatter(
        x=[0.0] * design.input_dim, y=input_y, mode="markers", name="inputs",
        marker={"size": 9, "color": "#4c72b0"},
        text=[f"input {i}" for i in range(design.input_dim)], hoverinfo="text",
    ))
    figure.add_trace(go.Scatter(
        x=[1.0] * design.units, y=unit_y, mode="markers", name="units",
        marker={"size": 9, "color": ["#c44e52" if j in cut_off else "#dd8452"
                                     for j in range(design.units)]},
        text=[f"unit {j}: fan-in {stats.fan_in[j]}, fan-out {stats.fan_out[j]}"
              for j in range(design.units)],
        hoverinfo="text",
    ))
    figure.add_trace(go.Scatter(x=[2.0], y=[0.5], mode="markers", name="readout",
                                marker={"size": 14, "color": "#55a868"}, hoverinfo="name"))
    title = "Connectivity (red units: cut off from input or output)"
    if sampled:
        title += f"; {max_edges} links per kind shown"
    figure.update_layout(
        title=title, height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False, "range": [-0.2, 2.2]},
        yaxis={"visible": False, "range": [1.05, -0.05]},
        legend={"orientation": "h"},
    )
    return figure


def _spread(count: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, count) if count > 1 else np.array([0.5])


def _sample(edges: np.ndarray, limit: int) -> np.ndarray:
    if len(edges) <= limit:
        return edges
    return edges[np.random.default_rng(0).choice(len(edges), size=limit, replace=False)]


def _lines(segments, name: str, colour: str) -> go.Scatter:
    xs, ys = [], []
    for x0, y0, x1, y1 in segments:
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, hoverinfo="skip",
                      line={"width": 0.6, "color": colour})


def weight_heatmaps(
    weights: dict[str, np.ndarray], design: Connectivity, title: str = "",
    limit: float | None = None,
) -> go.Figure:
    """Kernel and recurrent kernel per gate, masked entries blank, one colour scale at 0.

    Args:
        weights: `kernel` `(4, input_dim, units)` and `recurrent_kernel` `(4, units, units)`.
        design: its masks decide which entries are blank (per gate when the mask is).
        title: the figure title.
        limit: the colour scale spans [-limit, limit]; the largest |weight| when `None`.
            Pass one value to several figures to share their scale.
    """
    figure = make_subplots(
        rows=2, cols=len(GATES), shared_yaxes=False, vertical_spacing=0.12,
        subplot_titles=[f"{kind} · gate {gate}" for kind in ("input→unit", "unit→unit")
                        for gate in GATES],
    )
    blank = {
        "kernel": ~_per_gate(design.input_mask),
        "recurrent_kernel": ~_per_gate(design.recurrent_mask),
    }
    if limit is None:
        limit = max(float(np.abs(weights[name]).max(initial=0.0)) for name in blank) or 1.0
    for row, name in enumerate(("kernel", "recurrent_kernel"), start=1):
        for gate in range(len(GATES)):
            values = weights[name][gate].astype("float32")
            values = np.where(blank[name][gate], np.nan, values)
            figure.add_trace(
                go.Heatmap(
                    z=values, coloraxis="coloraxis",
                    hovertemplate="source %{y} → unit %{x}: %{z:.4f}<extra></extra>",
                ),
                row=row, col=gate + 1,
            )
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        title=title, height=520, margin={"l": 10, "r": 10, "t": 60, "b": 10},
        coloraxis={"colorscale": _WEIGHT_SCALE, "cmid": 0.0, "cmin": -limit, "cmax": limit,
                   "colorbar": {"title": "weight"}},
    )
    return figure


def _per_gate(mask: np.ndarray) -> np.ndarray:
    return mask if mask.ndim == 3 else np.broadcast_to(mask, (len(GATES), *mask.shape))


def weight_histograms(runs: dict[str, dict[str, np.ndarray]]) -> go.Figure:
    """Histograms of all LSTM weights (kernel and recurrent kernel), one trace per run."""
    figure = go.Figure()
    for label, weights in runs.items():
        values = np.concatenate([weights["kernel"].ravel(), weights["recurrent_kernel"].ravel()])
        figure.add_trace(go.Histogram(x=values, name=label, opacity=0.6, nbinsx=80))
    figure.update_layout(barmode="overlay", height=320, title="Weight distribution (0s included)",
                         xaxis_title="weight", yaxis_title="count",
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def loss_curves(histories: dict[str, list[dict]], x: str = "epoch", log: bool = True) -> go.Figure:
    """Training (solid) and validation (dashed) loss per run, on a shared axis.

    Args:
        histories: run label → history rows (`epoch`, `loss`, `val_loss`, `seconds`).
        x: `"epoch"` or `"seconds"`.
        log: logarithmic loss axis.
    """
    figure = go.Figure()
    for index, (label, history) in enumerate(histories.items()):
        colour = _palette(index)
        xs = [row[x] for row in history]
        figure.add_trace(go.Scatter(x=xs, y=[row["loss"] for row in history], name=f"{label} train",
                                    line={"color": colour}, mode="lines+markers"))
        if history and "val_loss" in history[0]:
            figure.add_trace(go.Scatter(
                x=xs, y=[row["val_loss"] for row in history], name=f"{label} validation",
                line={"color": colour, "dash": "dash"}, mode="lines+markers",
            ))
    figure.update_layout(
        height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="epoch" if x == "epoch" else "seconds", yaxis_title="loss",
        yaxis_type="log" if log else "linear",
    )
    return figure


def _palette(index: int) -> str:
    colours = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
    return colours[index % len(colours)]


def sequence_preview(x: np.ndarray, samples: int = 3) -> go.Figure:
    """The first few sequences of a dataset, one line per feature, stacked per sample."""
    samples = min(samples, len(x))
    figure = make_subplots(rows=samples, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    features = min(x.shape[2], 8)
    for sample in range(samples):
        for feature in range(features):
            figure.add_trace(go.Scatter(
                y=x[sample, :, feature], mode="lines", name=f"feature {feature}",
                line={"color": _palette(feature)}, showlegend=sample == 0,
            ), row=sample + 1, col=1)
    figure.update_layout(height=90 * samples + 60, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure
