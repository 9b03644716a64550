"""The job queue: bounded, fair across workspaces, every job ends with a reason, records
survive a restart, and a failure in the queue's own machinery fails jobs instead of hanging."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from limconn import data, jobs, presets, raystop
from limconn.jobs import (
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STOPPED,
    TERMINAL,
    WATCH_SECONDS,
    JobQueue,
    JobSnapshot,
    JobStore,
    watch_seconds,
)
from limconn.runs import RunStore
from limconn.settings import Limits
from limconn.trainconfig import TrainConfig
from limconn.workspaces import workspace_folder
from tests import raytasks
from tests.chatty_work import Chatter, Nothing
from tests.intervals import most_at_once


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=256, timesteps=10)


def _wait_until(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _queue(tmp_path, **limits) -> JobQueue:
    return JobQueue(limits=Limits(**{"max_jobs": 1, **limits}),
                    store=RunStore(tmp_path / "runs"), home=tmp_path)


def test_queue_runs_at_most_n_at_once_saves_runs_and_ends_every_job(dataset, tmp_path):
    queue = _queue(tmp_path, max_jobs=2)
    design = presets.random(2, 4, density=0.5, seed=0)
    try:
        submitted = [queue.submit(TrainConfig(epochs=3, batch_size=64), design, dataset, "ws",
                                  [f"run {n}"]) for n in range(4)]
        submitted.append(queue.submit(
            TrainConfig(epochs=2, strategy="random_dynamic", strategy_options={"rate": 2.0}),
            design, dataset, "ws",
        ))
        assert [job.snapshot().position for job in submitted] == [0, 0, 1, 2, 3]
        assert submitted[2].snapshot().status == QUEUED
        for job in submitted:
            assert job.wait(timeout=300)
    finally:
        queue.close()
    done = [job.snapshot() for job in submitted[:4]]
    assert [s.status for s in done] == ["done"] * 4
    assert 1 <= most_at_once((s.started, s.ended) for s in done) <= 2
    assert all(len(s.history) == 3 and s.run_id for s in done)
    assert sorted(info.name for info in queue.store.list("ws")) == [f"run {n}" for n in range(4)]
    failed = submitted[-1].snapshot()
    assert failed.status == FAILED and "rate must be in [0, 1). Received: rate=2.0" in failed.error
    assert not list((tmp_path / "spool").iterdir())  # queued data is cleaned up


def test_a_group_job_trains_several_designs_and_saves_a_run_each(dataset, tmp_path):
    queue = _queue(tmp_path)
    designs = [presets.random(2, 4, density=0.5, seed=s) for s in (0, 1)]
    try:
        job = queue.submit(TrainConfig(epochs=2), designs, dataset, "ws", ["a", "b"])
        assert job.wait(timeout=300)
    finally:
        queue.close()
    snapshot = job.snapshot()
    assert snapshot.status == "done" and len(snapshot.run_ids) == 2
    assert [len(run.history) for run in snapshot.runs] == [2, 2]
    assert snapshot.runs[0].history != snapshot.runs[1].history  # each branch its own
    assert sorted(info.name for info in queue.store.list("ws")) == ["a", "b"]


def test_workspaces_are_served_in_turn(dataset, tmp_path):
    queue = _queue(tmp_path)
    design = presets.dense(2, 4)
    try:
        first = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset, "a")
        second, third = (queue.submit(TrainConfig(epochs=1), design, dataset, "a")
                         for _ in range(2))
        other = queue.submit(TrainConfig(epochs=1), design, dataset, "b")
        assert [j.snapshot().position for j in (first, second, other, third)] == [0, 1, 2, 3]
        assert [j.id for j in queue.jobs("b")] == [other.id]  # a workspace sees its own
        first.stop()
        for job in (second, third, other):
            assert job.wait(timeout=300)
    finally:
        queue.close()
    started = sorted((j.snapshot().started, j.workspace) for j in (second, third, other))
    assert [workspace for _, workspace in started] == ["a", "b", "a"]


def test_most_at_once_counts_overlaps_and_not_a_hand_over():
    assert most_at_once([(0, 2), (1, 3), (2, 4)]) == 2  # the first ends as the third starts
    assert most_at_once([(0, 5), (1, 2), (3, 4), (1.5, 3.5)]) == 3
    assert most_at_once([]) == 0


def test_a_page_watches_a_job_less_often_the_further_back_it_waits():
    def job(status, position=0):
        return JobSnapshot(id="j", workspace="w", status=status, position=position, runs=(),
                           error="", submitted=0.0, started=None, ended=None, version=0)

    far, next_up = job(QUEUED, position=3), job(QUEUED, position=2)
    assert watch_seconds([far], slots=2) == WATCH_SECONDS["waiting"]
    assert watch_seconds([far, next_up], slots=2) == WATCH_SECONDS["next"]
    handed_to_a_worker = job(QUEUED, position=0)
    assert watch_seconds([far, handed_to_a_worker], slots=2) == WATCH_SECONDS["training"]
    assert watch_seconds([job(RUNNING), far], slots=2) == WATCH_SECONDS["training"]
    assert watch_seconds([job(DONE), job(FAILED)], slots=2) is None
    assert WATCH_SECONDS["training"] < WATCH_SECONDS["next"] < WATCH_SECONDS["waiting"]


def test_stopping_a_queued_job_ends_it_and_a_running_one_keeps_its_partial_run(
    dataset, tmp_path
):
    queue = _queue(tmp_path)
    design = presets.dense(2, 4)
    try:
        first = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset, "ws")
        second = queue.submit(TrainConfig(epochs=1), design, dataset, "ws")
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
    run = queue.store.load(snapshot.run_id, "ws")
    assert run.info.status == "stopped" and 1 <= len(run.history) < 200
    assert all(job.status in TERMINAL for job in (first, second))


def test_a_killed_worker_fails_its_job_and_the_queue_goes_on(dataset, tmp_path):
    queue = _queue(tmp_path)
    design = presets.dense(2, 4)
    try:
        doomed = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset, "ws")
        _wait_until(lambda: doomed.status == RUNNING)
        os.kill(queue._workers[0].process.pid, signal.SIGKILL)
        assert doomed.wait(timeout=30)
        assert doomed.status == FAILED and "ended unexpectedly" in doomed.snapshot().error
        after = queue.submit(TrainConfig(epochs=1), design, dataset, "ws")
        assert after.wait(timeout=120) and after.status == "done"
    finally:
        queue.close()


def test_a_run_past_its_time_limit_is_ended_by_replacing_its_worker(dataset, tmp_path,
                                                                    monkeypatch):
    """The worker stops a run within a batch of its time limit (validation included); if it
    still has not ended `kill_grace` later, the queue kills the worker. The grace is 0 here,
    so the kill comes while the first batch is still being traced."""
    monkeypatch.setattr(jobs, "kill_grace", lambda seconds: 0.0)
    queue = _queue(tmp_path, max_seconds=0.5)
    design = presets.dense(2, 4)
    try:
        overdue = queue.submit(TrainConfig(epochs=200), design, dataset, "ws")
        assert overdue.wait(timeout=60)
        assert overdue.status == FAILED and "worker was replaced" in overdue.snapshot().error
    finally:
        queue.close()


def test_an_analysis_past_the_time_limit_is_ended_by_replacing_its_worker(tmp_path,
                                                                         monkeypatch):
    """Work on stored runs cannot stop midway: past the limit and the grace (0 here) its
    worker is replaced, and the next job runs in a new worker."""
    from limconn.training import train

    monkeypatch.setattr(jobs, "kill_grace", lambda seconds: 0.0)
    flips = data.make_task("flipflop", bits=2, num_samples=64, timesteps=200,
                           pulse_probability=0.2)
    queue = _queue(tmp_path, max_seconds=0.3)
    run = queue.store.save(train(TrainConfig(epochs=1, batch_size=32), presets.dense(2, 16),
                                 flips), "ws")
    try:
        overdue = queue.submit_analysis([run.id], flips, "ws")
        assert overdue.wait(timeout=120)
        assert overdue.status == FAILED, overdue.snapshot().error
        assert overdue.snapshot().error.startswith("the time limit of 0.3 s (and 0 s more) "
                                                   "passed before this analyze job ended")
        # The next job gets a fresh worker, and is bounded too (importing Keras alone takes
        # longer than 0.3 s).
        evaluation = queue.submit_evaluation([run.id], flips, "ws")
        assert evaluation.wait(timeout=120)
        assert evaluation.snapshot().error.startswith("the time limit of 0.3 s (and 0 s more) "
                                                      "passed before this evaluate job ended")
    finally:
        queue.close()


def test_a_worker_killed_while_it_sends_events_does_not_silence_the_next_worker(
    dataset, tmp_path, monkeypatch
):
    """The time limit kills a worker that is sending events nonstop. Its events went down a
    pipe of its own: with one queue shared by all workers, the killed one kept the queue's
    write lock, the next worker's events never arrived, and its job never ended."""
    from limconn.training import train

    monkeypatch.setattr(jobs, "kill_grace", lambda seconds: 0.0)
    queue = _queue(tmp_path, max_seconds=5)
    run = queue.store.save(train(TrainConfig(epochs=1), presets.dense(2, 4), dataset), "ws")
    try:
        chatty = queue.submit_request(Chatter((run.id,), "key"), dataset, "ws")
        assert chatty.wait(timeout=120) and chatty.status == FAILED
        assert "its worker was replaced" in chatty.snapshot().error
        after = queue.submit_request(Nothing((run.id,), "key"), dataset, "ws")
        assert after.wait(timeout=120)
        assert (after.status, after.snapshot().error) == (DONE, "")
    finally:
        queue.close()


