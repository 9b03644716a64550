"""A bounded queue of training jobs for a shared server, each trained in a worker process.

`JobQueue(max_concurrent)` keeps that many worker processes; a job waits in line (and knows
its position) until a worker is free, then trains there and, when the queue has a store,
saves its run. Every submitted job ends in a terminal status: done, stopped (partial run
kept) or failed (with the message), a worker that dies included. A page polls
`job.snapshot()`; nothing blocks on a job.

Why processes, not threads: Streamlit calls `keras.backend.clear_session()` (a garbage
collection and TensorFlow's kernel-cache reset, process-wide) after every script run, and
a page that shows live progress reruns every second; a training thread in the server
process then ran about 8x slower. A worker process is untouched by that, imports
TensorFlow once, trains in parallel with the others, and repeats its runs bit for bit.

Example:

>>> queue = JobQueue(max_concurrent=1, store=RunStore("runs"))  # doctest: +SKIP
>>> job = queue.submit(TrainConfig(epochs=1), design, dataset)  # doctest: +SKIP
>>> job.wait(); job.snapshot().status, job.snapshot().run_id  # doctest: +SKIP
('done', '20261128-...')
"""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import queue as queue_module
import threading
import time

from limconn.connectivity import Connectivity
from limconn.data import Dataset
from limconn.settings import Limits
from limconn.training import Progress, TrainConfig

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
TERMINAL = (DONE, STOPPED, FAILED)
_POLL_SECONDS = 0.5


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
        error: why it stopped or failed, if it did.
        run_id: the stored run's id once saved, if the queue has a store.
        started: when training began (`time.time()`), or `None`.
        ended: when the job reached its terminal status, or `None`.
    """

    status: str
    position: int
    history: tuple[dict, ...]
    curve: tuple[dict, ...]
    latest: Progress | None
    error: str
    run_id: str
    started: float | None
    ended: float | None


class Job:
    """One submitted run. Created by `JobQueue.submit`; read it with `snapshot()`."""

    def __init__(self, job_id, queue, config, connectivity, dataset, workspace, name):
        self.id = job_id
        self.config = config
        self.connectivity = connectivity
        self.dataset = dataset
        self.workspace = workspace
        self.name = name
        self._queue = queue
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._status = QUEUED
        self._history: list[dict] = []
        self._curve: list[dict] = []
        self._latest: Progress | None = None
        self._error = ""
        self._run_id = ""
        self._started: float | None = None
        self._ended: float | None = None

    @property
    def status(self) -> str:
        return self._status

    def stop(self) -> None:
        """Asks the job to stop: a queued job ends at once, a running one after its batch."""
        self._queue._stop(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the job is terminal; returns whether it is."""
        return self._finished.wait(timeout)

    def snapshot(self) -> JobSnapshot:
        position = self._queue.position(self)
        with self._lock:
            return JobSnapshot(
                status=self._status,
                position=position,
                history=tuple(self._history),
                curve=tuple(self._curve),
                latest=self._latest,
                error=self._error,
                run_id=self._run_id,
                started=self._started,
                ended=self._ended,
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

    def _set(self, status: str, error: str = "", run_id: str = "", at: float | None = None):
        with self._lock:
            self._status = status
            self._error = error or self._error
            self._run_id = run_id or self._run_id
            if status == RUNNING:
                self._started = at
            elif status in TERMINAL:
                self._ended = at if at is not None else time.time()
        if status in TERMINAL:
            self._finished.set()


class _Worker:
    """One training process with its own task queue and stop flag."""

    def __init__(self, context, index: int, events, store_root):
        self.tasks = context.Queue()
        self.stop = context.Event()
        self.job: Job | None = None
        self.process = context.Process(
            target=_serve,
            args=(self.tasks, events, self.stop, store_root),
            name=f"limconn-worker-{index}",
            daemon=True,
        )
        self.process.start()


class JobQueue:
    """Trains jobs in worker processes, at most `max_concurrent` at a time, in order.

    Args:
        max_concurrent: how many jobs may train at once (>= 1): one process each.
        limits: per-run bounds checked at `submit` (time is enforced while training).
        store: an optional `limconn.runs.RunStore`; done and stopped runs are saved to it
            (by the worker, so the trained model never crosses processes).

    The worker processes start with the first `submit`; `close()` ends them.

    Raises:
        ValueError: from `submit`, if the run is over a limit or the design and data disagree.
    """

    def __init__(self, max_concurrent: int = 1, limits: Limits | None = None, store=None):
        if not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(
                f"max_concurrent must be a positive integer. Received: {max_concurrent!r}"
            )
        self.max_concurrent = max_concurrent
        self.limits = limits or Limits()
        self.store = store
        self._context = multiprocessing.get_context("spawn")
        self._events = None
        self._workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._waiting: list[Job] = []
        self._condition = threading.Condition()
        self._closed = threading.Event()

    def submit(
        self,
        config: TrainConfig,
        connectivity: Connectivity,
        dataset: Dataset,
        workspace: str = "default",
        name: str = "",
    ) -> Job:
        """Queues a run and returns its `Job` at once."""
        self.limits.check_design(connectivity.input_dim, connectivity.units)
        self.limits.check(epochs=config.epochs)
        self.limits.check_data(
            dataset.num_samples, dataset.timesteps, dataset.input_dim, dataset.output_dim
        )
        if connectivity.input_dim != dataset.input_dim:
            raise ValueError(
                f"The design has {connectivity.input_dim} inputs but the data has "
                f"{dataset.input_dim} features."
            )
        with self._condition:
            if self._closed.is_set():
                raise ValueError("This job queue is closed.")
            self._start_workers()
            job = Job(next(self._ids), self, config, connectivity, dataset, workspace, name)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._dispatch()
        return job

    def position(self, job: Job) -> int:
        with self._condition:
            return self._waiting.index(job) + 1 if job in self._waiting else 0

    @property
    def running(self) -> int:
        with self._condition:
            return sum(worker.job is not None for worker in self._workers)

    def close(self) -> None:
        """Ends the worker processes; jobs still queued or training end as failed."""
        with self._condition:
            self._closed.set()
            workers, self._workers = self._workers, []
            unfinished = [*self._waiting, *(w.job for w in workers if w.job is not None)]
            self._waiting.clear()
        for worker in workers:
            worker.stop.set()
            worker.tasks.put(None)
        for worker in workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
        for job in unfinished:
            job._set(FAILED, error="the job queue was closed")

    def _start_workers(self) -> None:
        if self._workers:
            return
        store_root = None if self.store is None else str(self.store.root)
        self._events = self._context.Queue()
        self._workers = [
            _Worker(self._context, index, self._events, store_root)
            for index in range(self.max_concurrent)
        ]
        threading.Thread(target=self._listen, name="limconn-job-events", daemon=True).start()

    def _dispatch(self) -> None:
        """Hands waiting jobs to idle workers; called with `_condition` held."""
        for worker in self._workers:
            if not self._waiting:
                return
            if worker.job is None:
                job = self._waiting.pop(0)
                worker.job = job
                worker.stop.clear()
                worker.tasks.put((job.id, job.config, job.connectivity, job.dataset,
                                  job.workspace, job.name, self.limits.max_seconds))
                job.dataset = None  # the worker has its copy; the server keeps no arrays

    def _stop(self, job: Job) -> None:
        with self._condition:
            if job in self._waiting:
                self._waiting.remove(job)
                self._jobs.pop(job.id, None)
                queued = True
            else:
                queued = False
                for worker in self._workers:
                    if worker.job is job:
                        worker.stop.set()
        if queued:
            job._set(STOPPED, error="stopped before it started")

    def _listen(self) -> None:
        """Applies the workers' events to their jobs; notices workers that died."""
        checked = time.monotonic()
        while not self._closed.is_set():
            if time.monotonic() - checked > _POLL_SECONDS:
                self._replace_dead_workers()
                checked = time.monotonic()
            try:
                job_id, kind, payload = self._events.get(timeout=_POLL_SECONDS)
            except queue_module.Empty:
                continue
            except (EOFError, OSError):
                return
            job = self._jobs.get(job_id)
            if job is None:  # already failed because its worker died
                continue
            if kind == "progress":
                job._on_progress(payload)
            elif kind == RUNNING:
                job._set(RUNNING, at=payload)
            else:
                status, error, run_id, at = payload
                job._set(status, error=error, run_id=run_id, at=at)
                self._release(job)

    def _release(self, job: Job) -> None:
        with self._condition:
            self._jobs.pop(job.id, None)
            for worker in self._workers:
                if worker.job is job:
                    worker.job = None
            self._dispatch()

    def _replace_dead_workers(self) -> None:
        with self._condition:
            if self._closed.is_set():
                return
            for index, worker in enumerate(self._workers):
                if worker.process.is_alive():
                    continue
                if worker.job is not None:
                    self._jobs.pop(worker.job.id, None)
                    worker.job._set(FAILED, error=(
                        "the training process ended unexpectedly "
                        f"(exit code {worker.process.exitcode}); the server may be out of memory"
                    ))
                store_root = None if self.store is None else str(self.store.root)
                self._workers[index] = _Worker(self._context, index, self._events, store_root)
            self._dispatch()


def _serve(tasks, events, stop, store_root) -> None:
    """A worker process: trains the tasks it is handed, one at a time, reporting events."""
    from limconn.runs import RunStore
    from limconn.training import train

    store = None if store_root is None else RunStore(store_root)
    while True:
        task = tasks.get()
        if task is None:
            return
        job_id, config, connectivity, dataset, workspace, name, max_seconds = task
        events.put((job_id, RUNNING, time.time()))
        try:
            result = train(
                config, connectivity, dataset,
                on_progress=lambda event, job_id=job_id: events.put((job_id, "progress", event)),
                stop_event=stop,
                max_seconds=max_seconds,
            )
            run_id = "" if store is None else store.save(result, workspace, name or None).id
            outcome = (result.status, result.stop_reason, run_id, time.time())
        except Exception as error:  # a failed job is reported, never raised in the worker
            outcome = (FAILED, f"{type(error).__name__}: {error}", "", time.time())
        events.put((job_id, "ended", outcome))
