"""Sweeps: one run folder per (design, seed), one model per seed, here and on a local Ray.

Ray starts once for this module (2 CPUs) and is shut down at its end; each of its worker
processes imports TensorFlow once, so the first Ray sweep takes the longest.
"""

import dataclasses
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import ray

from limconn import data, presets, runs, sweep
from limconn.training import TrainConfig, train

CONFIG = TrainConfig(epochs=2, batch_size=32)
DESIGNS = {"random": presets.random(2, 6, density=0.5, seed=1), "banded": presets.banded(2, 5)}
SEEDS = (0, 3)


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=200, timesteps=10)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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


def test_a_stop_cancels_the_ray_tasks_and_keeps_their_partial_runs(dataset, tmp_path,
                                                                   local_ray):
    """Both groups train at once (2 CPUs); the stop reaches them as `ray.cancel`."""
    stop = threading.Event()
    threading.Timer(6.0, stop.set).start()
    started = time.monotonic()
    results = sweep.run_sweep(TrainConfig(epochs=10_000, batch_size=32), _plan(tmp_path),
                              dataset, backend="ray", stop_event=stop)
    assert time.monotonic() - started < 120
    assert [result.status for result in results] == ["stopped"] * 4
    for result in results:
        run = runs.read_run_folder(result.run.folder)
        assert run.info.stop_reason == "stopped by request"
        assert 1 <= len(run.history) < 10_000