def test_the_time_limit_counts_training_only_and_never_kills_a_run_being_saved(
    tmp_path, monkeypatch
):
    """A fresh worker imports Keras's backend and builds four branches for seconds, and
    saving four runs takes seconds too: neither counts, so the job is stopped by its time
    limit and saved, not killed when the limit and the grace have passed since the worker
    took it. (Tracing the first batch does count: it took 14 s here on TensorFlow, hence the
    20 s limit; the data is large enough that 200 epochs outlast it on JAX too.)"""
    monkeypatch.setattr(jobs, "kill_grace", lambda seconds: 5.0)
    queue = _queue(tmp_path, max_seconds=20)
    designs = [presets.random(2, 4, density=0.5, seed=seed) for seed in range(4)]
    dataset = data.make_task("adding", num_samples=2048, timesteps=50)
    try:
        job = queue.submit(TrainConfig(epochs=200, batch_size=16), designs, dataset, "ws",
                           [f"run {n}" for n in range(4)])
        assert job.wait(timeout=180)
    finally:
        queue.close()
    snapshot = job.snapshot()
    assert (snapshot.status, snapshot.error) == (STOPPED, "time limit of 20 s reached")
    assert len(snapshot.run_ids) == 4


def test_a_failure_in_the_queues_machinery_fails_the_job_and_the_queue_goes_on(
    dataset, tmp_path, monkeypatch
):
    queue = _queue(tmp_path)
    design = presets.dense(2, 4)
    original = jobs.Job._progress

    def broken(job, branch, event):
        if job.workspace == "unlucky":
            raise RuntimeError("cannot apply this event")
        return original(job, branch, event)

    monkeypatch.setattr(jobs.Job, "_progress", broken)
    try:
        unlucky = queue.submit(TrainConfig(epochs=3), design, dataset, "unlucky")
        assert unlucky.wait(timeout=120)
        snapshot = unlucky.snapshot()
        assert snapshot.status == FAILED
        assert "could not process this job's progress (RuntimeError: cannot apply" in (
            snapshot.error)
        fine = queue.submit(TrainConfig(epochs=1), design, dataset, "ws")
        assert fine.wait(timeout=120) and fine.status == "done"
    finally:
        queue.close()


