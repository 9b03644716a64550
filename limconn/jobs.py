"""A fair, bounded queue of training jobs for a shared server, each trained in a worker process.

A job is one group of runs: one or more designs trained together with one config and seed
(`limconn.training.train_group`), each design a run of its own. `JobQueue` keeps
`limits.max_jobs` worker processes; a job waits in line until a worker is free, then trains
there and, when the queue has a store, saves its runs. Nothing blocks on a job: a page polls
`job.snapshot()`.

What a lab server needs from it:

* **Fair**: waiting jobs are served round-robin across workspaces, so one visitor's "train
  all designs" never holds everyone else back; a workspace may have at most
  `limits.max_queued_jobs` jobs queued or training.
* **Bounded**: limits are checked at `submit`: each job's sizes and estimated training
  memory, and server-wide caps no number of fresh workspaces can multiply (jobs queued or
  training, bytes of queued data). A queued job's data waits on disk, not in memory. A
  run's time limit counts training only, from its first batch: past it the run stops within
  a batch, validation included, and a worker that still trains `max(10 s, 10 %)` later is
  killed and replaced; a run being saved is never killed. Work on stored runs (evaluations,
  analyses) has the same limit and grace, counted from its start; it cannot stop midway, so
  past them its worker is replaced (the runs it finished keep their results).
* **One server per home**: a queue with a home holds `<home>/server.lock` while it lives; a
  second one on the same home refuses to start, naming the first one's pid and host. At
  start it removes what a stopped server left (`clean_leftovers`).
* **Never hangs**: every job ends in a terminal status: done, stopped (partial runs kept),
  failed (with the message) or interrupted (the server stopped). A worker that dies, a
  worker that cannot be restarted, an event that cannot be processed, or the queue's own
  thread dying fails the jobs it concerns with a message; the queue goes on with the others.
  Each worker sends its events down its own pipe, so a killed worker silences no other.
* **Survives reloads and restarts**: jobs belong to a workspace, not a browser session
  (`jobs(workspace)`), and each job's record (status, per-epoch history, run ids) is kept on
  disk as it changes; a job that was queued or training when the server stopped is shown as
  interrupted after a restart, with the history of every epoch it finished.
* **Resumable**: a training job keeps a checkpoint after every finished epoch in the run
  store (`RunStore.checkpoint_path`), which a stop, the time limit or a dead worker leaves
  behind; `resume` queues a job that continues it to its epoch count.

Why processes, not threads: Streamlit calls `keras.backend.clear_session()` (a garbage
collection and TensorFlow's kernel-cache reset, process-wide) after every script run, and a
page that shows live progress reruns every second; a training thread in the server process
then ran about 8x slower. A worker process is untouched by that, imports Keras once,
trains in parallel with the others, and repeats its runs bit for bit.

Example:

>>> queue = JobQueue(store=RunStore("runs"), home="/tmp/lc")  # doctest: +SKIP
>>> job = queue.submit(TrainConfig(epochs=1), [design], dataset, "ws", ["a"])  # doctest: +SKIP
>>> job.wait(); job.snapshot().runs[0].run_id  # doctest: +SKIP
'20261128-...'
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue as queue_module
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from limconn.capacity import MB
from limconn.connectivity import Connectivity
from limconn.data import Dataset, Normalization
from limconn.diskio import private_folder, write_atomically
from limconn.run_results import ANALYZE as ANALYZE  # a job's kinds, read from here
from limconn.run_results import EVALUATE as EVALUATE
from limconn.run_results import AnalysisRequest, EvaluationRequest, RunsRequest, dataset_key
from limconn.runs import TEMP_PREFIX
from limconn.settings import Limits
from limconn.workspaces import workspace_folder

QUEUED, RUNNING, DONE, STOPPED = "queued", "running", "done", "stopped"
FAILED, INTERRUPTED = "failed", "interrupted"
TERMINAL = (DONE, STOPPED, FAILED, INTERRUPTED)
TRAIN = "train"
"""Kinds of job: train a group of runs, or work on stored runs (`limconn.run_results`):
evaluate them on other data (`EVALUATE`, `JobQueue.submit_evaluation`) or analyze them
(`ANALYZE`, `JobQueue.submit_analysis`)."""
STAGE = "stage"
"""An event a worker sends as it starts a step of work on a stored run (an analysis)."""
TRAINING, SAVING = "training", "saving"
"""Events a worker sends as a job's first batch begins (or its work on stored runs) and as
its runs start being saved: the time limit counts between the two."""
_LOG = logging.getLogger(__name__)
_POLL_SECONDS = 0.25
_BATCH_EVENT_SECONDS = 0.25
"""A worker sends at most one batch event per run this often (epoch events always go)."""
_CURVE_POINTS = 400
"""Live curve points kept per run (older batch points are thinned)."""
_RECORDS_KEPT = 50
"""Job records kept per workspace on disk."""


def kill_grace(max_seconds: float) -> float:
    """How long past its time limit a run may take to stop before its worker is killed."""
    return max(10.0, 0.1 * max_seconds)


class ServerLock:
    """`<home>/server.lock`, held (`flock`) by one server for its lifetime, with its pid and
    host written inside.

    Two servers on one home would each mark the other's live jobs interrupted and show its
    records stale forever, so the second one refuses to start. The lock goes with the
    process that holds it, however it ends.

    Raises:
        RuntimeError: naming the lock file and the pid and host of the server holding it.
    """

    FILE = "server.lock"

    def __init__(self, home: str | os.PathLike):
        self.path = Path(home) / self.FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "a server that wrote nothing yet"
            self._file.close()
            raise RuntimeError(
                f"Another limconn server uses this home: {self.path} is held by {holder}. "
                "One server per LIMCONN_HOME: stop that one, or give this one a home of its "
                "own (to train more at once, use LIMCONN_RAY_ADDRESS)."
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()


def find_leftovers(home: str | os.PathLike, store_root: str | os.PathLike | None = None,
                   settled_seconds: float = 0.0, now: float | None = None) -> list[Path]:
    """What stopped work left behind: temporary files and folders (`.tmp-*`, from a write
    that a crash, a killed worker or a full disk cut short) under the home and the run store,
    and spooled datasets whose job is no longer queued or training.

    Args:
        home: the server's home.
        store_root: the run store's folder, when it is not under `home`.
        settled_seconds: leave alone anything touched more recently (a write or a job that
            may still be in progress; 0 when no server uses the home).
        now: the time to measure ages from (seconds since the epoch); `None` for now.
    """
    home = Path(home)
    now = time.time() if now is None else now
    roots = [home] + ([Path(store_root)] if store_root is not None else [])
    found = {path for root in roots if root.is_dir() for path in root.rglob(f"{TEMP_PREFIX}*")
             if not any(parent.name.startswith(TEMP_PREFIX) for parent in path.parents)}
    spool = home / "spool"
    if spool.is_dir():
        active = JobStore(home).active_ids()
        found.update(path for path in spool.glob("*.npz") if path.stem not in active)
    return sorted(path for path in found if now - path.lstat().st_mtime >= settled_seconds)


def remove_leftovers(paths: Sequence[Path]) -> list[Path]:
    """Removes `paths` (files or folders; one already gone is skipped); what it removed."""
    removed = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def clean_leftovers(home: str | os.PathLike, store=None) -> list[Path]:
    """At a server's start-up: removes and logs every leftover of a stopped server
    (`find_leftovers`, whatever its age), and returns them. Call it only while no other
    server uses `home`, after `JobStore.mark_interrupted`, as `JobQueue` does right after
    taking its `ServerLock`: no spooled dataset is then a live job's.

    Args:
        home: the server's home.
        store: its `limconn.runs.RunStore`, or `None` to look under `home` alone.
    """
    removed = remove_leftovers(find_leftovers(home, None if store is None else store.root))
    if removed:
        _LOG.warning("Removed %d leftover(s) of a stopped server: %s", len(removed),
                     ", ".join(str(path) for path in removed))
    return removed


@dataclasses.dataclass(frozen=True)
class RunSnapshot:
    """One run of a job, for display.

    Attributes:
        name: the run's name.
        history: finished epochs (as in `RunResult.history`).
        curve: the loss after batches and the validation loss after every epoch, as rows
            `{"step": global step, "loss": ...}` / `{"step": ..., "val_loss": ...}`.
        latest: the latest progress event as a dict (`epoch`, `epochs`, `step`,
            `steps_per_epoch`, `logs`, `elapsed`, `eta`, `fraction`), or `None`.
        run_id: the stored run's id once saved.
    """

    name: str
    history: tuple[dict, ...]
    curve: tuple[dict, ...]
    latest: dict | None
    run_id: str


@dataclasses.dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state.

    Attributes:
        id, workspace: the job and whose it is.
        status: queued, running, done, stopped, failed or interrupted.
        position: 1-based place in the order jobs will start while queued, else 0.
        runs: one `RunSnapshot` per design.
        error: why it stopped, failed or was interrupted, if it was.
        submitted, started, ended: `time.time()` stamps, `None` until they happen.
        version: grows with every change, so a page can tell whether anything moved.
    """

    id: str
    workspace: str
    status: str
    position: int
    runs: tuple[RunSnapshot, ...]
    error: str
    submitted: float
    started: float | None
    ended: float | None
    version: int

    @property
    def history(self) -> tuple[dict, ...]:
        """The first run's history (a job of one run has only that)."""
        return self.runs[0].history

    @property
    def run_id(self) -> str:
        return self.runs[0].run_id

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs if run.run_id]


