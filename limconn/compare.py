"""What Compare shows, computed from runs: labels, colours, the summary table, the weight
panels each strategy really has, and groups of runs that differ only by seed.

Pure functions over `limconn.runs.Run` / `RunInfo`; the page only lays them out, and the CLI
(`runs list --group`) prints the same group table.

Every number here reads the strategy's statement (`limconn.enforcement`): densities and
effective parameters are those of the trained model, heatmaps blank only the weights the
strategy masks, and weights it leaves dense are shown whole and labelled so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from collections.abc import Iterable, Sequence

import numpy as np

from limconn.connectivity import GATES
from limconn.enforcement import trained_connectivity, trained_summary
from limconn.strategies import enforcement_of

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#843c39", "#7b4173",
)
"""Run colours (Plotly's and D3's category colours); a run keeps its colour everywhere."""

NOT_LIMITED = "not limited by this strategy"


def run_label(info) -> str:
    """A short legend label: design · strategy · data (the id goes in the hover)."""
    design = info.design or "design"
    return f"{design} · {info.strategy} · {info.dataset}"


def run_colours(infos: Sequence) -> dict[str, str]:
    """Run id → colour, by the run's place among all `infos` oldest first, so a run's colour
    does not change when the selection does."""
    ordered = sorted(infos, key=lambda info: (info.created, info.id))
    return {info.id: PALETTE[index % len(PALETTE)] for index, info in enumerate(ordered)}


def all_tags(infos: Iterable) -> list[str]:
    """Every tag any of `infos` carries, sorted: the choices of Compare's tag filter."""
    return sorted({tag for info in infos for tag in info.tags})


def with_tags(infos: Iterable, tags: Iterable[str]) -> list:
    """The runs carrying every one of `tags` (all runs when `tags` is empty), in order.

    Example:

    >>> from types import SimpleNamespace as Info
    >>> runs = [Info(id="a", tags=("lr",)), Info(id="b", tags=())]
    >>> [info.id for info in with_tags(runs, ["lr"])]
    ['a']
    """
    wanted = set(tags)
    return [info for info in infos if wanted <= set(info.tags)]


def data_note(infos: Sequence) -> str:
    """One line saying which runs saw which data, when they did not all see the same
    (by `RunInfo.data_hash`, the `Dataset.content_hash` in `run.json`); `""` when they did.

    Example:

    >>> from types import SimpleNamespace as Info
    >>> data_note([Info(name="a", data_hash="12ab" * 16), Info(name="b", data_hash="")])
    'These runs did not all see the same data: a (data 12ab12ab); b (data not recorded).'
    """
    by_data: dict[str, list[str]] = {}
    for info in infos:
        by_data.setdefault(info.data_hash, []).append(info.name)
    if len(by_data) <= 1:
        return ""
    return "These runs did not all see the same data: " + "; ".join(
        f"{', '.join(names)} (data {data_hash[:8] or 'not recorded'})"
        for data_hash, names in by_data.items()) + "."


def trained_numbers(run) -> dict:
    """Densities and effective parameters of the trained model (see
    `limconn.enforcement.trained_summary`), from `run.json` or, for runs recorded before it
    held them, from the strategy and the design."""
    recorded = run.record.get("trained")
    if isinstance(recorded, dict) and "effective_parameters" in recorded:
        return recorded
    return trained_summary(enforcement_of(run.info.strategy), run.connectivity)


def summary_row(run) -> dict:
    """One row of Compare's table, leading with the columns that decide."""
    metrics = run.info.metrics
    trained = trained_numbers(run)
    return {
        "run": run_label(run.info),
        "strategy": run.info.strategy,
        "best val loss": metrics.get("best_val_loss"),
        "final val loss": metrics.get("final_val_loss"),
        "test loss": metrics.get("test_loss"),
        "test metric": test_metric_text(metrics),
        "effective parameters": trained["effective_parameters"],
        "wall time (s)": metrics.get("wall_time"),
        "epochs": run.info.epochs,
        "status": run.info.status,
        "input density": trained["input_density"],
        "recurrent density": trained["recurrent_density"],
        "readout density": trained["output_density"],
        "max |masked weight|": run.info.max_masked_weight,
        "data": run.info.dataset,
        "id": run.info.id,
    }


def test_metric(metrics: dict) -> tuple[str, float] | None:
    """The test set's metric of a run's `metrics` as `(name, value)`, e.g. `("mae", 0.1)`,
    or `None` for a run without a test set (`TrainConfig.test_split`)."""
    for key, value in metrics.items():
        if key.startswith("test_") and key != "test_loss":
            return key.removeprefix("test_"), value
    return None


def test_metric_text(metrics: dict) -> str | None:
    """`"mae 0.1234"`, or `None` for a run without a test set."""
    found = test_metric(metrics)
    return None if found is None else f"{found[0]} {found[1]:.4g}"