def test_when_no_worker_can_start_the_next_job_fails_instead_of_waiting(
    dataset, tmp_path, monkeypatch
):
    queue = _queue(tmp_path)
    design = presets.dense(2, 4)
    try:
        first = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset, "ws")
        waiting = queue.submit(TrainConfig(epochs=1), design, dataset, "ws")
        _wait_until(lambda: first.status == RUNNING)

        def out_of_memory(*args, **kwargs):
            raise OSError("Cannot allocate memory")

        monkeypatch.setattr(jobs, "_Worker", out_of_memory)
        os.kill(queue._workers[0].process.pid, signal.SIGKILL)
        assert first.wait(timeout=30) and first.status == FAILED
        assert waiting.wait(timeout=30) and waiting.status == FAILED
        assert "no training process could be started (OSError: Cannot allocate memory)" in (
            waiting.snapshot().error)
        monkeypatch.undo()
        recovered = queue.submit(TrainConfig(epochs=1), design, dataset, "ws")
        assert recovered.wait(timeout=120) and recovered.status == "done"
    finally:
        queue.close()


def test_jobs_left_unfinished_by_a_stopped_server_show_as_interrupted_with_their_epochs(
    tmp_path,
):
    store = JobStore(tmp_path)
    history = [{"epoch": 1, "loss": 0.5, "val_loss": 0.6, "seconds": 1.0}]
    for job_id, status in (("aaaa", RUNNING), ("bbbb", QUEUED), ("cccc", "done")):
        store.write({"id": job_id, "workspace": "ws", "status": status, "error": "",
                     "submitted": time.time(), "started": None, "ended": None,
                     "config": TrainConfig(epochs=3).to_dict(),
                     "runs": [{"name": f"run {job_id}", "history": history, "run_id": ""}]})
    queue = JobQueue(limits=Limits(max_jobs=1), home=tmp_path)  # a server starting again
    restored = {job.id: job.snapshot() for job in queue.jobs("ws")}
    queue.close()
    assert {job_id: s.status for job_id, s in restored.items()} == {
        "aaaa": INTERRUPTED, "bbbb": INTERRUPTED, "cccc": "done"}
    assert "server stopped while this job was running" in restored["aaaa"].error
    assert list(restored["aaaa"].history) == history
    record = json.loads((workspace_folder(tmp_path, "ws") / "jobs/aaaa.json").read_text())
    assert record["status"] == INTERRUPTED and "workspace" not in record  # no id in clear


