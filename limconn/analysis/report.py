"""All analyses of one run on one dataset, as one `Analysis`, written as JSON + NPZ.

`analyze(run, dataset)` runs the chosen analyses on the dataset's first `samples`
sequences and returns an `Analysis`: `summary`, plain JSON values for tables, and
`arrays`, every number behind the plots. `save` writes them as `analysis.json` and
`analysis.npz` (atomically), `merge` adds a new analysis to a cached one of other analyses,
`load` reads them back with NumPy and JSON only (no Keras, no
TensorFlow, `allow_pickle=False`), so the app's server process can draw what a worker
computed. The keys are listed in `limconn.analysis`'s docstring.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from limconn.analysis.attributions import attributions
from limconn.analysis.dynamics import Dynamics, as_dynamics
from limconn.analysis.fixed_points import fixed_points
from limconn.analysis.lesions import lesion_losses, lesions
from limconn.analysis.pca import pca
from limconn.analysis.spectrum import spectrum
from limconn.analysis.trajectories import trajectories
from limconn.connectivity import GATES
from limconn.diskio import write_atomically
from limconn.trainconfig import LOSS_AND_METRIC

ANALYSES = ("trajectories", "spectrum", "fixed-points", "lesions", "attributions")
"""What `analyze` can run, in the order it runs them."""
STEPWISE_ANALYSES = ("fixed-points", "lesions", "attributions")
"""The analyses that need one step function of constant inputs: not for `timestep`."""
SUMMARY_FILE = "analysis.json"
ARRAYS_FILE = "analysis.npz"
PCA_AXES = 3
TOP_LESIONS = 5
MAX_TRAJECTORY_VALUES = 4_000_000
"""The most values `trajectories/hidden` (and `cell`, ...) keeps: the first sequences of the
analysed ones that fit (16 MB of float32 each); the PCA and the lesions use them all."""
FIXED_POINT_STARTS = 256
"""Starts of the fixed-point search for up to 64 units; a larger network gets fewer (down to
32), as each start's steps cost `(2 * units) ** 3`."""

_ARRAY_GROUPS = {"trajectories": ("trajectories/", "pca/"), "spectrum": ("spectrum/",),
                 "fixed-points": ("fixed_points/",), "lesions": ("lesions/",),
                 "attributions": ("attributions/",)}
"""The arrays of each analysis, by the start of their names."""
_SUMMARY_KEYS = {"trajectories": ("pca_explained_variance_ratio",),
                 "spectrum": ("spectral_radius",), "fixed-points": ("fixed_points",),
                 "lesions": ("top_lesions", "lesion_costly_units"),
                 "attributions": ("attribution_completeness_error", "attribution_evaluations",
                                  "attribution_step")}
"""The summary keys each analysis sets (`test_loss` is computed whatever runs)."""

ProgressCallback = Callable[[int, int, str], object]


@dataclasses.dataclass
class Analysis:
    """What `analyze` found.

    Attributes:
        summary: plain JSON values (the keys are in `limconn.analysis`'s docstring).
        arrays: every number behind the plots, by name; numeric and unicode arrays only.
    """

    summary: dict
    arrays: dict[str, np.ndarray]


def analyses_for(strategy: str) -> tuple[str, ...]:
    """The analyses that mean something for a run of `strategy`."""
    from limconn.strategies import enforcement_of

    if enforcement_of(strategy).skips_steps:
        return tuple(name for name in ANALYSES if name not in STEPWISE_ANALYSES)
    return ANALYSES


