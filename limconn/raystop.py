"""Stopping Ray tasks: a stop is state that a task reads, not a signal it has to catch.

Why: `ray.cancel` reaches a running task as `KeyboardInterrupt` in its main thread, and a task
can take that as a stop only once it has handed training to a thread
(`limconn.training.stop_on_interrupt`). An interrupt that lands earlier, while the task
unpickles its arguments or imports Keras's backend (seconds), is lost, and the task trains on to
its last epoch (issue 17: a sweep's tasks trained on after a stop; a stopped job ended done).

So the driver writes each stop on a *stop board*, a small Ray actor (`RayStop`), and every
task reads its `StopFlag` there (`run_task`): once when it starts, so a stop that came first
ends it before it trains; again after its start-up (Keras imported); and then after every
batch, through the `threading.Event` that `train_group` checks, which a thread in the task
keeps in step with the board. A task that was training ends after its batch and writes its
partial runs. `ray.cancel(force=True)` stays the last resort: a task still running
`STOP_GRACE_SECONDS` after its stop is ended by force (its runs are then lost).

Used by `limconn.sweep` (one flag per group) and `limconn.jobs` (one per job). Ray is an
optional extra: it is imported only when a `RayStop` is made or a flag is read.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

STOP_GRACE_SECONDS = 30.0
"""How long a stopped task may take to end (a batch, then saving its runs) before it is
cancelled by force."""
POLL_SECONDS = 0.2
"""How often a training task reads its flag."""
_READ_TIMEOUT_SECONDS = 60.0

_Result = TypeVar("_Result")
_log = logging.getLogger(__name__)


class _Board:
    """The actor: which keys are stopped, and which tasks got as far as training."""

    def __init__(self):
        self._stopped: set[str] = set()
        self._training: set[str] = set()

    def stop(self, key: str) -> None:
        self._stopped.add(key)

    def is_stopped(self, key: str) -> bool:
        return key in self._stopped

    def note_training(self, key: str) -> None:
        self._training.add(key)

    def is_training(self, key: str) -> bool:
        return key in self._training


@dataclasses.dataclass
class StopFlag:
    """A task's view of its stop on the board; pass it to the task as an argument.

    Attributes:
        board: the board's actor handle.
        key: the task's key on the board.
    """

    board: Any
    key: str
    _noted: bool = dataclasses.field(default=False, repr=False)

    def is_set(self) -> bool:
        """Whether the task's stop was sent. A board that is gone (its driver ended) reads
        as a stop; one that does not answer in time reads as no stop yet."""
        import ray

        try:
            return bool(result(self.board.is_stopped.remote(self.key), _READ_TIMEOUT_SECONDS))
        except concurrent.futures.TimeoutError:
            return False
        except ray.exceptions.RayError:
            return True

    def training(self) -> None:
        """Notes on the board that the task is training (once; later calls cost nothing).
        Call it from the task's progress callback."""
        if not self._noted:
            self._noted = True
            self.board.note_training.remote(self.key)


def result(reference, timeout: float | None = None):
    """In a Ray task: the value of `reference` (an actor call's), waited for on a future.

    Not `ray.get`: a task blocked in `ray.get` or `ray.wait` lends its CPU to the next task
    while it waits, so a task that read its flag that way every batch would let more tasks
    train at once than there are CPUs.

    Raises:
        concurrent.futures.TimeoutError: if the value did not come within `timeout` seconds.
        ray.exceptions.RayError: if the call failed (e.g. its actor is gone).
    """
    return reference.future().result(timeout=timeout)