def test_submit_enforces_the_servers_limits(dataset, tmp_path):
    queue = _queue(tmp_path, max_epochs=5, max_queued_jobs=2, max_units=8, max_batch_size=64,
                   max_designs_per_job=2, max_job_memory_mb=1)
    design = presets.dense(2, 4)
    with pytest.raises(ValueError, match="at most 5 epochs. Received: 6"):
        queue.submit(TrainConfig(epochs=6), design, dataset, "ws")
    with pytest.raises(ValueError, match="at most 8 units. Received: 16"):
        queue.submit(TrainConfig(epochs=1), presets.dense(2, 16), dataset, "ws")
    with pytest.raises(ValueError, match="at most 64 batch size. Received: 128"):
        queue.submit(TrainConfig(epochs=1, batch_size=128), design, dataset, "ws")
    with pytest.raises(ValueError, match="at most 2 designs per job. Received: 3"):
        queue.submit(TrainConfig(epochs=1, batch_size=16), [design] * 3, dataset, "ws")
    larger = data.make_task("adding", num_samples=20_000, timesteps=10)
    with pytest.raises(ValueError, match=r"would need about 5 MB of memory to train; this "
                                         r"server allows 1 MB per job. Received: 20,000"):
        queue.submit(TrainConfig(epochs=1, batch_size=16), design, larger, "ws")
    for _ in range(2):
        queue.submit(TrainConfig(epochs=5, batch_size=16), design, dataset, "ws")
    with pytest.raises(ValueError, match="has 2 jobs queued or training; this server allows 2"):
        queue.submit(TrainConfig(epochs=1), design, dataset, "ws")
    queue.submit(TrainConfig(epochs=1), design, dataset, "other")  # others are not held up
    with pytest.raises(ValueError, match="max_concurrent.*0"):
        JobQueue(max_concurrent=0)
    queue.close()
    with pytest.raises(ValueError, match="closed"):
        queue.submit(TrainConfig(epochs=1), design, dataset, "ws")


def test_with_a_ray_address_jobs_train_as_ray_tasks_and_stop_like_local_ones(
    dataset, tmp_path, local_ray
):
    queue = JobQueue(limits=Limits(max_jobs=1), store=RunStore(tmp_path / "runs"),
                     home=tmp_path, ray_address="local")
    design = presets.random(2, 4, density=0.5, seed=0)
    try:
        done = queue.submit(TrainConfig(epochs=2), [design, presets.dense(2, 4)], dataset, "ws",
                            ["a", "b"])
        assert done.wait(timeout=300)
        stopped = queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset, "ws")
        _wait_until(lambda: stopped.snapshot().history, timeout=300)
        stopped.stop()
        assert stopped.wait(timeout=120)
    finally:
        queue.close()
    snapshot = done.snapshot()
    assert snapshot.status == "done" and [len(run.history) for run in snapshot.runs] == [2, 2]
    assert sorted(info.name for info in queue.store.list("ws"))[:2] == ["a", "b"]
    assert stopped.snapshot().status == "stopped"
    assert 1 <= len(queue.store.load(stopped.snapshot().run_id, "ws").history) < 200


