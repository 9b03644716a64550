"""The job queue: never more than N at once, every job ends, a failing job says why."""

import threading

import pytest

from limconn import data, presets
from limconn.jobs import FAILED, QUEUED, TERMINAL, JobQueue
from limconn.training import Limits, TrainConfig, train


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=256, timesteps=10)


def test_queue_runs_at_most_n_at_once_and_ends_every_job(dataset):
    lock = threading.Lock()
    running, peak = [0], [0]

    def counting_train(*args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            return train(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    queue = JobQueue(max_concurrent=2, trainer=counting_train)
    design = presets.random(2, 4, density=0.5, seed=0)
    jobs = [queue.submit(TrainConfig(epochs=2, batch_size=64), design, dataset)
            for _ in range(4)]
    jobs.append(queue.submit(
        TrainConfig(epochs=2, strategy="random_dynamic", strategy_options={"rate": 2.0}),
        design, dataset,
    ))
    assert any(job.snapshot().status == QUEUED and job.snapshot().position >= 1 for job in jobs)
    for job in jobs:
        assert job.wait(timeout=300)
    assert peak[0] == 2
    assert [job.status for job in jobs[:4]] == ["done"] * 4
    assert all(len(job.snapshot().history) == 2 for job in jobs[:4])
    failed = jobs[-1].snapshot()
    assert failed.status == FAILED and "rate must be in [0, 1). Received: rate=2.0" in failed.error


def test_stopping_a_queued_job_ends_it_and_a_running_one_keeps_its_partial_run(dataset):
    queue = JobQueue(max_concurrent=1)
    design = presets.dense(2, 4)
    first = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset)
    while first.status == QUEUED:
        first.wait(timeout=0.05)
    second = queue.submit(TrainConfig(epochs=1), design, dataset)
    assert second.snapshot().position == 1
    second.stop()
    assert second.wait(timeout=5) and second.status == "stopped"
    while not first.snapshot().history:
        first.wait(timeout=0.1)
    first.stop()
    assert first.wait(timeout=60)
    assert first.status == "stopped" and first.result.history
    assert all(job.status in TERMINAL for job in (first, second))


def test_submit_enforces_the_servers_limits(dataset):
    queue = JobQueue(max_concurrent=1, limits=Limits(max_epochs=5))
    with pytest.raises(ValueError, match="at most 5 epochs. Received: 6"):
        queue.submit(TrainConfig(epochs=6), presets.dense(2, 4), dataset)
    with pytest.raises(ValueError, match="max_concurrent.*0"):
        JobQueue(max_concurrent=0)