WATCH_SECONDS = {"training": 1.5, "next": 4.0, "waiting": 10.0}
"""How often a page redraws a job card: while the job trains or is being handed to a worker,
while it waits for the next free worker, and while it waits further back in the queue."""


def watch_seconds(snapshots: Sequence[JobSnapshot], slots: int) -> float | None:
    """How often a page showing these jobs should redraw them, or `None` once all ended.

    A job far back in the queue changes only its position, so it is looked at less often:
    on a shared server, most watched jobs are waiting, and every redraw costs the visitor's
    browser a rerun.

    Args:
        snapshots: the jobs shown.
        slots: how many jobs the queue trains at once.

    Example:
    >>> watch_seconds([], slots=2) is None
    True
    """
    paces = []
    for snapshot in snapshots:
        if snapshot.status == RUNNING or (snapshot.status == QUEUED and snapshot.position < 1):
            paces.append(WATCH_SECONDS["training"])
        elif snapshot.status == QUEUED:
            paces.append(WATCH_SECONDS["next" if snapshot.position <= slots else "waiting"])
    return min(paces, default=None)


class _RunState:
    def __init__(self, name: str, history=(), run_id: str = ""):
        self.name = name
        self.history = list(history)
        self.curve: list[dict] = []
        self.latest: dict | None = None
        self.run_id = run_id

    def snapshot(self) -> RunSnapshot:
        return RunSnapshot(self.name, tuple(self.history), tuple(self.curve), self.latest,
                           self.run_id)

    def add_point(self, point: dict) -> None:
        self.curve.append(point)
        if len(self.curve) > _CURVE_POINTS:
            # Keep every validation point and every other batch point of the older half.
            half = len(self.curve) // 2
            older = [p for i, p in enumerate(self.curve[:half]) if "val_loss" in p or i % 2]
            self.curve = older + self.curve[half:]