def test_many_workspaces_submitting_at_once_cannot_pass_the_servers_caps(dataset, tmp_path):
    """Twelve fresh workspaces submit at the same moment, through `submit` itself: the
    server takes five, refuses the rest with a plain message and keeps the five queued."""
    queue = _queue(tmp_path, max_server_jobs=5, max_queued_jobs=3)
    design = presets.dense(2, 4)
    start = threading.Barrier(12)
    accepted, refused = [], []

    def visitor(number):
        start.wait()
        try:
            accepted.append(queue.submit(TrainConfig(epochs=200, batch_size=16), design,
                                         dataset, f"tab-{number}"))
        except ValueError as error:
            refused.append(str(error))

    visitors = [threading.Thread(target=visitor, args=(n,)) for n in range(12)]
    try:
        for thread in visitors:
            thread.start()
        for thread in visitors:
            thread.join()
        assert len(accepted) == 5 and len(refused) == 7
        assert set(refused) == {
            "The server is busy: 5 jobs are queued or training; try again later."}
        assert all(job.status in (QUEUED, RUNNING) for job in accepted)  # nothing lost
        assert sorted(job.snapshot().position for job in accepted)[1:] == [1, 2, 3, 4]
        assert len(list((tmp_path / "spool").iterdir())) == 5
    finally:
        queue.close()


def test_queued_data_is_capped_in_bytes_across_workspaces(tmp_path):
    queue = _queue(tmp_path, max_spool_mb=1)
    design = presets.dense(2, 4)
    dataset = data.make_task("adding", num_samples=5_000, timesteps=10)  # 0.4 MB
    try:
        for workspace in ("a", "b"):
            queue.submit(TrainConfig(epochs=200, batch_size=16), design, dataset, workspace)
        with pytest.raises(ValueError, match=r"The server is busy: queued jobs' data takes "
                                             r"0.8 MB of the 1 MB it keeps, and this job's "
                                             r"data is 0.4 MB; try again later."):
            queue.submit(TrainConfig(epochs=1), design, dataset, "c")
    finally:
        queue.close()


def test_a_second_server_on_the_same_home_refuses_to_start_naming_the_first(tmp_path):
    first = JobQueue(home=tmp_path)
    try:
        server = f"from limconn.jobs import JobQueue; JobQueue(home={str(tmp_path)!r})"
        second = subprocess.run([sys.executable, "-c", server], capture_output=True,
                                text=True, timeout=120)
    finally:
        first.close()
    assert second.returncode != 0
    assert (f"RuntimeError: Another limconn server uses this home: {tmp_path / 'server.lock'} "
            f"is held by pid {os.getpid()} on host {socket.gethostname()}.") in second.stderr
    JobQueue(home=tmp_path).close()  # once the first has stopped, a server starts again


def test_a_starting_server_removes_what_a_stopped_one_left(tmp_path, caplog):
    unfinished_run = tmp_path / "runs" / "ws" / ".tmp-20261201-000000-abc"
    unfinished_run.mkdir(parents=True)
    (unfinished_run / "run.json").write_text("{}")
    (tmp_path / "runs" / "ws" / "20261201-000000-def").mkdir()  # not temporary: kept
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "0123abcd.npz").write_bytes(b"queued data of a dead server")
    with caplog.at_level(logging.WARNING, logger="limconn.jobs"):
        _queue(tmp_path).close()
    assert not unfinished_run.exists() and not (tmp_path / "spool" / "0123abcd.npz").exists()
    assert (tmp_path / "runs" / "ws" / "20261201-000000-def").is_dir()
    assert "Removed 2 leftover(s) of a stopped server" in caplog.text
    assert jobs.clean_leftovers(tmp_path, RunStore(tmp_path / "runs")) == []