def analyze(run, dataset, what: Iterable[str] = ANALYSES,
            on_progress: ProgressCallback | None = None, *, samples: int = 256,
            sequences: int = 4, seed: int = 0) -> Analysis:
    """Runs the analyses `what` of `run` on the first `samples` sequences of `dataset`.

    Trajectories (with their first three principal components) are computed whenever
    trajectories or fixed points are asked for: the fixed points start from them and are
    drawn on their axes. Fixed points are those of a zero input, searched from
    `FIXED_POINT_STARTS` states (fewer above 64 units).

    Args:
        run: a run folder, `limconn.runs.Run`, `limconn.training.RunResult` or `Dynamics`.
        dataset: a `limconn.data.Dataset` of the run's kind, features and outputs (per
            step or per sequence, as the run was trained); any number of steps.
        what: names from `ANALYSES`.
        on_progress: called `(done, total, label)` before each analysis and once at the end.
        samples: how many of the first sequences to analyse (trajectories, lesions, the
            loss); `arrays` keeps the trajectories of as many of them as fit
            `MAX_TRAJECTORY_VALUES`.
        sequences: how many of the first sequences to explain by attributions.
        seed: which trajectory states the fixed-point search starts from.

    Raises:
        ValueError: for an unknown analysis, data that does not fit the run, or an analysis
            that means nothing for the run's strategy (the message names the strategy).
    """
    what = _checked_names(what)
    dynamics = as_dynamics(run)
    dataset.check_fits(dynamics.run_name, dynamics.kind, dynamics.input_dim,
                       dynamics.outputs, dynamics.per_step)
    meaningless = [name for name in what if name not in analyses_for(dynamics.strategy)]
    if meaningless:
        raise ValueError(
            f"{', '.join(meaningless)} mean nothing for a {dynamics.strategy!r} run (it skips "
            f"every step whose features all equal {dynamics.skip_value!r}); choose from "
            f"{list(analyses_for(dynamics.strategy))}. Received: strategy {dynamics.strategy!r}"
        )
    if not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive integer. Received: samples={samples!r}")
    x, y = dataset.x[:samples], dataset.y[:samples]
    weights = None if dataset.weights is None else dataset.weights[:samples]
    stages = [name for name in ANALYSES if name in what]
    if "fixed-points" in what and "trajectories" not in what:
        stages.insert(0, "trajectories")
    progress = _Progress(on_progress, len(stages))
    summary = _empty_summary(dynamics, dataset, len(x), what)
    arrays: dict[str, np.ndarray] = {}
    states = None
    for stage in stages:
        progress(stage)
        if stage == "trajectories":
            states = trajectories(dynamics, x)
            axes = pca(states.hidden, min(PCA_AXES, dynamics.units))
            summary["pca_explained_variance_ratio"] = axes.explained_variance_ratio.tolist()
            kept = max(1, MAX_TRAJECTORY_VALUES // (states.hidden[0].size))
            arrays.update(_trajectory_arrays(states, axes, x, y, weights, kept))
        elif stage == "fixed-points":
            starts = max(32, FIXED_POINT_STARTS * 64**2 // max(dynamics.units, 64) ** 2)
            points = fixed_points(dynamics, states=states, starts=starts, seed=seed)
            summary["fixed_points"] = {"found": len(points.q), "stable": int(points.stable.sum()),
                                       "starts": points.starts, "converged": points.converged}
            arrays.update(_fixed_point_arrays(points, axes))
        elif stage == "spectrum":
            found = spectrum(dynamics)
            summary["spectral_radius"] = found.spectral_radius
            arrays.update({"spectrum/eigenvalues": found.gate_eigenvalues,
                           "spectrum/unit_sign": found.unit_sign,
                           "spectrum/gates": np.array(GATES)})
        elif stage == "lesions":
            found = lesions(dynamics, x, y, weights=weights)
            summary.update(test_loss=found.loss, top_lesions=found.top(TOP_LESIONS),
                           lesion_costly_units=found.costly())
            arrays.update({"lesions/units": found.units, "lesions/delta_loss": found.delta_loss,
                           "lesions/group_names": found.group_names,
                           "lesions/group_units": found.group_units,
                           "lesions/group_delta_loss": found.group_delta_loss})
        else:
            found = attributions(dynamics, x[:sequences])
            summary.update(attribution_completeness_error=found.completeness_error,
                           attribution_evaluations=int(found.evaluations.sum()),
                           attribution_step=found.step)
            arrays.update({"attributions/values": found.values,
                           "attributions/inputs": x[:sequences].astype(np.float32),
                           "attributions/target": found.target,
                           "attributions/output": found.output,
                           "attributions/baseline_output": found.baseline_output,
                           "attributions/evaluations": found.evaluations})
    if summary["test_loss"] is None and "fixed-points" in analyses_for(dynamics.strategy):
        keep_all = np.ones((1, dynamics.units))
        summary["test_loss"] = float(lesion_losses(dynamics, x, y, keep_all, weights)[0])
    progress("done")
    return Analysis(summary, arrays)


def merge(cached: Analysis, new: Analysis) -> Analysis:
    """`new` with what `cached` holds of the analyses `new` did not run, so that analysing
    a few analyses again loses none of the others.

    The analyses `new` computed (its arrays say which: fixed points bring their
    trajectories) replace those of `cached`, summary keys and arrays; the others are kept,
    and `summary["analyses"]` names them all. Kept fixed points are projected again on the
    trajectories' axes in the result (`fixed_points/pca`), so they are drawn where the
    trajectories are; their eigenvalues are their own. When the two are not of the same run
    on the same data and number of sequences, `new` alone is returned.
    """
    same = ("run_id", "dataset", "samples", "timesteps")
    if any(cached.summary.get(key) != new.summary.get(key) for key in same):
        return new
    computed, kept = ({name for name in ANALYSES
                       if any(key.startswith(_ARRAY_GROUPS[name]) for key in found.arrays)}
                      for found in (new, cached))
    kept -= computed
    listed = {*new.summary["analyses"], *cached.summary["analyses"]}
    summary = {**new.summary, "analyses": [name for name in ANALYSES if name in listed]}
    arrays = dict(new.arrays)
    for name in kept:
        summary.update({key: cached.summary.get(key) for key in _SUMMARY_KEYS[name]})
        arrays.update({key: value for key, value in cached.arrays.items()
                       if key.startswith(_ARRAY_GROUPS[name])})
    if "fixed-points" in kept and "trajectories" in computed:
        centred = arrays["fixed_points/hidden"] - arrays["pca/mean"]
        arrays["fixed_points/pca"] = centred @ arrays["pca/components"].T
    return Analysis(summary, arrays)


def save(folder: str | os.PathLike, analysis: Analysis) -> None:
    """Writes `analysis.npz` then `analysis.json` into `folder` (created if missing), each
    atomically: a reader finds the summary only once the arrays are whole."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **analysis.arrays)
    write_atomically(folder / ARRAYS_FILE, buffer.getvalue())
    text = json.dumps(analysis.summary, indent=2, allow_nan=True) + "\n"
    write_atomically(folder / SUMMARY_FILE, text.encode("utf-8"))


def load(folder: str | os.PathLike) -> Analysis:
    """Reads what `save` wrote, with JSON and NumPy only (`allow_pickle=False`).

    Raises:
        ValueError: if the folder holds no analysis, or a broken one.
    """
    folder = Path(folder)
    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError as error:
        raise ValueError(f"No analysis in {folder.name}: {Path(error.filename).name} is "
                         "missing") from error
    except (OSError, ValueError) as error:
        raise ValueError(f"The analysis in {folder.name} is broken: {error}") from error
    return Analysis(summary, arrays)


def _checked_names(what: Iterable[str]) -> tuple[str, ...]:
    names = (what,) if isinstance(what, str) else tuple(what)
    unknown = [name for name in names if name not in ANALYSES]
    if unknown or not names:
        raise ValueError(f"Choose analyses from {list(ANALYSES)}. Received: {list(names)}")
    return tuple(name for name in ANALYSES if name in names)


def _empty_summary(dynamics: Dynamics, dataset, samples: int, what: tuple[str, ...]) -> dict:
    """Every summary key, `None` where its analysis is not run."""
    return {
        "run_id": dynamics.run_id, "run_name": dynamics.run_name,
        "strategy": dynamics.strategy, "kind": dynamics.kind, "units": dynamics.units,
        "dataset": dataset.name, "samples": samples, "timesteps": dataset.timesteps,
        "analyses": list(what), "loss_name": LOSS_AND_METRIC[dynamics.kind][0],
        "test_loss": None, "pca_explained_variance_ratio": None, "fixed_points": None,
        "spectral_radius": None, "top_lesions": None, "lesion_costly_units": None,
        "attribution_completeness_error": None, "attribution_evaluations": None,
        "attribution_step": None,
    }


def _trajectory_arrays(states, axes, x, y, weights, kept: int) -> dict[str, np.ndarray]:
    """The first `kept` sequences' states, inputs and targets; the PCA's axes."""
    arrays = {
        "trajectories/hidden": states.hidden[:kept].astype(np.float32),
        "trajectories/cell": states.cell[:kept].astype(np.float32),
        "trajectories/outputs": states.outputs[:kept].astype(np.float32),
        "trajectories/inputs": np.asarray(x[:kept], np.float32),
        "trajectories/targets": np.asarray(y[:kept]),
        "pca/components": axes.components,
        "pca/mean": axes.mean,
        "pca/explained_variance": axes.explained_variance,
        "pca/explained_variance_ratio": axes.explained_variance_ratio,
        "pca/trajectories": axes.project(states.hidden[:kept]).astype(np.float32),
    }
    if weights is not None:
        arrays["trajectories/weights"] = np.asarray(weights[:kept], np.float32)
    return arrays


def _fixed_point_arrays(points, axes) -> dict[str, np.ndarray]:
    return {
        "fixed_points/hidden": points.hidden, "fixed_points/cell": points.cell,
        "fixed_points/q": points.q, "fixed_points/stable": points.stable,
        "fixed_points/eigenvalues": points.eigenvalues, "fixed_points/outputs": points.outputs,
        "fixed_points/input": points.input, "fixed_points/pca": axes.project(points.hidden),
    }


class _Progress:
    """Counts stages for `on_progress(done, total, label)`."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def __call__(self, label: str) -> None:
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total, label)
        self.done += 1
