"""Sweeps: one run folder per (design, seed), one model per seed, here and on a local Ray.

Ray starts once for this module (2 CPUs, `local_ray` in conftest) and is shut down at its
end. The stop tests watch and hold the Ray tasks through `tests/raytasks.py`.
"""

import dataclasses
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import ray

from limconn import data, presets, raystop, runs, sweep
from limconn.training import TrainConfig, train
from tests import raytasks

CONFIG = TrainConfig(epochs=2, batch_size=32)
DESIGNS = {"random": presets.random(2, 6, density=0.5, seed=1), "banded": presets.banded(2, 5)}
SEEDS = (0, 3)


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=200, timesteps=10)


def _plan(folder):
    return [
        sweep.SweepRun(design, seed, folder / f"{stem}-seed{seed}")
        for stem, design in DESIGNS.items()
        for seed in SEEDS
    ]


def _history(run):
    return run.history.drop(columns="seconds")


def test_local_sweep_writes_a_readable_run_folder_per_design_and_seed(dataset, tmp_path):
    plan = _plan(tmp_path)
    seen, events = [], []
    results = sweep.run_sweep(CONFIG, plan, dataset, on_result=seen.append,
                              on_progress=lambda run, event: events.append((run, event)))
    assert [result.run for result in results] == plan
    assert sorted(result.run.folder for result in seen) == sorted(run.folder for run in plan)
    assert {(run.seed, event.seed) for run, event in events} == {(0, 0), (3, 3)}
    for result in results:
        run = runs.read_run_folder(result.run.folder)
        assert (run.info.status, result.status) == ("done", "done")
        assert run.config == dataclasses.replace(CONFIG, seed=result.run.seed)
        assert run.connectivity == result.run.design
        assert run.info.name.endswith(f"seed {result.run.seed}")
        assert result.metrics == run.record["metrics"]

    # The branch of a group is the run alone: the banded design with seed 3, trained alone.
    alone = train(dataclasses.replace(CONFIG, seed=3), DESIGNS["banded"], dataset)
    swept = runs.read_run_folder(tmp_path / "banded-seed3")
    expected = pd.DataFrame(alone.history).drop(columns="seconds")[_history(swept).columns]
    pd.testing.assert_frame_equal(_history(swept), expected, rtol=1e-5)


def test_a_sweep_refuses_taken_folders_and_unfitting_designs_before_training(dataset, tmp_path):
    plan = _plan(tmp_path)
    (tmp_path / "banded-seed0").mkdir()
    with pytest.raises(ValueError, match="banded-seed0 already there"):
        sweep.run_sweep(CONFIG, plan, dataset)
    with pytest.raises(ValueError, match="random-seed0 more than once"):
        sweep.run_sweep(CONFIG, [plan[0], plan[0]], dataset)
    wide = sweep.SweepRun(presets.dense(3, 4), 0, tmp_path / "wide")
    with pytest.raises(ValueError, match="3 inputs but the data has 2 features"):
        sweep.run_sweep(CONFIG, [wide], dataset)
    with pytest.raises(ValueError, match="backend='dask'"):
        sweep.run_sweep(CONFIG, plan[:1], dataset, backend="dask")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["banded-seed0"]


def test_backend_ray_without_ray_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without Ray
    with pytest.raises(ValueError, match="pip install -r requirements-ray.txt"):
        sweep.check_backend("ray")


def test_ray_sweep_writes_the_same_runs_as_the_local_backend(dataset, tmp_path, local_ray):
    on_ray = sweep.run_sweep(CONFIG, _plan(tmp_path / "ray"), dataset, backend="ray")
    assert ray.is_initialized()  # a sweep leaves the Ray it found running
    local = sweep.run_sweep(CONFIG, _plan(tmp_path / "local"), dataset)
    assert len(on_ray) == len(local) == 4
    for ray_result, local_result in zip(on_ray, local, strict=True):
        assert ray_result.run.folder.parent == tmp_path / "ray"
        assert ray_result.run.folder.name == local_result.run.folder.name
        ray_run = runs.read_run_folder(ray_result.run.folder)
        local_run = runs.read_run_folder(local_result.run.folder)
        assert ray_run.info.status == local_run.info.status == "done"
        pd.testing.assert_frame_equal(_history(ray_run), _history(local_run), rtol=1e-5)
        for name, value in local_run.weights.items():
            np.testing.assert_allclose(ray_run.weights[name], value, rtol=1e-4, atol=1e-6)