def test_the_spool_carries_per_step_targets_and_weights_to_the_worker(tmp_path):
    sent = data.make_task("flipflop", num_samples=20, bits=2, timesteps=30,
                          pulse_probability=0.2)
    jobs.spool_dataset(sent, tmp_path / "spool.npz")
    received = jobs.unspool_dataset(tmp_path / "spool.npz")
    assert received.per_step
    for field in ("x", "y", "weights"):
        np.testing.assert_array_equal(getattr(received, field), getattr(sent, field))
    # The memory estimate counts them too: 2 outputs and 1 weight per step.
    assert jobs._step_targets(sent) == 3 and jobs._step_targets(data.make_task(
        "adding", num_samples=10)) == 0


LONG = TrainConfig(epochs=10_000, batch_size=16)
"""A job that only a stop ends."""


def _ray_queue(tmp_path, max_jobs):
    return JobQueue(limits=Limits(max_jobs=max_jobs, max_epochs=LONG.epochs),
                    store=RunStore(tmp_path / "runs"), home=tmp_path, ray_address="local")


def test_stopping_ray_jobs_while_they_train_and_before_their_task_starts(
    dataset, tmp_path, local_ray, monkeypatch
):
    """Three slots, 2 CPUs: two jobs' Ray tasks train, the third task waits for a CPU. The
    third is stopped first; the two then end after their batch, with their partial runs;
    the third's task then starts, reads its stop and ends without training."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(jobs, "_train_task_on_ray",
                        raytasks.watched(jobs._train_task_on_ray, signals))
    queue = _ray_queue(tmp_path, max_jobs=3)
    try:
        submitted = [queue.submit(LONG, presets.random(2, 4, density=0.5, seed=n), dataset, "ws",
                                  [f"run {n}"]) for n in range(3)]
        raytasks.wait_until(lambda: len(raytasks.files(signals, "training")) == 2)
        trained = raytasks.files(signals, "training")
        training = [job for job in submitted
                    if raytasks.file_name("training", job.id) in trained]
        [waiting] = [job for job in submitted if job not in training]
        assert raytasks.files(signals, "started") == sorted(
            raytasks.file_name("started", job.id) for job in training)
        assert waiting.status == RUNNING  # handed to its slot, its Ray task not started
        waiting.stop()
        for job in training:
            job.stop()
        for job in submitted:
            assert job.wait(timeout=120)
    finally:
        queue.close()
    assert raytasks.file_name("started", waiting.id) in raytasks.files(signals, "started")
    assert len(raytasks.files(signals, "training")) == 2
    snapshot = waiting.snapshot()
    assert (snapshot.status, snapshot.error, snapshot.run_ids) == (
        STOPPED, "stopped before it started", [])
    for job in training:
        snapshot = job.snapshot()
        assert (snapshot.status, snapshot.error) == (STOPPED, "stopped by request")
        run = queue.store.load(snapshot.run_id, "ws")
        assert run.info.path.is_dir()
        assert (run.info.status, run.info.stop_reason) == (STOPPED, "stopped by request")
        assert 1 <= len(run.history) < LONG.epochs
        assert [row["epoch"] for row in snapshot.history] == [
            row["epoch"] for row in run.history.to_dict("records")]
    assert sorted(info.name for info in queue.store.list("ws")) == sorted(
        job.names[0] for job in training)


def test_a_ray_job_stopped_during_its_tasks_start_up_ends_stopped_without_a_run(
    dataset, tmp_path, local_ray, monkeypatch
):
    """The task is held in its start-up (as while it unpickles its data or imports
    TensorFlow) until its stop is on the board; `ray.cancel`'s Ctrl-C was lost there."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(jobs, "_train_task_on_ray",
                        raytasks.watched(jobs._train_task_on_ray, signals, hold_start=True))
    queue = _ray_queue(tmp_path, max_jobs=1)
    try:
        job = queue.submit(LONG, presets.dense(2, 4), dataset, "ws")
        raytasks.wait_until(lambda: raytasks.files(signals, "started"))
        job.stop()
        assert job.wait(timeout=60)
    finally:
        queue.close()
    snapshot = job.snapshot()
    assert (snapshot.status, snapshot.error, snapshot.run_ids) == (
        STOPPED, "stopped before it started", [])
    assert snapshot.history == () and raytasks.files(signals, "training") == []
    assert queue.store.list("ws") == []