@dataclasses.dataclass(frozen=True)
class Panel:
    """One heatmap: a weight matrix `(rows, cols)`, its mask (`None` when the strategy does
    not limit it) and its labels.

    Attributes:
        title: e.g. "input→unit · gate i".
        values: float32 `(rows, cols)`: rows are sources, columns are targets.
        mask: bool `(rows, cols)`, or `None` for a weight left dense.
        note: "" or `NOT_LIMITED` (and why).
        source, target: what a row and a column are (hover text).
        sign: int8 `(rows, cols)` of enforced signs, or `None`.
    """

    title: str
    values: np.ndarray
    mask: np.ndarray | None
    note: str
    source: str
    target: str
    sign: np.ndarray | None = None


def weight_panels(run) -> list[Panel]:
    """The heatmaps of a run: every LSTM gate's input and recurrent weights (and the
    projection's for `sparse_projection`), each masked only if the strategy masks it."""
    enforced = enforcement_of(run.info.strategy)
    trained = trained_connectivity(enforced, run.connectivity)
    weights = run.weights
    panels = []
    if "projection_kernel" in weights:
        panels.append(Panel(
            "input→channel (projection)", weights["projection_kernel"],
            run.connectivity.input_mask if run.connectivity.input_mask.ndim == 2
            else run.connectivity.input_mask.any(axis=0),
            "", "input", "channel",
        ))
    lstm_input = "channel" if "projection_kernel" in weights else "input"
    for name, field, source in (
        ("kernel", "input_mask", lstm_input),
        ("recurrent_kernel", "recurrent_mask", "unit"),
    ):
        limited = f"lstm.{name}" in enforced.masked_weights
        mask = _per_gate(getattr(trained, field)) if limited else None
        sign_field = "input_sign" if field == "input_mask" else "recurrent_sign"
        sign = getattr(trained, sign_field) if limited else None
        note = "" if limited else _dense_note(enforced, field, run.connectivity)
        for gate_index, gate in enumerate(GATES):
            panels.append(Panel(
                f"{source}→unit · gate {gate}", weights[name][gate_index],
                None if mask is None else mask[gate_index], note, source, "unit",
                _sign_panel(sign, gate_index, weights[name].shape[1:]),
            ))
    return panels


def _per_gate(mask: np.ndarray) -> np.ndarray:
    return mask if mask.ndim == 3 else np.broadcast_to(mask, (len(GATES), *mask.shape))


def _sign_panel(sign, gate: int, shape) -> np.ndarray | None:
    if sign is None:
        return None
    if sign.ndim == 1:
        return np.broadcast_to(sign[:, None], shape)
    return sign if sign.ndim == 2 else sign[gate]


def _dense_note(enforced, field: str, design) -> str:
    if field == "input_mask" and enforced.input == "features":
        off = np.flatnonzero(~design.input_mask.reshape(-1, *design.input_mask.shape[-2:])
                             .any(axis=(0, 2)))
        if off.size:
            return (f"{NOT_LIMITED}; rows of switched-off features "
                    f"{', '.join(map(str, off[:10]))} never act")
    return NOT_LIMITED


def live_weights(run) -> np.ndarray:
    """Every LSTM (and projection) weight that a mask leaves free, flattened: a histogram
    without the spike of masked zeros."""
    values = []
    for panel in weight_panels(run):
        values.append(panel.values.ravel() if panel.mask is None
                      else panel.values[panel.mask].ravel())
    return np.concatenate(values) if values else np.zeros(0, "float32")


