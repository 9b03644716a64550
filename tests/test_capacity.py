"""What a shared server can afford: the training-memory estimate against a real worker's
peak memory, new workspaces per hour, and a dataset cache bounded in bytes."""

import numpy as np
import pytest

from limconn import data, presets
from limconn.capacity import MB, DatasetCache, NewWorkspaces, training_memory_bytes
from limconn.jobs import DONE, JobQueue
from limconn.settings import Limits
from limconn.trainconfig import TrainConfig


def _regression(samples: int, timesteps: int, features: int) -> data.Dataset:
    rng = np.random.default_rng(0)
    return data.Dataset(name="noise", description="noise", kind="regression",
                        x=rng.standard_normal((samples, timesteps, features), np.float32),
                        y=rng.standard_normal((samples, 1), np.float32))


def _peak_rss_of_a_worker(tmp_path, dataset, batch_size: int, units: int) -> int:
    """Trains one job in a fresh worker process; its peak resident memory, in bytes."""
    queue = JobQueue(limits=Limits(max_jobs=1), home=tmp_path)
    try:
        job = queue.submit(TrainConfig(epochs=1, batch_size=batch_size),
                           presets.dense(dataset.input_dim, units), dataset, "ws")
        assert job.wait(timeout=200) and job.status == DONE, job.snapshot().error
        status = (f"/proc/{queue._workers[0].process.pid}/status")
        with open(status) as stream:
            [peak_kb] = [line.split()[1] for line in stream if line.startswith("VmHWM:")]
    finally:
        queue.close()
    return int(peak_kb) * 1024


SIZES = {"small": (256, 20, 4, 64, 8), "large": (3000, 200, 64, 512, 64)}
"""samples, timesteps, features, batch size, units."""


def test_the_memory_estimate_follows_a_workers_measured_peak(tmp_path):
    """The backend's own memory dominates a worker (a small job peaks at ~545 MB on JAX,
    ~840 MB on TensorFlow), so the test compares how much more a large job takes than a
    small one, measured and estimated (739 MB estimated; measured 591 MB on JAX, 644 MB on
    TensorFlow)."""
    peaks, estimates = {}, {}
    for size, (samples, timesteps, features, batch, units) in SIZES.items():
        dataset = _regression(samples, timesteps, features)
        peaks[size] = _peak_rss_of_a_worker(tmp_path / size, dataset, batch, units)
        estimates[size] = training_memory_bytes(samples, timesteps, features, batch, [units])
    measured = peaks["large"] - peaks["small"]
    estimated = estimates["large"] - estimates["small"]
    print(f"peak RSS {peaks}; estimates {estimates}; "
          f"difference measured {measured / MB:.0f} MB, estimated {estimated / MB:.0f} MB")
    assert 0.5 * estimated <= measured <= 1.25 * estimated


def test_new_workspaces_are_capped_per_hour_with_a_plain_message():
    opened = NewWorkspaces(per_hour=2)
    opened.admit(now=0.0)
    opened.admit(now=10.0)
    with pytest.raises(ValueError, match="The server is busy: 2 new workspaces were opened in "
                                         "the past hour, the most it opens; try again later"):
        opened.admit(now=20.0)
    opened.admit(now=3600.0)  # the first one is an hour old now


def test_the_dataset_cache_is_bounded_in_bytes_and_keeps_the_most_recent():
    def dataset(megabytes):
        return _regression(samples=megabytes * MB // (10 * 4), timesteps=10, features=1)

    cache = DatasetCache(max_bytes=3 * MB)
    made = []

    def make(key, megabytes):
        return cache.get(key, lambda: made.append(key) or dataset(megabytes))

    first = make("a", 1)
    assert make("a", 1) is first and made == ["a"]  # made once, then kept
    make("b", 1)
    make("a", 1)  # "a" is now the most recent
    make("c", 1)  # 3 MB plus the targets: "b", the least recent, goes
    assert cache.nbytes <= 3 * MB
    make("a", 1)
    make("b", 1)
    assert made == ["a", "b", "c", "b"]
    make("huge", 4)  # larger than the whole cache: made, not kept
    make("huge", 4)
    assert made.count("huge") == 2 and cache.nbytes <= 3 * MB