def test_a_ray_job_whose_task_ignores_its_stop_is_cancelled_by_force_after_the_grace(
    dataset, tmp_path, local_ray, monkeypatch
):
    """The last resort (this kills a Ray worker, so it runs last in the module)."""
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.setattr(jobs, "_train_task_on_ray",
                        raytasks.watched(jobs._train_task_on_ray, signals, ignore_stop=True))
    monkeypatch.setattr(raystop, "STOP_GRACE_SECONDS", 0.5)
    queue = _ray_queue(tmp_path, max_jobs=1)
    try:
        job = queue.submit(LONG, presets.dense(2, 4), dataset, "ws")
        raytasks.wait_until(lambda: raytasks.files(signals, "started"))
        job.stop()
        assert job.wait(timeout=raytasks.HOLD_SECONDS / 2)
    finally:
        queue.close()
    snapshot = job.snapshot()
    assert (snapshot.status, snapshot.error, snapshot.run_ids) == (
        STOPPED, "stopped before it started", [])


def test_an_evaluation_job_caches_each_runs_result_and_lists_apart_from_training(
        dataset, tmp_path):
    from limconn import evaluation, run_results
    from limconn.training import train

    queue = _queue(tmp_path)
    run = queue.store.save(train(TrainConfig(epochs=1, batch_size=64),
                                 presets.dense(2, 3), dataset), "ws")
    longer = data.make_task("adding", num_samples=32, timesteps=25)
    try:
        job = queue.submit_evaluation([run.id], longer, "ws")
        refused = queue.submit_evaluation([run.id], data.make_task("flipflop", num_samples=8),
                                          "ws")
        assert job.wait(120) and refused.wait(120)
        assert (job.status, job.snapshot().run_ids) == (DONE, [run.id])
        result = evaluation.cached(run.path, run_results.dataset_key(longer))
        assert (result["timesteps"], len(result["outputs"])) == (25, evaluation.SEQUENCES)
        assert refused.status == FAILED and refused.snapshot().error.startswith(f"run {run.id}")
        assert queue.jobs("ws") == [] and queue.jobs("ws", kind=jobs.EVALUATE) == [refused, job]
    finally:
        queue.close()


def test_an_analysis_job_caches_each_runs_analysis_which_the_server_reads_without_tensorflow(
        tmp_path):
    """The worker analyzes and caches; a process that only reads the cache (as the Streamlit
    server does) loads neither TensorFlow nor Keras. Another workspace's run is not found."""
    from limconn import run_results
    from limconn.training import train

    flips = data.make_task("flipflop", bits=2, num_samples=48, timesteps=12,
                           pulse_probability=0.3)
    queue = _queue(tmp_path)
    run = queue.store.save(train(TrainConfig(epochs=1, batch_size=16),
                                 presets.dense(2, 4), flips), "ws")
    try:
        job = queue.submit_analysis([run.id], flips, "ws", what=("spectrum",))
        stranger = queue.submit_analysis([run.id], flips, "other", what=("spectrum",))
        assert job.wait(180) and stranger.wait(180)
        assert (job.status, job.snapshot().run_ids) == (DONE, [run.id]), job.snapshot().error
        assert job.snapshot().runs[0].latest["stage"]  # what the worker was doing
        assert stranger.status == FAILED and stranger.snapshot().error.startswith(
            f"run {run.id}")
        assert queue.jobs("ws", kind=jobs.ANALYZE) == [job] and queue.jobs("ws") == []
        with pytest.raises(ValueError, match="Received: what=\\['trajectory'\\]"):
            queue.submit_analysis([run.id], flips, "ws", what=("trajectory",))
    finally:
        queue.close()
    key = run_results.dataset_key(flips)
    reader = (
        "import json, sys\n"
        "from limconn import run_results\n"
        f"found = run_results.cached_analysis({str(run.path)!r}, {key!r})\n"
        "print(json.dumps({'shape': found.arrays['spectrum/eigenvalues'].shape,\n"
        "                  'loaded': sorted(m for m in ('tensorflow', 'keras', 'jax')\n"
        "                                   if m in sys.modules)}))\n"
    )
    shown = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True,
                           check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert json.loads(shown.stdout) == {"shape": [4, 4], "loaded": []}
    assert run_results.cached_analysis(run.path, run_results.dataset_key(
        data.make_task("flipflop", bits=2, num_samples=8))) is None
