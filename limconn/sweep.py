"""Sweeps: many (design, seed) runs, one model per seed, here or on Ray. No Streamlit here.

A sweep trains every run of a plan and writes one run folder each (`limconn.runs`). Runs
with the same seed train together as the branches of one model
(`limconn.training.train_group`): one pass over the data and one step per batch for all
of them, each branch still equal to a run of its own. The groups run one after another in
this process (`backend="local"`) or as parallel Ray tasks (`backend="ray"`, the optional
extra of `requirements-ray.txt`). Either way a group writes its run folders where it
trained, so no model crosses processes.

Ray starts on this machine (`ray.init()`), or joins the cluster at `$LIMCONN_RAY_ADDRESS`
when that is set (its nodes need limconn and its requirements installed). A sweep that
started Ray shuts it down when it ends; one that found Ray running leaves it running.

Stopping: setting `stop_event` ends the running groups after their current batch and
starts no more. On Ray the stop is written on a stop board that every task reads
(`limconn.raystop`), not sent as `ray.cancel`'s Ctrl-C, which a task still importing
TensorFlow would lose: a task reads it as it starts and again after its start-up (and if it
is there, ends without training), then after every batch. A task still running
`raystop.STOP_GRACE_SECONDS` after the stop is cancelled by force, its runs lost. Every group
that started training writes the partial runs of all its branches; a group stopped before it
trained writes none.

Example:

>>> from limconn import data, presets
>>> dataset = data.make_task("adding", num_samples=500)
>>> plan = [SweepRun(presets.random(2, 16, density=d, seed=0), seed, f"sweep/d{d}-seed{seed}")
...         for d in (0.25, 0.5) for seed in (0, 1)]
>>> results = run_sweep(TrainConfig(epochs=2), plan, dataset)  # doctest: +SKIP
>>> [result.status for result in results]  # doctest: +SKIP
['done', 'done', 'done', 'done']
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from limconn import runs
from limconn.connectivity import Connectivity
from limconn.data import Dataset
from limconn.trainconfig import Progress, TrainConfig

BACKENDS = ("local", "ray")
RAY_ADDRESS_VARIABLE = "LIMCONN_RAY_ADDRESS"
_RAY_POLL_SECONDS = 0.2


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: a design, a seed, and the run folder to write.

    Args:
        design: the design to train.
        seed: the run's seed (`TrainConfig.seed`).
        folder: the run folder to create; it must not exist yet.
        name: the run's display name; `""` gives `runs.default_name` and the seed.
    """

    design: Connectivity
    seed: int
    folder: Path
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"A run's seed must be an integer. Received: seed={self.seed!r}")
        object.__setattr__(self, "folder", Path(self.folder))


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What one run of a sweep left in its folder (read the whole run with
    `runs.read_run_folder(result.run.folder)`).

    Attributes:
        run: the planned run.
        status: `"done"` or `"stopped"`.
        stop_reason: why it stopped, or `""`.
        metrics: final and best values, epochs run, wall time (`RunResult.metrics`).
        max_masked_weight: the largest |weight| at a masked position (0.0), or `None`.
    """

    run: SweepRun
    status: str
    stop_reason: str
    metrics: dict
    max_masked_weight: float | None


def group_by_seed(plan: Sequence[SweepRun]) -> dict[int, list[SweepRun]]:
    """The runs of each seed, seeds and runs in the order of `plan`: one group each."""
    groups: dict[int, list[SweepRun]] = {}
    for run in plan:
        groups.setdefault(run.seed, []).append(run)
    return groups


def check_backend(backend: str) -> None:
    """Checks that `backend` is one of `BACKENDS` and can run here (Ray is installed).

    Raises:
        ValueError: naming the backend and, for Ray, how to install it.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
    if backend == "ray":
        try:
            import ray  # noqa: F401 (an optional extra, imported only for this backend)
        except ImportError:
            raise ValueError(
                "backend='ray' needs Ray, an optional extra: pip install -r "
                "requirements-ray.txt. Received: backend='ray' without the ray package."
            ) from None


def train_and_save_group(
    config: TrainConfig,
    group: Sequence[SweepRun],
    dataset: Dataset,
    workspace: str = "default",
    on_progress: Callable[[SweepRun, Progress], Any] | None = None,
    stop_event: threading.Event | None = None,
    max_seconds: float | None = None,
) -> list[SweepResult]:
    """Trains runs of one seed as one model (`train_group`) and writes their run folders.

    This is what a worker runs, wherever it is: this process, a Ray task, a job queue's
    worker process (the trained models stay where they were trained).

    Args:
        config: the settings of every run; its seed is replaced by the group's.
        group: runs that all have the same seed.
        dataset: the data.
        workspace: recorded in each `run.json` (a safe folder name).
        on_progress: called with the run and its `Progress` after every batch and epoch.
        stop_event: when set, the group stops after the current batch and writes its
            partial runs.
        max_seconds: stop the group (keeping its runs) once this much time has passed.

    Returns:
        One `SweepResult` per run, in order.

    Raises:
        ValueError: if the runs do not share one seed, or as `train_group`.
    """
    seeds = sorted({run.seed for run in group})
    if len(seeds) != 1:
        raise ValueError(f"A group's runs must share one seed. Received: seeds {seeds}")
    report = None
    if on_progress is not None:
        def report(event: Progress) -> None:
            on_progress(group[event.branch], event)
    from limconn.training import train_group  # loads TensorFlow: only when training

    results = train_group(
        dataclasses.replace(config, seed=seeds[0]), [run.design for run in group], dataset,
        report, stop_event, max_seconds,
    )
    swept = []
    for run, result in zip(group, results, strict=True):
        name = run.name or f"{runs.default_name(result)}, seed {run.seed}"
        runs.write_run_folder(
            result, run.folder, run_id=runs.new_run_id(), name=name, workspace=workspace
        )
        swept.append(SweepResult(
            run, result.status, result.stop_reason, result.metrics, result.max_masked_weight
        ))
    return swept


