"""The job queue: never more than N at once, every job ends, a failing or killed job says why."""

import os
import signal
import time

import pytest

from limconn import data, presets
from limconn.jobs import FAILED, QUEUED, RUNNING, TERMINAL, JobQueue
from limconn.runs import RunStore
from limconn.settings import Limits
from limconn.training import TrainConfig


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=256, timesteps=10)


def _wait_until(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _most_at_once(snapshots) -> int:
    moments = sorted([(s.started, 1) for s in snapshots] + [(s.ended, -1) for s in snapshots])
    running = most = 0
    for _, change in moments:
        running += change
        most = max(most, running)
    return most


def test_queue_runs_at_most_n_at_once_saves_runs_and_ends_every_job(dataset, tmp_path):
    store = RunStore(tmp_path)
    queue = JobQueue(max_concurrent=2, store=store)
    design = presets.random(2, 4, density=0.5, seed=0)
    try:
        jobs = [queue.submit(TrainConfig(epochs=3, batch_size=64), design, dataset,
                             name=f"run {n}") for n in range(4)]
        jobs.append(queue.submit(
            TrainConfig(epochs=2, strategy="random_dynamic", strategy_options={"rate": 2.0}),
            design, dataset,
        ))
        assert [job.snapshot().position for job in jobs] == [0, 0, 1, 2, 3]
        assert jobs[2].snapshot().status == QUEUED
        for job in jobs:
            assert job.wait(timeout=300)
    finally:
        queue.close()
    done = [job.snapshot() for job in jobs[:4]]
    assert [s.status for s in done] == ["done"] * 4
    assert 1 <= _most_at_once(done) <= 2  # two were handed out at once: positions above
    assert all(len(s.history) == 3 and s.run_id for s in done)
    assert sorted(info.name for info in store.list()) == [f"run {n}" for n in range(4)]
    failed = jobs[-1].snapshot()
    assert failed.status == FAILED and "rate must be in [0, 1). Received: rate=2.0" in failed.error


def test_stopping_a_queued_job_ends_it_and_a_running_one_keeps_its_partial_run(
    dataset, tmp_path
):
    store = RunStore(tmp_path)
    queue = JobQueue(max_concurrent=1, store=store)
    design = presets.dense(2, 4)
    try:
        first = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset)
        second = queue.submit(TrainConfig(epochs=1), design, dataset)
        assert second.snapshot().position == 1
        second.stop()
        assert second.wait(timeout=5) and second.status == "stopped"
        _wait_until(lambda: first.snapshot().history)
        first.stop()
        assert first.wait(timeout=60)
    finally:
        queue.close()
    snapshot = first.snapshot()
    assert snapshot.status == "stopped" and snapshot.error == "stopped by request"
    run = store.load(snapshot.run_id, "default")
    assert run.info.status == "stopped" and 1 <= len(run.history) < 200
    assert all(job.status in TERMINAL for job in (first, second))


def test_a_killed_worker_fails_its_job_and_the_queue_goes_on(dataset):
    queue = JobQueue(max_concurrent=1)
    design = presets.dense(2, 4)
    try:
        doomed = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset)
        _wait_until(lambda: doomed.status == RUNNING)
        os.kill(queue._workers[0].process.pid, signal.SIGKILL)
        assert doomed.wait(timeout=30)
        assert doomed.status == FAILED and "ended unexpectedly" in doomed.snapshot().error
        after = queue.submit(TrainConfig(epochs=1), design, dataset)
        assert after.wait(timeout=120) and after.status == "done"
    finally:
        queue.close()


def test_submit_enforces_the_servers_limits(dataset):
    queue = JobQueue(max_concurrent=1, limits=Limits(max_epochs=5))
    with pytest.raises(ValueError, match="at most 5 epochs. Received: 6"):
        queue.submit(TrainConfig(epochs=6), presets.dense(2, 4), dataset)
    with pytest.raises(ValueError, match="max_concurrent.*0"):
        JobQueue(max_concurrent=0)
    queue.close()
    with pytest.raises(ValueError, match="closed"):
        queue.submit(TrainConfig(epochs=1), presets.dense(2, 4), dataset)