def group_key(run) -> str:
    """Runs with equal keys differ only by seed (and name): same masks and signs, same
    strategy and options, same data, same training settings."""
    config = {k: v for k, v in run.config.to_dict().items() if k not in ("seed", "name")}
    digest = hashlib.sha256()
    for array in (run.connectivity.input_mask, run.connectivity.recurrent_mask,
                  run.connectivity.output_mask, run.connectivity.input_sign,
                  run.connectivity.recurrent_sign):
        digest.update(b"-" if array is None else f"{array.shape}".encode() + array.tobytes())
    dataset = run.record.get("dataset", {})
    digest.update(json.dumps([config, dataset.get("name"), dataset.get("description")],
                             sort_keys=True).encode())
    return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs of one design, strategy and data that differ only by seed.

    Attributes:
        key: `group_key` of its runs.
        label: the first run's label.
        runs: the runs, oldest first.
        seeds: their seeds.
    """

    key: str
    label: str
    runs: tuple
    seeds: tuple[int, ...]

    def curve(self, column: str = "val_loss") -> dict[str, np.ndarray]:
        """Per epoch over the runs: `epoch`, `mean`, `std`, `min`, `max` and `n` (how many
        runs reached that epoch; a stopped run ends early)."""
        series = [np.asarray(run.history[column], float) for run in self.runs
                  if column in run.history and run.history[column].notna().any()]
        length = max((len(s) for s in series), default=0)
        table = np.full((len(series), length), np.nan)
        for row, values in enumerate(series):
            table[row, : len(values)] = values
        with np.errstate(all="ignore"):
            return {
                "epoch": np.arange(1, length + 1),
                "mean": np.nanmean(table, axis=0) if length else table[0:0],
                "std": np.nanstd(table, axis=0) if length else table[0:0],
                "min": np.nanmin(table, axis=0) if length else table[0:0],
                "max": np.nanmax(table, axis=0) if length else table[0:0],
                "n": np.sum(~np.isnan(table), axis=0),
            }


def group_runs(runs: Iterable) -> list[Group]:
    """Runs grouped by `group_key`, groups in order of their oldest run."""
    groups: dict[str, list] = {}
    for run in sorted(runs, key=lambda run: (run.info.created, run.info.id)):
        groups.setdefault(group_key(run), []).append(run)
    return [
        Group(key, run_label(members[0].info), tuple(members),
              tuple(int(member.config.seed) for member in members))
        for key, members in groups.items()
    ]


def group_rows(groups: Iterable[Group]) -> list[dict]:
    """One row per group: n, seeds, mean ± std of best and final validation loss and of the
    test loss and metric (`None` without a test set), and the test metric's name."""
    rows = []
    for group in groups:
        row = {"group": group.label, "strategy": group.runs[0].info.strategy,
               "n": len(group.runs), "seeds": ", ".join(map(str, group.seeds))}
        found = [test_metric(r.info.metrics) for r in group.runs]
        row["test metric"] = next((name for name, _ in filter(None, found)), None)
        for column, metric in (("best val loss", "best_val_loss"),
                               ("final val loss", "final_val_loss"),
                               ("test loss", "test_loss"),
                               ("test metric", f"test_{row['test metric']}")):
            values = [r.info.metrics.get(metric) for r in group.runs]
            values = [v for v in values if isinstance(v, (int, float)) and np.isfinite(v)]
            row[f"{column} mean"] = statistics.fmean(values) if values else None
            row[f"{column} std"] = statistics.pstdev(values) if len(values) > 1 else (
                0.0 if values else None)
        rows.append(row)
    return rows


def group_table(groups: Iterable[Group]) -> list[dict]:
    """`group_rows` as the grouped table shows them, on Compare and in `runs list --group`:
    group, strategy, n, best and final validation loss, test loss and test metric as
    mean ± std, seeds."""
    return [{
        "group": row["group"], "strategy": row["strategy"], "n": row["n"],
        **{f"{column} (mean ± std)": mean_std_text(row[f"{column} mean"], row[f"{column} std"])
           for column in ("best val loss", "final val loss", "test loss")},
        "test metric (mean ± std)": " ".join(filter(None, (row["test metric"], mean_std_text(
            row["test metric mean"], row["test metric std"])))),
        "seeds": row["seeds"],
    } for row in group_rows(groups)]


def mean_std_text(mean: float | None, std: float | None) -> str:
    """`"0.0123 ± 0.0004"`, or `"-"` without values."""
    if mean is None:
        return "-"
    return f"{mean:.4g} ± {std:.2g}" if std is not None else f"{mean:.4g}"


def evaluation_row(run, result: dict) -> dict:
    """One row of Compare's "Evaluate on…" table: a run's loss and metric on other data
    (`limconn.evaluation.evaluate`) beside its best validation loss on its own data."""
    metric = result["metric_name"]
    return {
        "run": run_label(run.info),
        "data": result["description"],
        "samples": result["samples"],
        "steps": result["timesteps"],
        result["loss_name"]: result["loss"],
        metric: result[metric],
        "best val loss (own data)": run.info.metrics.get("best_val_loss"),
        "id": run.info.id,
    }


LESION_COST = 0.1
"""A lesion is costly when silencing the unit raises the test loss by more than this share
(`limconn.analysis`' `lesion_costly_units`)."""


def analysis_row(info, summary: dict) -> dict:
    """One row of Analyze's table across masks: a run's dynamics by the numbers, from its
    analysis summary (`limconn.analysis.Analysis.summary`); an analysis it did not run
    leaves its columns empty."""
    fixed = summary.get("fixed_points")
    radius = summary.get("spectral_radius") or {}
    costly = summary.get("lesion_costly_units")
    return {
        "run": run_label(info),
        "fixed points (stable / found)": (None if fixed is None
                                          else f"{fixed['stable']} / {fixed['found']}"),
        **{f"spectral radius {gate}": radius.get(gate) for gate in GATES},
        f"units whose lesion costs > {LESION_COST:.0%}": (
            None if costly is None else ", ".join(map(str, costly)) or "none"),
        "test loss": summary.get("test_loss"),
        "id": info.id,
    }


def coloured_by_run(table, colours: dict[str, str]):
    """A table of runs (a `pandas.DataFrame` leading with `run`, holding `id`) with each
    row's first cell in its run's colour (`run_colours`), as Compare and Analyze show it."""
    return table.style.apply(
        lambda row: [f"color: {colours[row['id']]}"] + [""] * (len(row) - 1), axis=1)