LONG = TrainConfig(epochs=10_000, batch_size=32)
"""A sweep that only a stop ends."""


def _run_sweep_in_background(pool, plan, dataset, stop):
    return pool.submit(sweep.run_sweep, LONG, plan, dataset, backend="ray", stop_event=stop)


def _assert_stopped_partial_runs(results):
    for result in results:
        assert result.status == "stopped"
        run = runs.read_run_folder(result.run.folder)
        assert (run.info.status, run.info.stop_reason) == ("stopped", "stopped by request")
        assert 1 <= len(run.history) < LONG.epochs
        assert result.metrics["epochs_run"] == len(run.history)


def test_a_stop_ends_training_ray_tasks_after_their_batch_and_starts_no_more(
    dataset, tmp_path, local_ray, monkeypatch
):
    """Three groups on 2 CPUs: two train, the third waits for a CPU. The stop ends the two
    with their partial runs; the third then starts, reads its stop and trains nothing."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(sweep, "_ray_group", raytasks.watched(sweep._ray_group, signals))
    plan = [sweep.SweepRun(design, seed, tmp_path / "runs" / f"{stem}-seed{seed}")
            for stem, design in DESIGNS.items() for seed in (0, 3, 7)]
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        try:
            swept = _run_sweep_in_background(pool, plan, dataset, stop)
            raytasks.wait_until(lambda: len(raytasks.files(signals, "training")) == 2)
            assert len(raytasks.files(signals, "started")) == 2  # the third waits for a CPU
            stop.set()
            results = swept.result(timeout=120)
        finally:
            stop.set()
    trained = {result.run.seed for result in results}
    assert len(trained) == 2 and len(results) == 4
    assert [result.run for result in results] == [run for run in plan if run.seed in trained]
    _assert_stopped_partial_runs(results)
    assert len(raytasks.files(signals, "started")) == 3  # it started after the stop...
    assert len(raytasks.files(signals, "training")) == 2  # ...and did not train
    assert not any(run.folder.exists() for run in plan if run.seed not in trained)


def test_a_stop_during_the_ray_tasks_start_up_ends_them_without_training(
    dataset, tmp_path, local_ray, monkeypatch
):
    """The tasks are held in their start-up (as while they unpickle their data or import
    TensorFlow) until their stop is on the board: they end without training or a run."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(sweep, "_ray_group",
                        raytasks.watched(sweep._ray_group, signals, hold_start=True))
    plan = _plan(tmp_path / "runs")
    stop = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        try:
            swept = _run_sweep_in_background(pool, plan, dataset, stop)
            raytasks.wait_until(lambda: len(raytasks.files(signals, "started")) == 2)
            stop.set()
            assert swept.result(timeout=60) == []
        finally:
            stop.set()
    assert raytasks.files(signals, "training") == []
    assert not (tmp_path / "runs").exists()


def test_a_sweep_stopped_before_it_begins_starts_no_ray_task(dataset, tmp_path, local_ray,
                                                             monkeypatch):
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(sweep, "_ray_group", raytasks.watched(sweep._ray_group, signals))
    stop = threading.Event()
    stop.set()
    assert sweep.run_sweep(LONG, _plan(tmp_path / "runs"), dataset, backend="ray",
                           stop_event=stop) == []
    assert raytasks.files(signals, "started") == []
    assert not (tmp_path / "runs").exists()


def test_a_ray_task_that_ignores_its_stop_is_cancelled_by_force_after_the_grace(
    dataset, tmp_path, local_ray, monkeypatch, caplog
):
    """The last resort (this kills a Ray worker, so it runs last in the module)."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(sweep, "_ray_group",
                        raytasks.watched(sweep._ray_group, signals, ignore_stop=True))
    monkeypatch.setattr(raystop, "STOP_GRACE_SECONDS", 0.5)
    stop = threading.Event()
    caplog.set_level(logging.WARNING, logger="limconn.raystop")
    with ThreadPoolExecutor(1) as pool:
        try:
            swept = _run_sweep_in_background(pool, _plan(tmp_path / "runs")[:1], dataset, stop)
            raytasks.wait_until(lambda: raytasks.files(signals, "started"))
            started = time.monotonic()
            stop.set()
            assert swept.result(timeout=60) == []
        finally:
            stop.set()
    assert time.monotonic() - started < raytasks.HOLD_SECONDS / 2
    assert "Cancelling the stopped Ray task group 1 (seed 0) by force" in caplog.text
    assert not (tmp_path / "runs").exists()