def run_task(flag: StopFlag, work: Callable[[threading.Event], _Result],
             stopped: Callable[[], _Result]) -> _Result:
    """In a Ray task: `work(stop_event)`, or `stopped()` if the stop came before training.

    The flag is read before the task's start-up (importing Keras) and after it; while
    `work` runs, a thread reads it every `POLL_SECONDS` and sets `stop_event`, which training
    checks after every batch.

    Args:
        flag: the task's `StopFlag`.
        work: trains (and saves) with the stop event; what it returns is returned.
        stopped: what the task returns when it was stopped before it trained.
    """
    if flag.is_set():
        return stopped()
    importlib.import_module("limconn.training")  # Keras: the slow part of a start-up
    if flag.is_set():
        return stopped()
    stop, finished = threading.Event(), threading.Event()

    def watch() -> None:
        while not finished.wait(POLL_SECONDS):
            if flag.is_set():
                stop.set()
                return

    threading.Thread(target=watch, name="limconn-ray-stop", daemon=True).start()
    try:
        return work(stop)
    finally:
        finished.set()


class RayStop:
    """The driver's side: a stop board, the flags of its tasks, and the last resort.

    Make it while Ray is connected; `close()` ends the board.

    Args:
        grace_seconds: how long a stopped task may run on before it is cancelled by force
            (`STOP_GRACE_SECONDS` when `None`).

    Example:

    >>> stops = RayStop()  # doctest: +SKIP
    >>> ref = task.remote(..., stops.flag("job-1"))  # doctest: +SKIP
    >>> stops.stop("job-1", ref)  # doctest: +SKIP
    >>> ready, pending = stops.wait([ref], timeout=0.2)  # doctest: +SKIP
    """

    def __init__(self, grace_seconds: float | None = None):
        import ray  # an optional extra

        self._ray = ray
        self.grace_seconds = STOP_GRACE_SECONDS if grace_seconds is None else grace_seconds
        self._board = ray.remote(num_cpus=0)(_Board).remote()
        self._deadlines: dict[Any, tuple[str, float]] = {}
        self.cancelled: set = set()
        """The tasks cancelled by force (`ray.get` on them raises)."""

    def flag(self, key: str) -> StopFlag:
        """The flag of the task with `key` (unique among this board's tasks)."""
        return StopFlag(self._board, key)

    def stop(self, key: str, reference, force: bool = False) -> None:
        """Sends the stop to the task `reference` with `key`: it ends after its batch, or
        before it trains. It is cancelled by force if it still runs `grace_seconds` later,
        or at the next `wait` when `force` (or when the board cannot be reached)."""
        try:
            self._ray.get(self._board.stop.remote(key), timeout=_READ_TIMEOUT_SECONDS)
        except self._ray.exceptions.RayError:
            force = True
        deadline = time.monotonic() + (0.0 if force else self.grace_seconds)
        earlier = self._deadlines.get(reference)
        if earlier is None or deadline < earlier[1]:
            self._deadlines[reference] = (key, deadline)

    def was_training(self, key: str) -> bool:
        """Whether the task with `key` got as far as training (False if unknown)."""
        try:
            return bool(self._ray.get(self._board.is_training.remote(key),
                                      timeout=_READ_TIMEOUT_SECONDS))
        except self._ray.exceptions.RayError:
            return False

    def wait(self, references: list, timeout: float) -> tuple[list, list]:
        """`ray.wait` for the first of `references` to end, within `timeout`; then cancels
        by force every stopped task past its grace. Returns (ended, still running)."""
        ready, pending = self._ray.wait(list(references), timeout=timeout)
        now = time.monotonic()
        for reference in pending:
            key, deadline = self._deadlines.get(reference, ("", float("inf")))
            if now >= deadline and reference not in self.cancelled:
                _log.warning("Cancelling the stopped Ray task %s by force (its runs are not "
                             "saved).", key)
                self._ray.cancel(reference, force=True)
                self.cancelled.add(reference)
        for reference in ready:
            self._deadlines.pop(reference, None)
        return ready, pending

    def close(self) -> None:
        """Ends the board (nothing happens if Ray is gone already)."""
        with contextlib.suppress(Exception):  # Ray shut down first: the board went with it
            self._ray.kill(self._board)
