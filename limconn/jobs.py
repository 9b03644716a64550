"""A bounded, thread-safe queue of training jobs for a shared server.

`JobQueue(max_concurrent)` runs at most that many `train()` calls at once, each in a worker
thread that makes no UI calls; the others wait in order and know their position. Every
submitted job ends in a terminal status: done, stopped (partial history kept) or failed
(with the message). A page polls `job.snapshot()`; it never blocks on a job.

Example:

>>> queue = JobQueue(max_concurrent=1)
>>> job = queue.submit(TrainConfig(epochs=1), design, dataset)  # doctest: +SKIP
>>> job.wait(); job.status  # doctest: +SKIP
'done'
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Callable

from limconn.connectivity import Connectivity
from limconn.data import Dataset
from limconn.training import Limits, Progress, RunResult, TrainConfig, train

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
TERMINAL = (DONE, STOPPED, FAILED)


@dataclasses.dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state for display.

    Attributes:
        status: queued, running, done, stopped or failed.
        position: 1-based place in the waiting line while queued, else 0.
        history: finished epochs so far (as in `RunResult.history`).
        curve: the loss after every batch and the validation loss after every epoch, as
            rows `{"step": global step, "loss": ...}` / `{"step": ..., "val_loss": ...}`.
        latest: the latest `Progress` event, or `None`.
        error: the failure message, if failed.
        run_id: the stored run's id once saved, if the queue has a store.
    """

    status: str
    position: int
    history: tuple[dict, ...]
    curve: tuple[dict, ...]
    latest: Progress | None
    error: str
    run_id: str


class Job:
    """One submitted run. Created by `JobQueue.submit`; read it with `snapshot()`."""

    def __init__(self, job_id, queue, config, connectivity, dataset, workspace, name):
        self.id = job_id
        self.config = config
        self.connectivity = connectivity
        self.dataset = dataset
        self.workspace = workspace
        self.name = name
        self.result: RunResult | None = None
        self.stop_event = threading.Event()
        self._queue = queue
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._status = QUEUED
        self._history: list[dict] = []
        self._curve: list[dict] = []
        self._latest: Progress | None = None
        self._error = ""
        self._run_id = ""

    @property
    def status(self) -> str:
        return self._status

    def stop(self) -> None:
        """Asks the job to stop: a queued job ends at once, a running one after its batch."""
        self.stop_event.set()
        self._queue._drop_if_queued(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the job is terminal; returns whether it is."""
        return self._finished.wait(timeout)

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                status=self._status,
                position=self._queue.position(self),
                history=tuple(self._history),
                curve=tuple(self._curve),
                latest=self._latest,
                error=self._error,
                run_id=self._run_id,
            )

    def _on_progress(self, event: Progress) -> None:
        step = (event.epoch - 1) * event.steps_per_epoch + event.step
        with self._lock:
            self._latest = event
            if event.kind == "batch":
                self._curve.append({"step": step, "loss": event.logs.get("loss")})
            else:
                self._history.append({"epoch": event.epoch, **event.logs,
                                      "seconds": event.elapsed})
                if "val_loss" in event.logs:
                    self._curve.append({"step": step, "val_loss": event.logs["val_loss"]})

    def _set(self, status: str, error: str = "", run_id: str = "") -> None:
        with self._lock:
            self._status = status
            self._error = error or self._error
            self._run_id = run_id or self._run_id
        if status in TERMINAL:
            self._finished.set()


class JobQueue:
    """Runs training jobs in the background, at most `max_concurrent` at a time.

    Args:
        max_concurrent: how many jobs may run at once (>= 1).
        limits: per-run bounds checked at `submit` (time is enforced while running).
        store: an optional `limconn.runs.RunStore`; done and stopped runs are saved to it.
        trainer: the function that trains (default `limconn.training.train`).

    Raises:
        ValueError: from `submit`, if the run is over a limit or the design and data disagree.
    """

    def __init__(
        self,
        max_concurrent: int = 1,
        limits: Limits | None = None,
        store=None,
        trainer: Callable[..., RunResult] = train,
    ):
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(
                f"max_concurrent must be a positive integer. Received: {max_concurrent!r}"
            )
        self.max_concurrent = max_concurrent
        self.limits = limits or Limits()
        self.store = store
        self._trainer = trainer
        self._ids = itertools.count(1)
        self._condition = threading.Condition()
        self._waiting: list[Job] = []
        self._running = 0
        self._workers = [
            threading.Thread(target=self._work, name=f"limconn-worker-{n}", daemon=True)
            for n in range(max_concurrent)
        ]
        for worker in self._workers:
            worker.start()

    def submit(
        self,
        config: TrainConfig,
        connectivity: Connectivity,
        dataset: Dataset,
        workspace: str = "default",
        name: str = "",
    ) -> Job:
        """Queues a run and returns its `Job` at once."""
        self.limits.check(config, connectivity, dataset)
        if connectivity.input_dim != dataset.input_dim:
            raise ValueError(
                f"The design has {connectivity.input_dim} inputs but the data has "
                f"{dataset.input_dim} features."
            )
        job = Job(next(self._ids), self, config, connectivity, dataset, workspace, name)
        with self._condition:
            self._waiting.append(job)
            self._condition.notify()
        return job

    def position(self, job: Job) -> int:
        with self._condition:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    @property
    def running(self) -> int:
        with self._condition:
            return self._running

    def _drop_if_queued(self, job: Job) -> None:
        with self._condition:
            if job not in self._waiting:
                return
            self._waiting.remove(job)
        job._set(STOPPED, error="stopped before it started")

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._waiting:
                    self._condition.wait()
                job = self._waiting.pop(0)
                self._running += 1
            try:
                self._run(job)
            finally:
                with self._condition:
                    self._running -= 1

    def _run(self, job: Job) -> None:
        job._set(RUNNING)
        try:
            result = self._trainer(
                job.config,
                job.connectivity,
                job.dataset,
                on_progress=job._on_progress,
                stop_event=job.stop_event,
                max_seconds=self.limits.max_seconds,
            )
            job.result = result
            run_id = ""
            if self.store is not None:
                run_id = self.store.save(result, workspace=job.workspace, name=job.name).id
            job._set(result.status, error=result.stop_reason, run_id=run_id)
        except Exception as error:  # a failed job is reported, never raised in the worker
            job._set(FAILED, error=f"{type(error).__name__}: {error}")