class Job:
    """One submitted group of runs. Created by `JobQueue.submit`; read it with `snapshot()`."""

    def __init__(self, queue, job_id, workspace, config, designs, names, submitted=None):
        self.id = job_id
        self.workspace = workspace
        self.config = config
        self.designs = tuple(designs)
        self.names = tuple(names)
        self._queue = queue
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._status = QUEUED
        self._runs = [_RunState(name) for name in self.names]
        self._error = ""
        self._submitted = time.time() if submitted is None else submitted
        self._started: float | None = None
        self._ended: float | None = None
        self._version = 0
        self.spool: Path | None = None
        self.spool_bytes = 0
        self.resume_from: Path | None = None
        self._training_since: float | None = None
        self._saving = False

    @property
    def status(self) -> str:
        return self._status

    @property
    def kind(self) -> str:
        """`TRAIN`, or the kind of the request a job on stored runs carries as its config
        (`EVALUATE`, `ANALYZE`)."""
        return self.config.KIND if isinstance(self.config, RunsRequest) else TRAIN

    def stop(self) -> None:
        """Asks the job to stop: a queued job ends at once, a running one after its batch."""
        self._queue._stop(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the job is terminal; returns whether it is."""
        return self._finished.wait(timeout)

    def snapshot(self) -> JobSnapshot:
        self._queue._check_alive()
        position = self._queue.position(self)
        with self._lock:
            return JobSnapshot(
                id=self.id, workspace=self.workspace, status=self._status, position=position,
                runs=tuple(run.snapshot() for run in self._runs), error=self._error,
                submitted=self._submitted, started=self._started, ended=self._ended,
                version=self._version,
            )

    def record(self) -> dict:
        """What the job store keeps of the job (plain JSON values)."""
        with self._lock:
            return {
                "id": self.id, "workspace": self.workspace, "status": self._status,
                "error": self._error, "submitted": self._submitted, "started": self._started,
                "ended": self._ended, "config": self.config.to_dict(),
                "runs": [{"name": run.name, "history": run.history, "run_id": run.run_id}
                         for run in self._runs],
            }

    def _stage(self, branch: int, stage: str) -> None:
        """Applies what a worker working on a stored run says it is doing."""
        with self._lock:
            self._runs[branch].latest = {"stage": stage}
            self._version += 1

    def _progress(self, branch: int, event: dict) -> bool:
        """Applies a progress event; returns whether an epoch ended (worth recording)."""
        step = (event["epoch"] - 1) * event["steps_per_epoch"] + event["step"]
        with self._lock:
            run = self._runs[branch]
            run.latest = event
            if event["kind"] == "batch":
                run.add_point({"step": step, "loss": event["logs"].get("loss")})
            else:
                run.history.append({"epoch": event["epoch"], **event["logs"],
                                    "seconds": event["elapsed"]})
                if "val_loss" in event["logs"]:
                    run.add_point({"step": step, "val_loss": event["logs"]["val_loss"]})
            self._version += 1
        return event["kind"] == "epoch"

    def _set(self, status: str, error: str = "", run_ids: Sequence[str] = (),
             at: float | None = None) -> None:
        with self._lock:
            if self._status in TERMINAL:
                return
            self._status = status
            self._error = error or self._error
            for run, run_id in zip(self._runs, run_ids, strict=False):
                run.run_id = run_id or run.run_id
            if status == RUNNING:
                self._started = at if at is not None else time.time()
            elif status in TERMINAL:
                self._ended = at if at is not None else time.time()
            self._version += 1
        if status in TERMINAL:
            self._finished.set()

    @classmethod
    def from_record(cls, queue, record: dict) -> Job:
        """A finished job read back from the store (after a restart)."""
        from limconn.trainconfig import TrainConfig

        job = cls(queue, record["id"], record["workspace"],
                  TrainConfig.from_dict(record.get("config", {})), (),
                  [run["name"] for run in record["runs"]], record.get("submitted"))
        job._runs = [_RunState(run["name"], run.get("history", ()), run.get("run_id", ""))
                     for run in record["runs"]]
        job._status = record["status"]
        job._error = record.get("error", "")
        job._started, job._ended = record.get("started"), record.get("ended")
        job._finished.set()
        return job


class JobStore:
    """Job records on disk, `workspace_folder(home, id)/jobs/<job id>.json`, newest kept; a
    record on disk names no workspace (an id is a credential), `read` adds it back.

    Args:
        home: the server's home (`ServerSettings.home`).
    """

    def __init__(self, home: str | os.PathLike):
        self.home = Path(home)

    def _folder(self, workspace: str) -> Path:
        return workspace_folder(self.home, workspace) / "jobs"

    def write(self, record: dict) -> None:
        """Keeps `record` in its workspace's folder, without the workspace id (a credential)."""
        folder = private_folder(self._folder(record["workspace"]))
        kept = {key: value for key, value in record.items() if key != "workspace"}
        write_atomically(folder / f"{record['id']}.json",
                         json.dumps(kept, allow_nan=True).encode())

    def read(self, workspace: str) -> list[dict]:
        """The workspace's records, newest first; unreadable ones skipped, old ones pruned."""
        folder = self._folder(workspace)
        records = []
        for path in folder.glob("*.json") if folder.is_dir() else ():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                records.append((float(record["submitted"]), path, {**record,
                                                                   "workspace": workspace}))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        records.sort(key=lambda item: item[0], reverse=True)
        for _, path, _ in records[_RECORDS_KEPT:]:
            path.unlink(missing_ok=True)
        return [record for _, _, record in records[:_RECORDS_KEPT]]

    def active_ids(self) -> set[str]:
        """The ids of every job, in any workspace, whose record says queued or running."""
        return {str(record.get("id")) for _, record in self.all_records()
                if record.get("status") in (QUEUED, RUNNING)}

    def all_records(self) -> list[tuple[Path, dict]]:
        """Every readable record of every workspace, with its file (whose grandparent is the
        workspace's folder, named by its keyed hash)."""
        records = []
        for path in (self.home / "workspaces").glob("*/jobs/*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                records.append((path, record))
        return records

    def mark_interrupted(self) -> int:
        """After a restart: every record still queued or running becomes interrupted (its
        finished epochs kept). Returns how many."""
        count = 0
        for path, record in self.all_records():
            if record.get("status") in (QUEUED, RUNNING):
                was = record["status"]
                record["status"] = INTERRUPTED
                record["error"] = (f"the server stopped while this job was {was}; "
                                   "the epochs it finished are kept here")
                record["ended"] = time.time()
                write_atomically(path, json.dumps(record, allow_nan=True).encode())
                count += 1
        return count


def _step_targets(dataset: Dataset) -> int:
    """Values per step of a dataset's per-step targets and weights; 0 for many-to-one."""
    if not dataset.per_step:
        return 0
    weights = 0 if dataset.weights is None else 1
    return dataset.y[0, 0].size + weights


def spool_dataset(dataset: Dataset, path: Path) -> None:
    """Writes a dataset for a worker: arrays in an `.npz` (per-step weights, if any, too),
    the rest as JSON (no pickle)."""
    meta = {
        "name": dataset.name, "description": dataset.description, "kind": dataset.kind,
        "num_classes": dataset.num_classes, "feature_names": list(dataset.feature_names),
        "target_names": list(dataset.target_names), "validation_start":
            dataset.validation_start,
        "normalization": None if dataset.normalization is None else dataclasses.asdict(
            dataset.normalization),
    }
    weights = {} if dataset.weights is None else {"weights": dataset.weights}
    try:
        with open(path, "wb") as stream:
            np.savez(stream, x=dataset.x, y=dataset.y, meta=np.array(json.dumps(meta)),
                     **weights)
    except BaseException:  # e.g. a full disk: no partial spool file is left
        path.unlink(missing_ok=True)
        raise


def unspool_dataset(path: Path) -> Dataset:
    """Reads what `spool_dataset` wrote."""
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta"]))
        normalization = meta.pop("normalization")
        return Dataset(
            x=archive["x"], y=archive["y"],
            weights=archive["weights"] if "weights" in archive.files else None,
            normalization=None if normalization is None else Normalization(**normalization),
            **meta,
        )


class _Worker:
    """One training process with its own task queue, stop flag and event pipe.

    Each worker sends its events down a pipe of its own (`events` is the reading end): a
    worker killed mid-send (the time limit's kill) takes its pipe with it. A queue shared by
    all workers would keep the killed one's write lock held, and no later worker's event
    would ever arrive.
    """

    def __init__(self, context, index: int, store, max_runs):
        self.tasks = context.Queue()
        self.stop = context.Event()
        self.job: Job | None = None
        self.events, sender = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_serve,
            args=(self.tasks, sender, self.stop, store, max_runs),
            name=f"limconn-worker-{index}",
            daemon=True,
        )
        self.process.start()
        sender.close()  # the worker's copy is the only writer: its end is the pipe's end

    def is_alive(self) -> bool:
        return self.process.is_alive()

    @property
    def exit_note(self) -> str:
        return f"exit code {self.process.exitcode}"

    def give(self, task) -> None:
        self.stop.clear()
        self.tasks.put(task)

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.events.close()

    def close(self) -> None:
        self.stop.set()
        self.tasks.put(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()


class _RayWorker:
    """A slot that trains each job it is given as one Ray task (`LIMCONN_RAY_ADDRESS`).

    The task trains and saves its runs where it runs (the run store must be on storage the
    cluster shares) and sends progress through a Ray queue, which a thread here forwards into
    the job queue's events. A stop is written on the slot's stop board, which the task reads
    (`limconn.raystop`), not sent as `ray.cancel`'s Ctrl-C, which a task still starting would
    lose: a task stopped before it trains ends stopped without a run, one stopped while
    training ends after its batch with its partial runs saved. A task still running
    `raystop.STOP_GRACE_SECONDS` after its stop, or the task of a killed slot, is cancelled by
    force (no run saved).
    """

    def __init__(self, index: int, store, max_runs, address: str):
        import ray  # an optional extra, needed only with a Ray address
        from ray.util.queue import Queue

        from limconn.raystop import RayStop

        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        self.job: Job | None = None
        self.stop = threading.Event()
        self._ray = ray
        self.events, self._sender = multiprocessing.Pipe(duplex=False)
        self._progress = Queue()
        self._stops = RayStop()
        self._remote = ray.remote(_train_task_on_ray)
        self._store, self._max_runs = store, max_runs
        self._tasks: queue_module.Queue = queue_module.Queue()
        self._killed = False
        self._thread = threading.Thread(target=self._loop, name=f"limconn-ray-{index}",
                                        daemon=True)
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive() and not self._killed

    exit_note = "its Ray task was lost"

    def give(self, task) -> None:
        self.stop.clear()
        self._tasks.put(task)

    def kill(self) -> None:
        """Cancels the running task by force; the slot's thread then ends."""
        self._killed = True
        self.stop.set()
        self._tasks.put(None)

    close = kill

    def _loop(self) -> None:
        try:
            while (task := self._tasks.get()) is not None:
                self._run(task)
        finally:
            self._stops.close()
            self._sender.close()

    def _run(self, task) -> None:
        job_id, config, designs, names, spool, workspace, max_seconds, resume_from = task
        self._sender.send((job_id, RUNNING, time.time()))
        reference = self._remote.remote(
            (job_id, config, designs, names, unspool_dataset(Path(spool)), workspace,
             max_seconds, resume_from), self._store, self._max_runs, self._progress,
            self._stops.flag(job_id))
        stopping = False
        while True:
            ready, _ = self._stops.wait([reference], timeout=_POLL_SECONDS)
            while not self._progress.empty():
                self._sender.send(self._progress.get_nowait())
            if ready:
                break
            if self.stop.is_set() and not stopping:
                self._stops.stop(job_id, reference, force=self._killed)
                stopping = True
        try:
            self._sender.send(self._ray.get(reference))
        except Exception as error:  # the task died, or was cancelled by force
            if reference not in self._stops.cancelled:
                status, message = FAILED, f"{type(error).__name__}: {error}"
            elif self._stops.was_training(job_id):
                status, message = STOPPED, ("stopped by request; its Ray task did not end in "
                                            "time and was cancelled, so no run was saved")
            else:
                status, message = STOPPED, "stopped before it started"
            self._sender.send((job_id, "ended", (status, message, [], time.time())))


class JobQueue:
    """Trains jobs in worker processes, at most `limits.max_jobs` at a time, fairly.

    Args:
        limits: the server's limits (`max_jobs` workers; the per-run and per-workspace
            bounds are checked at `submit`; `max_seconds` is enforced while training).
        store: an optional `limconn.runs.RunStore`; finished and stopped runs are saved to it
            (by the worker, so the trained model never crosses processes).
        home: where queued datasets wait and job records are kept (a temporary folder
            when `None`: no records then survive the process).
        max_concurrent: overrides `limits.max_jobs`.
        ray_address: train each job as a Ray task on this cluster (`LIMCONN_RAY_ADDRESS`;
            `"local"` starts Ray here) instead of in local worker processes; at most
            `max_concurrent` at once all the same.

    The worker processes start with the first `submit`; `close()` ends them. A queue with
    a `home` holds the home's `ServerLock` until `close()`, marks the records of jobs a
    previous server left unfinished as interrupted, and removes its leftovers
    (`clean_leftovers`).

    Raises:
        RuntimeError: if another server holds the home's lock (the message names its pid
            and host).
        ValueError: from `submit`, if a run is over a limit, the design and data disagree,
            the workspace has too many jobs already, or the server is busy.
    """

    def __init__(self, limits: Limits | None = None, store=None, home=None,
                 max_concurrent: int | None = None, ray_address: str | None = None):
        self.limits = limits or Limits()
        concurrent = self.limits.max_jobs if max_concurrent is None else max_concurrent
        if not isinstance(concurrent, int) or concurrent < 1:
            raise ValueError(
                f"max_concurrent must be a positive integer. Received: {concurrent!r}"
            )
        self.max_concurrent = concurrent
        self.store = store
        self.ray_address = ray_address
        self._lock: ServerLock | None = None
        if home is None:
            import tempfile

            home = tempfile.mkdtemp(prefix="limconn-jobs-")
            self._records = None
        else:
            self._lock = ServerLock(home)
            self._records = JobStore(home)
            self._records.mark_interrupted()
            clean_leftovers(home, store)
        self._spool = Path(home) / "spool"
        private_folder(self._spool)
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker | None] = []
        self._jobs: dict[str, Job] = {}
        self._by_workspace: dict[str, list[Job]] = collections.defaultdict(list)
        self._restored: set[str] = set()
        self._waiting: dict[str, collections.deque[Job]] = {}
        self._turns: collections.deque[str] = collections.deque()
        self._condition = threading.Condition()
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None
        self._broken = ""

    # ---------------------------------------------------------------------------------------
    # Public API
    # ---------------------------------------------------------------------------------------

    def submit(self, config, designs, dataset: Dataset, workspace: str = "default",
               names: Sequence[str] | None = None, resume_from: Path | None = None) -> Job:
        """Queues one group of runs (one design, or several trained together) and returns
        its `Job` at once.

        Args:
            config: the runs' settings (one seed for the group).
            designs: a `Connectivity` or a sequence of them.
            dataset: the data; written to disk until a worker takes the job.
            workspace: whose job it is.
            names: one run name per design (default: design, strategy, data).
            resume_from: a checkpoint to continue from (`resume` passes it).

        A job counts against the server-wide caps from here until it ends; nothing already
        queued is touched when a new one is refused.
        """
        designs = [designs] if isinstance(designs, Connectivity) else list(designs)
        if not designs:
            raise ValueError("A job needs at least one design. Received: none.")
        names = list(names) if names else [
            f"{d.name or 'design'} · {config.strategy} · {dataset.name}" for d in designs]
        if len(names) != len(designs):
            raise ValueError(f"Give one name per design. Received: {len(names)} names for "
                             f"{len(designs)} designs.")
        for design in designs:
            self.limits.check_design(design.input_dim, design.units)
            if design.input_dim != dataset.input_dim:
                raise ValueError(
                    f"{design.name or 'The design'} has {design.input_dim} inputs but the data "
                    f"has {dataset.input_dim} features."
                )
        self.limits.check(epochs=config.epochs)
        self.limits.check_data(dataset.num_samples, dataset.timesteps, dataset.input_dim,
                               dataset.output_dim)
        self.limits.check_job(batch_size=config.batch_size, units=[d.units for d in designs],
                              samples=dataset.num_samples, timesteps=dataset.timesteps,
                              features=dataset.input_dim, step_targets=_step_targets(dataset))
        return self._enqueue(config, designs, names, dataset, workspace, resume_from)

    def submit_evaluation(self, run_ids: Sequence[str], dataset: Dataset,
                          workspace: str = "default") -> Job:
        """Queues an evaluation of stored runs on `dataset` and returns its `Job` at once.

        The worker evaluates each run (`limconn.evaluation.evaluate`, with the outputs of
        its first sequences) and caches the result in the run's folder under
        `dataset_key(dataset)`, where `limconn.evaluation.cached` reads it. See
        `submit_request`.
        """
        return self.submit_request(EvaluationRequest(tuple(run_ids), dataset_key(dataset)),
                                   dataset, workspace)

    def submit_analysis(self, run_ids: Sequence[str], dataset: Dataset,
                        workspace: str = "default", what: Sequence[str] | None = None) -> Job:
        """Queues the analysis of stored runs on `dataset` and returns its `Job` at once.

        The worker analyzes each run (`limconn.analysis.analyze`: `what`, every analysis
        when `None`) and caches the result in the run's folder under `dataset_key(dataset)`,
        where `limconn.run_results.cached_analysis` reads it without TensorFlow; each run's
        snapshot says what is being computed (`RunSnapshot.latest["stage"]`). See
        `submit_request`.
        """
        key = dataset_key(dataset)
        request = (AnalysisRequest(tuple(run_ids), key) if what is None
                   else AnalysisRequest(tuple(run_ids), key, tuple(what)))
        return self.submit_request(request, dataset, workspace)

    def submit_request(self, request: RunsRequest, dataset: Dataset,
                       workspace: str = "default") -> Job:
        """Queues work on stored runs of `workspace` (`limconn.run_results`) with its data.

        Such jobs wait in the same line and count against the same caps as training jobs;
        a worker loads each run from the workspace's own runs (another workspace's id is
        not found) and computes its result; the job's runs carry the ids once it is done,
        and it fails at the first run that cannot be done, naming it. They are not kept as
        job records.

        Raises:
            ValueError: if the queue has no store, there is no run, the data is over a
                limit, or the workspace or server is full.
        """
        if self.store is None or not request.run_ids:
            raise ValueError(f"A job that {request.KIND}s runs needs a run store and at least "
                             "one run. "
                             f"Received: store={self.store!r}, run_ids={list(request.run_ids)!r}")
        self.limits.check_data(dataset.num_samples, dataset.timesteps, dataset.input_dim,
                               dataset.output_dim)
        return self._enqueue(request, (), request.run_ids, dataset, workspace)

    def _enqueue(self, config, designs, names, dataset: Dataset, workspace: str,
                 resume_from: Path | None = None) -> Job:
        """Creates the job, spools its data and puts it in line, within the caps."""
        data_bytes = dataset.nbytes
        with self._condition:
            if self._closed.is_set() or self._broken:
                raise ValueError(self._broken or "This job queue is closed.")
            self._check_room(workspace, data_bytes)
            job = Job(self, secrets.token_hex(6), workspace, config, designs, names)
            job.spool, job.spool_bytes = self._spool / f"{job.id}.npz", data_bytes
            job.resume_from = resume_from
            # Counted from now (the caps hold for concurrent submits); queued once spooled.
            self._jobs[job.id] = job
            self._by_workspace[workspace].append(job)
        try:
            spool_dataset(dataset, job.spool)
        except BaseException:
            with self._condition:
                self._jobs.pop(job.id, None)
                self._by_workspace[workspace].remove(job)
            job.spool.unlink(missing_ok=True)
            raise
        with self._condition:
            queued = not self._closed.is_set() and job.status == QUEUED
            if queued:
                self._start_workers()
                if workspace not in self._turns:
                    self._turns.append(workspace)
                self._waiting.setdefault(workspace, collections.deque()).append(job)
                self._dispatch()
        if queued:
            self._record(job)
        else:  # the queue closed (or broke) while the data was written
            self._finish(job, INTERRUPTED, "the server stopped before this job was queued")
        return job

    def _check_room(self, workspace: str, data_bytes: int) -> None:
        """Refuses a job over the workspace's or the server's caps (`_condition` held)."""
        in_workspace = sum(job.status in (QUEUED, RUNNING)
                           for job in self._by_workspace[workspace])
        if in_workspace >= self.limits.max_queued_jobs:
            raise ValueError(
                f"This workspace has {in_workspace} jobs queued or training; this server "
                f"allows {self.limits.max_queued_jobs} at once. Wait for one to end or "
                "stop one."
            )
        active = [job for job in self._jobs.values() if job.status in (QUEUED, RUNNING)]
        if len(active) >= self.limits.max_server_jobs:
            raise ValueError(f"The server is busy: {len(active)} jobs are queued or training; "
                             "try again later.")
        spooled = sum(job.spool_bytes for job in active)
        if spooled + data_bytes > self.limits.max_spool_mb * MB:
            raise ValueError(
                f"The server is busy: queued jobs' data takes {spooled / MB:,.1f} MB of the "
                f"{self.limits.max_spool_mb:,} MB it keeps, and this job's data is "
                f"{data_bytes / MB:,.1f} MB; try again later."
            )

    def checkpoint(self, job: Job) -> Path | None:
        """The checkpoint a stopped, interrupted or failed job left (the epochs it finished),
        which `resume` continues; `None` when there is none to resume (a done job's goes)."""
        if self.store is None or job.status not in (STOPPED, INTERRUPTED, FAILED):
            return None
        path = self.store.checkpoint_path(job.workspace, job.id)
        return path if path.is_file() else None

    def resume(self, job: Job, dataset: Dataset) -> Job:
        """Queues a job that continues `job` from its checkpoint to its epoch count, with
        its config, designs and run names; the runs it saves hold the whole history.

        Args:
            job: a job with a checkpoint (`checkpoint(job)`).
            dataset: the data `job` trained on (its `content_hash` is checked).

        Raises:
            ValueError: if there is no checkpoint, the data differ, every epoch already
                ran, or `submit` refuses.
        """
        from limconn.checkpoints import read_checkpoint

        path = self.checkpoint(job)
        if path is None:
            raise ValueError(f"This job has no checkpoint to resume from. Received: a "
                             f"{job.status} job, {job.id}")
        checkpoint = read_checkpoint(path)
        checkpoint.check_resumable(dataset.content_hash())
        return self.submit(checkpoint.config, checkpoint.designs, dataset, job.workspace,
                           job.names, resume_from=path)

    def jobs(self, workspace: str, kind: str = TRAIN) -> list[Job]:
        """The workspace's jobs of one kind, newest first: this server's, and after a
        restart the records of earlier ones (interrupted ones included)."""
        with self._condition:
            if self._records is not None and workspace not in self._restored:
                self._restored.add(workspace)
                known = {job.id for job in self._by_workspace[workspace]}
                restored = [Job.from_record(self, record)
                            for record in self._records.read(workspace)
                            if record.get("id") not in known]
                self._by_workspace[workspace][:0] = sorted(
                    restored, key=lambda job: job._submitted)
            return sorted((job for job in self._by_workspace[workspace] if job.kind == kind),
                          key=lambda job: job._submitted, reverse=True)

    def position(self, job: Job) -> int:
        """1-based place among waiting jobs in the order they will start, or 0."""
        with self._condition:
            for place, waiting in enumerate(self._dispatch_order(), start=1):
                if waiting is job:
                    return place
        return 0

    @property
    def running(self) -> int:
        with self._condition:
            return sum(w is not None and w.job is not None for w in self._workers)

    def close(self) -> None:
        """Ends the worker processes; jobs still queued or training end as interrupted."""
        with self._condition:
            self._closed.set()
            workers, self._workers = [w for w in self._workers if w is not None], []
            unfinished = [job for queue in self._waiting.values() for job in queue]
            unfinished += [w.job for w in workers if w.job is not None]
            self._waiting.clear()
            self._turns.clear()
        for worker in workers:
            worker.close()
        for job in unfinished:
            was = job.status
            self._finish(job, INTERRUPTED, f"the server stopped while this job was {was}")
        if self._lock is not None:
            self._lock.release()

    # ---------------------------------------------------------------------------------------
    # Dispatch
    # ---------------------------------------------------------------------------------------

    def _dispatch_order(self) -> list[Job]:
        """Waiting jobs in the order they will start: one per workspace in turn."""
        queues = {ws: list(jobs) for ws, jobs in self._waiting.items()}
        order, turns = [], list(self._turns)
        while any(queues.values()):
            for workspace in turns:
                if queues.get(workspace):
                    order.append(queues[workspace].pop(0))
        return order

    def _next_waiting(self) -> Job | None:
        while self._turns:
            workspace = self._turns.popleft()
            waiting = self._waiting.get(workspace)
            if waiting:
                job = waiting.popleft()
                if waiting:
                    self._turns.append(workspace)
                return job
        return None

    def _start_workers(self) -> None:
        if self._workers:
            return
        self._workers = [self._new_worker(index) for index in range(self.max_concurrent)]
        self._listener = threading.Thread(target=self._listen, name="limconn-job-events",
                                          daemon=True)
        self._listener.start()

    def _new_worker(self, index: int):
        if self.ray_address:
            return _RayWorker(index, self.store, self.limits.max_runs, self.ray_address)
        return _Worker(self._context, index, self.store, self.limits.max_runs)

    def _dispatch(self) -> None:
        """Hands waiting jobs to idle workers; called with `_condition` held."""
        for worker in self._workers:
            if worker is None or worker.job is not None or not worker.is_alive():
                continue
            job = self._next_waiting()
            if job is None:
                return
            worker.job = job
            worker.give((job.id, job.config, job.designs, job.names, str(job.spool),
                         job.workspace, self.limits.max_seconds, job.resume_from))

    def _stop(self, job: Job) -> None:
        with self._condition:
            waiting = self._waiting.get(job.workspace)
            queued = waiting is not None and job in waiting
            if queued:
                waiting.remove(job)
            else:
                for worker in self._workers:
                    if worker is not None and worker.job is job:
                        worker.stop.set()
        if queued:
            self._finish(job, STOPPED, "stopped before it started")

    # ---------------------------------------------------------------------------------------
    # The listener thread: events in, dead or overdue workers out
    # ---------------------------------------------------------------------------------------

    def _listen(self) -> None:
        try:
            checked = 0.0
            while not self._closed.is_set():
                if time.monotonic() - checked > _POLL_SECONDS:
                    # Every event already sent first: a worker's "saving" may be waiting
                    # behind progress events, and must count before a time-limit kill.
                    while self._receive(timeout=0):
                        pass
                    self._check_workers()
                    checked = time.monotonic()
                self._receive(timeout=_POLL_SECONDS)
        except BaseException as error:  # the queue's own thread must never die silently
            self._break(f"the job queue stopped working ({type(error).__name__}: {error})")

    def _receive(self, timeout: float) -> bool:
        """Applies one event from each worker's pipe that has one, waiting up to `timeout`;
        says whether any came. The pipe of a worker that ended is closed (the next check
        replaces the worker)."""
        with self._condition:
            pipes = [worker.events for worker in self._workers
                     if worker is not None and not worker.events.closed]
        received = False
        for pipe in multiprocessing.connection.wait(pipes, timeout):
            try:
                event = pipe.recv()
            except (EOFError, OSError):  # its worker ended, or was killed by the last event
                pipe.close()
                continue
            received = True
            self._apply_safely(event)
        return received

    def _apply_safely(self, event) -> None:
        job = None
        try:
            job_id, kind, payload = event
            job = self._jobs.get(job_id)
            if job is not None:
                self._apply(job, kind, payload)
        except Exception as error:
            if job is not None:
                self._finish(job, FAILED, "the server could not process this job's progress "
                                          f"({type(error).__name__}: {error})")
                self._release(job, replace_worker=True)

    def _apply(self, job: Job, kind: str, payload) -> None:
        if kind == "progress":
            branch, event = payload
            if job._progress(branch, event):
                self._record(job)
        elif kind == STAGE:
            job._stage(*payload)
        elif kind == RUNNING:
            job._set(RUNNING, at=payload)
            self._record(job)
        elif kind == TRAINING:
            job._training_since = payload
        elif kind == SAVING:
            job._saving = True
        else:
            status, error, run_ids, at = payload
            job._set(status, error=error, run_ids=run_ids, at=at)
            self._record(job)
            self._release(job)

    def _release(self, job: Job, replace_worker: bool = False) -> None:
        with self._condition:
            self._jobs.pop(job.id, None)
            for index, worker in enumerate(self._workers):
                if worker is not None and worker.job is job:
                    worker.job = None
                    if replace_worker:
                        self._kill(index)
            self._dispatch()
        if job.spool is not None:
            job.spool.unlink(missing_ok=True)

    def _check_workers(self) -> None:
        """Fails the job of a dead worker, kills a worker whose run trained past its time
        limit by more than `kill_grace` (not one saving its runs), and (re)starts missing
        workers."""
        now = time.time()
        with self._condition:
            if self._closed.is_set():
                return
            overdue = self.limits.max_seconds + kill_grace(self.limits.max_seconds)
            for index, worker in enumerate(self._workers):
                if worker is None:
                    continue
                job = worker.job
                if not worker.is_alive():
                    if job is not None:
                        self._finish(job, FAILED, (
                            f"the training process ended unexpectedly ({worker.exit_note}); "
                            "the server may be out of memory"))
                        worker.job = None
                    self._workers[index] = None
                elif (job is not None and job._training_since and not job._saving
                      and now - job._training_since > overdue):
                    self._finish(job, FAILED, self._overdue_message(job))
                    worker.job = None
                    self._kill(index)
            for index, worker in enumerate(self._workers):
                if worker is None:
                    try:
                        self._workers[index] = self._new_worker(index)
                    except Exception as error:  # e.g. OSError after an OOM kill: retry later
                        self._fail_next_waiting(f"no training process could be started "
                                                f"({type(error).__name__}: {error})")
            self._dispatch()

    def _overdue_message(self, job: Job) -> str:
        limit, grace = self.limits.max_seconds, kill_grace(self.limits.max_seconds)
        if job.kind == TRAIN:
            return (f"the time limit of {limit:g} s passed and the run did not stop within "
                    f"{grace:g} s more; its worker was replaced, so no run could be saved")
        return (f"the time limit of {limit:g} s (and {grace:g} s more) passed before this "
                f"{job.kind} job ended; its worker was replaced (the runs it finished keep "
                "their results)")

    def _kill(self, index: int) -> None:
        """Kills worker `index` (called with `_condition` held); the next check replaces it."""
        worker = self._workers[index]
        if worker is not None:
            worker.kill()
            self._workers[index] = None

    def _fail_next_waiting(self, message: str) -> None:
        """When no worker can start, the job that would run next fails rather than waits
        forever; later checks retry with the others."""
        if not any(worker is not None for worker in self._workers):
            job = self._next_waiting()
            if job is not None:
                self._finish(job, FAILED, message)

    def _finish(self, job: Job, status: str, message: str) -> None:
        job._set(status, error=message)
        self._record(job)
        self._jobs.pop(job.id, None)
        if job.spool is not None:
            job.spool.unlink(missing_ok=True)

    def _break(self, message: str) -> None:
        with self._condition:
            self._broken = message
            unfinished = [job for job in self._jobs.values() if job.status not in TERMINAL]
        for job in unfinished:
            self._finish(job, FAILED, message)

    def _check_alive(self) -> None:
        """If the queue's thread died, its jobs fail now rather than look alive forever."""
        listener = self._listener
        if listener is not None and not listener.is_alive() and not self._closed.is_set():
            self._break(self._broken or "the job queue's event thread stopped")

    def _record(self, job: Job) -> None:
        if self._records is not None and job.kind == TRAIN:
            # A full disk must not stop training: the job lives on in memory.
            with contextlib.suppress(OSError):
                self._records.write(job.record())


def _serve(tasks, events, stop, store, max_runs) -> None:
    """A worker process: does the jobs it is handed, one at a time, sending their events
    down `events` (its end of its own pipe)."""
    while (task := tasks.get()) is not None:
        events.send((task[0], RUNNING, time.time()))
        job_id, config, designs, names, spool, workspace, max_seconds, resume_from = task
        try:
            dataset = unspool_dataset(Path(spool))
        except (OSError, ValueError) as error:
            events.send((job_id, "ended", (FAILED, f"the job's data was lost: {error}", [],
                                           time.time())))
            continue
        events.send(_perform((job_id, config, designs, names, dataset, workspace,
                              max_seconds, resume_from), store, max_runs, events.send, stop))


def _train_task_on_ray(task, store, max_runs, progress, flag):
    """A Ray task: `_train_task`, stopped through `flag` (`limconn.raystop.run_task`); a
    stop that comes before training ends the job stopped, without a run."""
    from limconn.raystop import result, run_task

    def send(event) -> None:
        result(progress.actor.put_nowait.remote(event))  # not `progress.put`: see `result`
        flag.training()

    return run_task(
        flag, lambda stop: _perform(task, store, max_runs, send, stop),
        stopped=lambda: (task[0], "ended", (STOPPED, "stopped before it started", [],
                                            time.time())))


def _perform(task, store, max_runs, send, stop) -> tuple:
    """A job's work in a worker: `_runs_task` for work on stored runs, else `_train_task`."""
    work = _runs_task if isinstance(task[1], RunsRequest) else _train_task
    return work(task, store, max_runs, send, stop)


def _runs_task(task, store, max_runs, send, stop) -> tuple:
    """Computes the request's result for each of its runs of the job's workspace on the
    job's data and caches it in the run folder (`RunsRequest.compute`), sending its stages;
    returns the job's "ended" event (failed at the first run that cannot be done, naming
    it). The queue's time limit counts from the start (`TRAINING`)."""
    job_id, request, _, _, dataset, workspace, _, _ = task
    send((job_id, TRAINING, time.time()))  # the time limit counts from here
    for index, run_id in enumerate(request.run_ids):
        try:
            folder = store.load(run_id, workspace).info.path
            request.compute(folder, dataset, lambda stage, index=index: send(
                (job_id, STAGE, (index, str(stage)))))
        except Exception as error:  # reported to the page, never raised in the worker
            return job_id, "ended", (FAILED, f"run {run_id}: {type(error).__name__}: {error}",
                                     [], time.time())
    return job_id, "ended", (DONE, "", list(request.run_ids), time.time())


def _train_task(task, store, max_runs, send, stop) -> tuple:
    """Trains one job's group and saves its runs; returns the job's "ended" event.

    `send` takes progress events, at most one batch event per run every
    `_BATCH_EVENT_SECONDS` (and every epoch's last batch and end), and the `TRAINING` and
    `SAVING` events that bound the time the queue's time limit counts. `store` (the queue's
    `RunStore`, handed over whole so its workspace folder naming travels with it) saves them,
    and keeps the job's checkpoint after every finished epoch (`RunStore.checkpoint_path`):
    it outlives a stop, the time limit and a killed worker, for `JobQueue.resume`, and goes
    once the job is done. A resumed job continues from `resume_from`, the checkpoint of the
    job it resumes, which goes once this one saved its runs.
    """
    from limconn.checkpoints import read_checkpoint
    from limconn.training import train_group

    job_id, config, designs, names, dataset, workspace, max_seconds, resume_from = task
    checkpoint = None if store is None else store.checkpoint_path(workspace, job_id)
    sent = dict.fromkeys(range(len(designs)), 0.0)

    def report(event):
        now = time.monotonic()
        last_batch = event.step == event.steps_per_epoch
        if event.kind == "batch" and not last_batch and now - sent[event.branch] < (
                _BATCH_EVENT_SECONDS):
            return
        sent[event.branch] = now
        send((job_id, "progress", (event.branch, {
            "kind": event.kind, "epoch": event.epoch, "epochs": event.epochs,
            "step": event.step, "steps_per_epoch": event.steps_per_epoch,
            "logs": dict(event.logs), "elapsed": event.elapsed, "eta": event.eta,
            "fraction": event.fraction,
        })))

    try:
        results = train_group(
            config, designs, dataset, on_progress=report, stop_event=stop,
            max_seconds=max_seconds, on_start=lambda: send((job_id, TRAINING, time.time())),
            checkpoint=checkpoint,
            resume_from=None if resume_from is None else read_checkpoint(resume_from))
        send((job_id, SAVING, time.time()))
        run_ids = ["" if store is None else store.save(result, workspace, name,
                                                       keep=max_runs).id
                   for result, name in zip(results, names, strict=True)]
        done, kept = results[0].status == DONE, results[0].checkpoint is not None
        # The resumed job's checkpoint goes once this one has its own (or needs none).
        for superseded in ([checkpoint] if done and checkpoint is not None else []) + (
                [resume_from] if resume_from is not None and (done or kept) else []):
            Path(superseded).unlink(missing_ok=True)
        return job_id, "ended", (results[0].status, results[0].stop_reason, run_ids,
                                 time.time())
    except Exception as error:  # a failed job is reported, never raised in the worker
        return job_id, "ended", (FAILED, f"{type(error).__name__}: {error}", [], time.time())
