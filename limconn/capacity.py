"""What a shared server can afford: a job's training memory, new workspaces per hour, and a
byte-capped cache of datasets.

Every per-workspace limit can be multiplied by opening fresh browser tabs, so the server
also needs caps no visitor can multiply: the job queue's own (`JobQueue.submit`), and the
two kept here, for the two places where a visitor costs the server process something.
No TensorFlow and no Streamlit here.

Example:

>>> need = training_memory_bytes(samples=10_000, timesteps=100, features=8, batch_size=64,
...                              units=[32])
>>> round(need / MB)  # MB on top of the Keras backend's own
101
>>> opened = NewWorkspaces(per_hour=1)
>>> opened.admit(now=0.0)
>>> opened.admit(now=60.0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: The server is busy: 1 new workspace was opened in the past hour, ...
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

MB = 1024 * 1024
FLOAT_BYTES = 4
GATES = 4
DATA_COPIES = 3
"""Copies of the data a worker holds while training: the unspooled arrays and Keras's
tensors of them (measured: 2.2 copies for 150 MB of data, on TF 2.21 / CPU)."""
ACTIVATION_COPIES = 3
"""Floats kept per gate, unit, step and sequence of a batch for the backward pass
(measured: 2.0 for a batch of 480 × 200 steps × 128 units, on TF 2.21 / CPU; on JAX the
estimate's margin is wider: `tests/test_capacity.py` measured 591 MB where it estimates
739 MB, TensorFlow 644 MB)."""


def training_memory_bytes(samples: int, timesteps: int, features: int, batch_size: int,
                          units: Sequence[int], step_targets: int = 0) -> int:
    """An estimate of the memory one job needs to train, on top of its backend's own.

    The one rule the server checks a job against (`Limits.check_job`) before queueing it:
    the data, `samples × timesteps × (features + step_targets)` floats, `DATA_COPIES` times,
    plus the
    activations kept for the backward pass, `batch × timesteps × units × gates` floats per
    design (branch), `ACTIVATION_COPIES` times. `tests/test_capacity.py` compares it with a
    worker's measured peak memory at two sizes.

    Args:
        samples, timesteps, features: the dataset's shape.
        batch_size: sequences per step.
        units: each design's units (one entry per branch of the job).
        step_targets: values per step of per-step targets and weights (outputs or one
            label, plus one weight); 0 for one target per sequence, which is negligible.
    """
    data = samples * timesteps * (features + step_targets) * FLOAT_BYTES * DATA_COPIES
    activations = (min(batch_size, samples) * timesteps * sum(units) * GATES * FLOAT_BYTES
                   * ACTIVATION_COPIES)
    return data + activations


class NewWorkspaces:
    """Counts the anonymous workspaces a server opens, refusing more than `per_hour`.

    Thread-safe: every session of the server asks the one instance.

    Args:
        per_hour: the most workspaces opened in any hour (`Limits.max_new_workspaces_per_hour`).
    """

    def __init__(self, per_hour: int):
        self.per_hour = per_hour
        self._opened: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def admit(self, now: float | None = None) -> None:
        """Counts one new workspace, or refuses it when the past hour had `per_hour`.

        Raises:
            ValueError: "The server is busy: N new workspaces were opened in the past hour...".
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._opened and now - self._opened[0] >= 3600:
                self._opened.popleft()
            if len(self._opened) >= self.per_hour:
                count = len(self._opened)
                raise ValueError(
                    f"The server is busy: {count} new workspace{'s were' if count > 1 else ' was'}"
                    " opened in the past hour, the most it opens; try again later."
                )
            self._opened.append(now)


def file_version(path: str | os.PathLike) -> tuple[str, int, int]:
    """A file's part of a `DatasetCache` key: its path, modification time and size, so a
    file replaced under the same name (a kept upload) is read again."""
    stat = os.stat(path)
    return str(path), stat.st_mtime_ns, stat.st_size


class DatasetCache:
    """Datasets kept in memory by key, least recently used first out, at most `max_bytes`.

    Streamlit's `st.cache_data` bounds entries, not bytes: eight uploads of 500 MB each
    would all stay. A dataset larger than the whole cache is made but not kept.

    Args:
        max_bytes: the most bytes of arrays kept (`Limits.max_cached_data_mb`).
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[Hashable, tuple[Any, int]] = (
            collections.OrderedDict())
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept under `key`, or `make()`'s, kept if it fits (size: its `.nbytes`,
        a `Dataset`'s included)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = make()
        size = int(getattr(value, "nbytes", 0))
        with self._lock:
            if size <= self.max_bytes:
                self._entries[key] = (value, size)
                total = sum(kept for _, kept in self._entries.values())
                while total > self.max_bytes:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    total -= dropped
        return value