def run_sweep(
    config: TrainConfig,
    plan: Sequence[SweepRun],
    dataset: Dataset,
    backend: str = "local",
    workspace: str = "default",
    on_progress: Callable[[SweepRun, Progress], Any] | None = None,
    on_result: Callable[[SweepResult], Any] | None = None,
    stop_event: threading.Event | None = None,
    max_seconds: float | None = None,
) -> list[SweepResult]:
    """Trains every run of `plan`, one model per seed, and writes every run folder.

    Args:
        config: the settings of every run (its seed is each run's own).
        plan: the runs; their folders must be distinct and not exist yet.
        dataset: the data, the same for every run.
        backend: `"local"` (groups one after another in this process) or `"ray"` (groups
            as parallel Ray tasks; see the module docstring).
        workspace: recorded in each `run.json`.
        on_progress: called with a run and its `Progress` after every batch and epoch
            (local backend; Ray tasks report only when they end).
        on_result: called with each run's `SweepResult` as soon as its group has ended.
        stop_event: when set, running groups stop after their batch and no more start.
        max_seconds: each group's time limit (as `train_group`'s): a group stops, keeping
            its runs, once this much time has passed since its first batch.

    Returns:
        The `SweepResult`s of the runs that were trained, in the order of `plan`; a stop
        leaves out the runs of groups that had not started training.

    Raises:
        ValueError: for an empty plan, a folder that exists or appears twice, a design that
            does not fit the data, or a backend that is unknown or not installed.
    """
    check_backend(backend)
    runs.check_name(workspace, "workspace")
    if not plan:
        raise ValueError(f"A sweep needs at least one run. Received: plan={plan!r}")
    folders = [run.folder for run in plan]
    repeated = sorted({str(folder) for folder in folders if folders.count(folder) > 1})
    existing = [str(folder) for folder in folders if folder.exists()]
    if repeated or existing:
        raise ValueError(
            "Every run of a sweep needs a new folder of its own. Received: "
            f"{', '.join(repeated)} more than once; {', '.join(existing)} already there."
        )
    for run in plan:
        if run.design.input_dim != dataset.input_dim:
            raise ValueError(
                f"The design for {run.folder} has {run.design.input_dim} inputs but the data "
                f"has {dataset.input_dim} features."
            )
    groups = list(group_by_seed(plan).values())
    stop_event = stop_event or threading.Event()
    run_groups = _run_local if backend == "local" else _run_on_ray
    results = run_groups(config, groups, dataset, workspace, on_progress, on_result, stop_event,
                         max_seconds)
    order = {run.folder: index for index, run in enumerate(plan)}
    return sorted(results, key=lambda result: order[result.run.folder])


def _run_local(config, groups, dataset, workspace, on_progress, on_result, stop_event,
               max_seconds):
    results = []
    for group in groups:
        if stop_event.is_set():
            break
        for result in train_and_save_group(
            config, group, dataset, workspace, on_progress, stop_event, max_seconds
        ):
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


@contextlib.contextmanager
def ray_connection():
    """Connects to Ray for the `with` block, unless it is connected already.

    Starts Ray on this machine, or joins `$LIMCONN_RAY_ADDRESS` when that is set, and shuts
    it down at the end of the block if it started it. Enter it in the main thread (Ray
    installs its signal handlers there); `run_sweep` enters it by itself otherwise.

    Raises:
        ValueError: if Ray is not installed.
    """
    check_backend("ray")
    import ray  # an optional extra, imported only for this backend

    if ray.is_initialized():
        yield
        return
    address = os.environ.get(RAY_ADDRESS_VARIABLE) or None
    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield
    finally:
        ray.shutdown()


def _run_on_ray(config, groups, dataset, workspace, on_progress, on_result, stop_event,
                max_seconds):
    """One Ray task per group; a stop goes on their stop board (see `limconn.raystop`)."""
    import ray  # an optional extra, imported only for this backend

    from limconn.raystop import RayStop

    if stop_event.is_set():  # stopped before it began: start nothing (as `_run_local`)
        return []
    with ray_connection():
        stops = RayStop()
        try:
            task = ray.remote(_ray_group)
            dataset_ref = ray.put(dataset)
            keys = {}
            for index, group in enumerate(groups):
                key = f"group {index + 1} (seed {group[0].seed})"
                keys[task.remote(config, group, dataset_ref, workspace, max_seconds,
                                 stops.flag(key))] = key
            pending, results, stopping = list(keys), [], False
            while pending:
                if stop_event.is_set() and not stopping:
                    for ref in pending:
                        stops.stop(keys[ref], ref)
                    stopping = True
                done, pending = stops.wait(pending, timeout=_RAY_POLL_SECONDS)
                for ref in done:
                    try:
                        group_results = ray.get(ref)
                    except ray.exceptions.RayError:
                        if ref in stops.cancelled:  # the last resort: its runs are lost
                            continue
                        raise
                    for result in group_results:
                        results.append(result)
                        if on_result is not None:
                            on_result(result)
            return results
        finally:
            stops.close()


def _ray_group(config, group, dataset, workspace, max_seconds, flag) -> list[SweepResult]:
    """A Ray task: one group, trained and saved, or none of it if stopped before training;
    `flag` is its stop (`limconn.raystop.run_task`)."""
    from limconn.raystop import run_task

    return run_task(flag, lambda stop: train_and_save_group(
        config, group, dataset, workspace, on_progress=lambda run, event: flag.training(),
        stop_event=stop, max_seconds=max_seconds), stopped=list)
