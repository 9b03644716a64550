"""Plotly figures (and a Vega-Lite spec and an HTML bar chart) of designs, data and runs.
Pure functions: data in, figure out.

Weights are drawn with one diverging colour scale centred at 0 (`RdBu_r`) shared by all
panels of a figure, masked positions as NaN so the mask shows as blank cells; a run keeps
one colour in every figure (`limconn.compare.run_colours`).
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from limconn.connectivity import GATES, Connectivity, any_gate

_WEIGHT_SCALE = "RdBu_r"
EXCITATORY = "#b2182b"
INHIBITORY = "#2166ac"


def connectivity_graph(design: Connectivity, max_edges: int = 4000) -> go.Figure:
    """Inputs → units → readout as a layered graph; recurrent links arc between units.

    Inputs sit in a column on the left, units in a column in the middle (each unit shown
    once, its recurrent links drawn as arcs on the right of it, a self-loop as a small loop),
    the readout on the right. Units that no input reaches or that cannot reach the readout
    are drawn as red crosses; with per-unit signs, excitatory units are red-outlined and
    inhibitory ones blue-outlined. Beyond `max_edges` links per kind, a deterministic sample
    is drawn and the title says so.
    """
    input_any = any_gate(design.input_mask)
    recurrent_any = any_gate(design.recurrent_mask)
    input_y = _spread(design.input_dim)
    unit_y = _spread(design.units)
    figure = go.Figure()
    input_edges = np.argwhere(input_any)
    recurrent_edges = np.argwhere(recurrent_any)
    sampled = len(input_edges) > max_edges or len(recurrent_edges) > max_edges
    input_edges = _sample(input_edges, max_edges)
    recurrent_edges = _sample(recurrent_edges, max_edges)
    figure.add_trace(_lines(
        [(0.0, input_y[i], 1.0, unit_y[j]) for i, j in input_edges], "input → unit", "#8da0cb"
    ))
    arcs_x, arcs_y = [], []
    loop = 0.012 + 0.2 / max(design.units, 4)
    for source, target in recurrent_edges:
        if source == target:
            angles = np.linspace(0, 2 * np.pi, 16)
            xs = 1.0 + loop * 2.2 * (1 - np.cos(angles))
            ys = unit_y[source] + loop * np.sin(angles)
        else:
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
    cut_off = np.zeros(design.units, bool)
    cut_off[list(set(stats.unreachable_units) | set(stats.dead_end_units))] = True
    figure.add_trace(go.Scatter(
        x=[0.0] * design.input_dim, y=input_y, mode="markers", name="inputs",
        marker={"size": 9, "color": "#4c72b0"},
        text=[f"input {i}" for i in range(design.input_dim)], hoverinfo="text",
    ))
    unit_text = np.array([f"unit {j}: fan-in {stats.fan_in[j]}, fan-out {stats.fan_out[j]}"
                          for j in range(design.units)])
    outline = _sign_outline(design)
    for name, chosen, symbol, colour in (("units", ~cut_off, "circle", "#dd8452"),
                                         ("units cut off from input or readout", cut_off,
                                          "x", "#c44e52")):
        figure.add_trace(go.Scatter(
            x=[1.0] * int(chosen.sum()), y=unit_y[chosen], mode="markers", name=name,
            marker={"size": 10, "color": colour, "symbol": symbol,
                    "line": {"width": 2, "color": outline[chosen].tolist()}},
            text=unit_text[chosen].tolist(), hoverinfo="text", showlegend=bool(chosen.any()),
        ))
    figure.add_trace(go.Scatter(x=[2.0], y=[0.5], mode="markers", name="readout",
                                marker={"size": 14, "color": "#55a868"}, hoverinfo="name"))
    title = "Connectivity"
    if sampled:
        title += f" ({max_edges} links per kind shown)"
    figure.update_layout(
        title=title, height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"visible": False, "range": [-0.2, 2.2]},
        yaxis={"visible": False, "range": [1.05, -0.05]},
        legend={"orientation": "h"},
    )
    return figure


def _sign_outline(design: Connectivity) -> np.ndarray:
    """Marker outline colour per unit: red excitatory, blue inhibitory, white otherwise."""
    outline = np.full(design.units, "#ffffff", dtype=object)
    sign = design.recurrent_sign
    if sign is not None and sign.ndim == 1:
        outline[sign > 0] = EXCITATORY
        outline[sign < 0] = INHIBITORY
    return outline


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


def weight_heatmaps(panels, title: str = "", limit: float | None = None,
                    title_colour: str | None = None) -> go.Figure:
    """Weight panels (`limconn.compare.Panel`) side by side, one colour scale centred at 0.

    A masked position is blank (NaN), so the mask shows; a panel of a weight the strategy
    leaves dense shows every value and says so in its title. The diverging scale shows each
    weight's sign; under sign constraints the hover names the enforced sign. Integer ticks.

    Args:
        panels: what to draw, in order; gates of one weight go in one row.
        title: the figure title (the run's label).
        limit: the colour scale spans [-limit, limit]; the largest |weight| when `None`.
            Pass one value to several figures to share their scale.
        title_colour: the run's colour, so the title matches its curve.
    """
    per_row = len(GATES)
    rows = -(-len(panels) // per_row)
    titles = [panel.title + (f"<br><sub>{panel.note}</sub>" if panel.note else "")
              for panel in panels]
    figure = make_subplots(rows=rows, cols=per_row, vertical_spacing=0.16,
                           subplot_titles=titles + [""] * (rows * per_row - len(panels)))
    if limit is None:
        limit = max(float(np.abs(panel.values).max(initial=0.0)) for panel in panels) or 1.0
    for index, panel in enumerate(panels):
        values = panel.values.astype("float32")
        if panel.mask is not None:
            values = np.where(panel.mask, values, np.nan)
        sign_text = None
        if panel.sign is not None:
            sign_text = np.vectorize({1: " (≥ 0 enforced)", -1: " (≤ 0 enforced)", 0: ""}.get)(
                panel.sign)
        figure.add_trace(
            go.Heatmap(
                z=values, coloraxis="coloraxis", text=sign_text,
                hovertemplate=f"{panel.source} %{{y}} → {panel.target} %{{x}}: %{{z:.4f}}"
                              + ("%{text}" if sign_text is not None else "")
                              + "<extra></extra>",
            ),
            row=index // per_row + 1, col=index % per_row + 1,
        )
    figure.update_xaxes(tickformat="d", dtick=_tick_step(max(p.values.shape[1] for p in panels)))
    figure.update_yaxes(autorange="reversed", tickformat="d",
                        dtick=_tick_step(max(p.values.shape[0] for p in panels)))
    figure.update_annotations(font_size=12)
    figure.update_layout(
        title={"text": plotly_text(title), "font": {"color": title_colour}},
        height=260 * rows + 60, margin={"l": 10, "r": 10, "t": 70, "b": 10},
        coloraxis={"colorscale": _WEIGHT_SCALE, "cmid": 0.0, "cmin": -limit, "cmax": limit,
                   "colorbar": {"title": "weight"}},
    )
    return figure


def plotly_text(label: str) -> str:
    """A visitor's name as Plotly text: Plotly reads a subset of HTML (links included) in
    titles, legends and hover text, so it is escaped, and `%` becomes an entity that no
    hover template reads."""
    return html.escape(str(label)).replace("%", "&#37;")


def _tick_step(size: int) -> int:
    """An integer tick step that keeps about 8 ticks on an axis of `size` cells."""
    return max(1, int(np.ceil(size / 8)))


def weight_histograms(runs: dict[str, tuple[np.ndarray, str]], title: str) -> go.Figure:
    """Histograms of weights, one trace per run, each in the run's colour.

    Args:
        runs: label → (weights to count, colour).
        title: says whether masked zeros are counted.
    """
    figure = go.Figure()
    for label, (values, colour) in runs.items():
        figure.add_trace(go.Histogram(x=values, name=plotly_text(label), opacity=0.55, nbinsx=80,
                                      marker_color=colour))
    figure.update_layout(barmode="overlay", height=320, title=title,
                         xaxis_title="weight", yaxis_title="count",
                         legend={"orientation": "h", "y": -0.25},
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def loss_curves(curves: Sequence[Curve], x: str = "epoch", log: bool = True) -> go.Figure:
    """Training (solid) and validation (dashed) loss per run, in each run's colour.

    The legend sits below the plot, so long labels never squeeze it; the run id is in the
    hover. A curve with a band (a group of seeds) draws its mean with the band behind it.

    Args:
        curves: what to draw (`Curve`s).
        x: `"epoch"` or `"seconds"`.
        log: logarithmic loss axis.
    """
    figure = go.Figure()
    for curve in curves:
        for column, dash, suffix in (("loss", "solid", "train"), ("val_loss", "dash", "val")):
            ys = curve.values.get(column)
            if ys is None or not np.isfinite(np.asarray(ys, float)).any():
                continue
            band = curve.bands.get(column)
            if band is not None:
                low, high = band
                figure.add_trace(go.Scatter(
                    x=[*curve.x, *curve.x[::-1]], y=[*high, *low[::-1]], fill="toself",
                    fillcolor=curve.colour, opacity=0.18, line={"width": 0},
                    hoverinfo="skip", showlegend=False, legendgroup=curve.label,
                ))
            figure.add_trace(go.Scatter(
                x=curve.x, y=ys, name=f"{plotly_text(curve.label)} · {suffix}",
                legendgroup=curve.label, text=[plotly_text(curve.hover)] * len(curve.x),
                line={"color": curve.colour, "dash": dash}, mode="lines+markers",
                marker={"size": 5 if dash == "solid" else 7,
                        "symbol": "circle" if dash == "solid" else "diamond-open"},
                hovertemplate=f"%{{text}}<br>{x} %{{x}}: {suffix} loss %{{y:.4g}}"
                              "<extra></extra>",
            ))
    figure.update_layout(
        height=460, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="epoch" if x == "epoch" else "seconds", yaxis_title="loss",
        yaxis_type="log" if log else "linear",
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
    )
    return figure


@dataclasses.dataclass(frozen=True)
class Curve:
    """One run's (or one group's) loss curves for `loss_curves`.

    Attributes:
        label: the legend label.
        colour: the run's colour.
        hover: text shown on hover (e.g. the run id and seeds).
        x: epochs or seconds.
        values: `"loss"` and `"val_loss"` arrays (means for a group).
        bands: optional `(low, high)` per column, drawn behind the line.
    """

    label: str
    colour: str
    hover: str
    x: Sequence[float]
    values: dict
    bands: dict = dataclasses.field(default_factory=dict)


def _palette(index: int) -> str:
    colours = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")
    return colours[index % len(colours)]


def sequence_preview(
    x: np.ndarray,
    samples: int = 3,
    *,
    targets: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    outputs: dict[str, tuple[np.ndarray, str]] | None = None,
) -> go.Figure:
    """The first few sequences of a dataset, one line per feature, stacked per sample.

    With per-step targets, each output is drawn as a dashed step line over its sample's
    features (a class label as its class number), and steps of weight 0, which do not count
    in the loss, are shaded grey. Runs' outputs at every step (Compare's evaluations) are
    solid step lines in each run's colour, shaped as the targets. At most 8 features and 8
    outputs are drawn.

    Args:
        x: sequences `(samples, timesteps, features)`.
        samples: how many sequences to draw.
        targets: per-step targets, `(samples, timesteps, outputs)` or labels
            `(samples, timesteps)`; `None` draws only the inputs.
        weights: per-step loss weights `(samples, timesteps)`, or `None`.
        outputs: run label -> (its outputs on these sequences, shaped as `targets`; its
            colour), or `None`.

    Example:

    >>> from limconn.data import make_task
    >>> data = make_task("flipflop", num_samples=4, timesteps=20, pulse_probability=0.3)
    >>> figure = sequence_preview(data.x, targets=data.y, weights=data.weights)
    """
    samples = min(samples, len(x))
    figure = make_subplots(rows=samples, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    features = min(x.shape[2], 8)
    if targets is not None and targets.ndim == 2:
        targets = targets[..., None]
    drawn = 0 if targets is None else min(targets.shape[2], 8)
    runs = {label: (np.asarray(values).reshape(len(values), *targets.shape[1:]), colour)
            for label, (values, colour) in (outputs or {}).items()}
    for sample in range(samples):
        row = sample + 1
        for feature in range(features):
            figure.add_trace(go.Scatter(
                y=x[sample, :, feature], mode="lines", name=f"feature {feature}",
                line={"color": _palette(feature)}, showlegend=sample == 0,
            ), row=row, col=1)
        for output in range(drawn):
            figure.add_trace(go.Scatter(
                y=targets[sample, :, output], mode="lines", name=f"target {output}",
                line={"color": _palette(output), "dash": "dash", "shape": "hv", "width": 2.5},
                opacity=0.7, showlegend=sample == 0,
            ), row=row, col=1)
            for label, (values, colour) in runs.items():
                figure.add_trace(go.Scatter(
                    y=values[sample, :, output], mode="lines", name=label,
                    legendgroup=label, line={"color": colour, "shape": "hv"},
                    showlegend=sample == 0 and output == 0,
                ), row=row, col=1)
        if weights is not None:
            for start, stop in _zero_runs(weights[sample]):
                figure.add_vrect(x0=start - 0.5, x1=stop - 0.5, fillcolor="grey", opacity=0.15,
                                 line_width=0, layer="below", row=row, col=1)
    figure.update_layout(height=90 * samples + 60, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return figure


def _zero_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """`(start, stop)` of every run of zeros in a 1-D array, stop exclusive."""
    edges = np.diff(np.concatenate([[0], (values == 0).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


FAN_IN_COLOUR = "#0068c9"
FAN_OUT_COLOUR = "#83c9ff"


def fan_bars_html(fan_in: np.ndarray, fan_out: np.ndarray, height: int = 180) -> str:
    """Each unit's fan-in and fan-out (`DesignStats`) as grouped bars in plain HTML (for
    `st.html`), with a legend; hovering a unit names it and both counts.

    Plain HTML rather than a chart element: on a fresh server, `st.bar_chart` made the Design
    page's first run import Altair and pandas (~0.8 s) and the browser load and run Vega
    (~0.5-0.8 s of CPU), both competing with the painter's first paint. (`st.html` drops
    SVG, so the bars are boxes.)

    Args:
        fan_in: `(units,)` non-negative counts.
        fan_out: `(units,)` non-negative counts.
        height: pixels of the bar area.

    Raises:
        ValueError: if the two are not 1-D of the same non-zero length with counts >= 0.
    """
    fan_in, fan_out = np.asarray(fan_in), np.asarray(fan_out)
    if fan_in.ndim != 1 or fan_in.shape != fan_out.shape or not fan_in.size:
        raise ValueError("fan_in and fan_out must be 1-D of one non-zero length. Received: "
                         f"shapes {fan_in.shape} and {fan_out.shape}")
    if (fan_in < 0).any() or (fan_out < 0).any():
        raise ValueError("fan_in and fan_out must be counts >= 0. Received: minimum "
                         f"{min(fan_in.min(), fan_out.min())}")
    top = max(int(fan_in.max()), int(fan_out.max()), 1)
    units = "".join(
        f'<div title="unit {unit}: fan-in {count_in}, fan-out {count_out}" '
        'style="flex:1;display:flex;align-items:flex-end;height:100%">'
        + "".join(f'<div style="flex:1;height:{100 * count / top:.4g}%;background:{colour}">'
                  "</div>"
                  for count, colour in ((count_in, FAN_IN_COLOUR), (count_out, FAN_OUT_COLOUR)))
        + "</div>"
        for unit, (count_in, count_out) in enumerate(zip(fan_in.tolist(), fan_out.tolist(),
                                                         strict=True))
    )
    legend = "".join(
        f'<span style="margin-left:1em"><span style="display:inline-block;width:0.8em;'
        f'height:0.8em;margin-right:0.3em;background:{colour}"></span>{name}</span>'
        for name, colour in (("fan-in", FAN_IN_COLOUR), ("fan-out", FAN_OUT_COLOUR))
    )
    row = "font-size:0.8rem;display:flex;justify-content:space-between"
    return (
        f'<div style="{row}"><span>max {top}</span><span>{legend}</span></div>'
        f'<div role="img" aria-label="fan-in and fan-out per unit" style="display:flex;'
        f'align-items:flex-end;gap:1px;height:{height}px;border-bottom:1px solid '
        f'rgba(128,128,128,0.5)">{units}</div>'
        f'<div style="{row}"><span>unit 0</span><span>unit</span>'
        f"<span>unit {fan_in.size - 1}</span></div>"
    )


def live_loss_spec(runs: dict[str, Sequence[dict]]) -> dict:
    """A Vega-Lite spec of live losses: per run (colour), the batch loss as a thin line and
    the validation loss as a thick dashed line with large points, on a log axis so the first
    batches' transient does not flatten the rest. Light enough to redraw every second.

    Args:
        runs: run name → `{"step", "loss"}` and `{"step", "val_loss"}` rows
            (`RunSnapshot.curve`).
    """
    values = [
        {"step": row["step"], "run": name, "series": series, "loss": row[key]}
        for name, rows in runs.items()
        for row in rows
        for key, series in (("loss", "training (batches)"), ("val_loss", "validation"))
        if row.get(key) is not None and np.isfinite(row[key]) and row[key] > 0
    ]
    encoding = {
        "x": {"field": "step", "type": "quantitative", "title": "step"},
        "y": {"field": "loss", "type": "quantitative", "title": "loss (log scale)",
              "scale": {"type": "log"}},
        "color": {"field": "run", "type": "nominal", "title": None,
                  "legend": {"orient": "bottom", "labelLimit": 320}},
        "strokeDash": {"field": "series", "type": "nominal", "title": None,
                       "scale": {"domain": ["training (batches)", "validation"],
                                 "range": [[1, 0], [6, 3]]},
                       "legend": {"orient": "bottom"}},
        "tooltip": [{"field": "run"}, {"field": "series"}, {"field": "step"},
                    {"field": "loss", "format": ".4g"}],
    }
    return {
        "data": {"values": values},
        "height": 220,
        "layer": [
            {"mark": {"type": "line", "strokeWidth": 1.2, "opacity": 0.8},
             "transform": [{"filter": "datum.series == 'training (batches)'"}],
             "encoding": encoding},
            {"mark": {"type": "line", "strokeWidth": 2.5,
                      "point": {"size": 80, "filled": True}},
             "transform": [{"filter": "datum.series == 'validation'"}],
             "encoding": encoding},
        ],
    }
