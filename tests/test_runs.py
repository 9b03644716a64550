"""The run store keeps what a run produced, whole or not at all, and survives broken folders."""

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from limconn import Head, build_model, compare, data, load_mask_npy, presets, runs
from limconn.training import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=200, timesteps=10)


@pytest.fixture(scope="module")
def result(dataset):
    design = presets.random(2, 8, density=0.5, seed=1)
    return train(TrainConfig(epochs=2, batch_size=32, seed=0), design, dataset)


@pytest.fixture(scope="module")
def stopped_result(dataset):
    """A real run stopped by its stop event after the first batch of 5 epochs."""
    stop = threading.Event()
    stop.set()
    design = presets.banded(2, 8, width=1)
    return train(TrainConfig(epochs=5, batch_size=32), design, dataset, stop_event=stop)


@pytest.fixture
def store(tmp_path):
    return runs.RunStore(tmp_path / "runs")


def test_save_list_load_round_trip(store, result, dataset):
    info = store.save(result, workspace="lab", name="first run")

    assert store.list("lab") == [info] == store.list()
    assert store.problems == []
    assert sorted(os.listdir(info.path)) == sorted(runs.RUN_FILES)
    assert (info.workspace, info.name, info.status, info.strategy) == (
        "lab", "first run", "done", "kernel",
    )
    assert (info.dataset, info.design, info.epochs) == ("adding", "random", 2)
    assert info.max_masked_weight == 0.0
    assert info.best_val_loss == result.metrics["best_val_loss"]

    run = store.load(info.id, "lab")
    assert run.info == info
    assert run.config == result.config
    expected_history = pd.DataFrame(result.history)[run.history.columns]
    pd.testing.assert_frame_equal(run.history, expected_history)
    assert list(run.history.columns[:3]) == ["epoch", "loss", "val_loss"]
    assert run.history.columns[-1] == "seconds"
    assert run.connectivity == result.connectivity
    assert run.weights.keys() == result.weights.keys()
    for key, value in result.weights.items():
        np.testing.assert_array_equal(run.weights[key], value)
    assert run.record["metrics"] == result.metrics
    assert run.record["design"]["effective_parameters"] == result.connectivity.stats(
    ).effective_parameters
    backend = keras.config.backend()
    assert run.record["versions"]["backend"] == backend
    assert set(run.record["versions"]) == {"limconn", "keras", "backend", backend, "numpy",
                                           "python"}

    x = dataset.x[:16]
    np.testing.assert_array_equal(
        run.load_model().predict(x, verbose=0), result.model.predict(x, verbose=0)
    )


def test_export_zip_holds_the_run_and_each_mask_as_npy(store, result):
    info = store.save(result)
    archive = zipfile.ZipFile(io.BytesIO(store.export_zip(info.id)))
    expected = {*runs.RUN_FILES, *runs.MASK_FILES.values()}
    assert set(archive.namelist()) == {f"{info.id}/{name}" for name in expected}
    for field, name in runs.MASK_FILES.items():
        ndims = (1,) if field == "output_mask" else (2, 3)
        mask = load_mask_npy(io.BytesIO(archive.read(f"{info.id}/{name}")), field, ndims)
        np.testing.assert_array_equal(mask, getattr(result.connectivity, field))


def test_a_stopped_run_is_saved_with_its_partial_history(store, stopped_result):
    assert stopped_result.status == "stopped"
    info = store.save(stopped_result)
    run = store.load(info.id)
    assert (info.status, info.stop_reason) == ("stopped", "stopped by request")
    assert run.config.epochs == 5
    assert len(run.history) == info.epochs == 1
    assert run.history["loss"].tolist() == [row["loss"] for row in stopped_result.history]


def test_a_writer_killed_midway_leaves_no_run_only_a_reported_leftover(store, result):
    """A real process starts saving a run, stalls inside `model.save`, and gets SIGKILL."""
    good = store.save(result, workspace="lab")
    script = textwrap.dedent(
        """
        import sys, time
        import keras
        from limconn import data, presets, runs, training

        dataset = data.make_task("adding", num_samples=64, timesteps=5)
        result = training.train(training.TrainConfig(epochs=1), presets.dense(2, 4), dataset)

        def save_slowly(model, path, *args, **kwargs):
            with open(path, "wb") as stream:
                stream.write(b"PK half a model")
                stream.flush()
                time.sleep(600)

        keras.Model.save = save_slowly
        runs.RunStore(sys.argv[1]).save(result, workspace="lab")
        """
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script, str(store.root)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: list(store.root.glob("lab/.tmp-*/model.keras")), writer)
    finally:
        writer.kill()
        writer.communicate()

    entries = sorted(entry.name for entry in (store.root / "lab").iterdir())
    assert len(entries) == 2 and entries[0].startswith(".tmp-") and entries[1] == good.id
    assert store.list() == [good]
    [(path, message)] = store.problems
    assert path.name == entries[0] and "unfinished" in message


def _wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the writer exited early:\n{process.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail("the writer never reached model.save")
        time.sleep(0.05)


def test_broken_run_folders_are_skipped_and_reported(store, result):
    good = store.save(result)
    workspace = good.path.parent
    broken = {
        "20000101-000000-000000-aaaaaa": ("bad json", "not valid JSON"),
        "20000101-000000-000000-bbbbbb": ("no model", "lacks model.keras"),
        "20000101-000000-000000-cccccc": ("no run.json", "has no run.json"),
        "20000101-000000-000000-dddddd": ("no status", "lacks 'status'"),
    }
    for run_id in broken:
        shutil.copytree(good.path, workspace / run_id)
    (workspace / "20000101-000000-000000-aaaaaa" / runs.RUN_FILE).write_text("{not json")
    (workspace / "20000101-000000-000000-bbbbbb" / runs.MODEL_FILE).unlink()
    (workspace / "20000101-000000-000000-cccccc" / runs.RUN_FILE).unlink()
    record_path = workspace / "20000101-000000-000000-dddddd" / runs.RUN_FILE
    record = json.loads(record_path.read_text())
    del record["status"]
    record_path.write_text(json.dumps(record))
    (workspace / "not a run id").mkdir()
    (workspace / "notes.txt").write_text("a stray file is ignored")

    assert store.list() == [good]
    problems = {path.name: message for path, message in store.problems}
    assert set(problems) == {*broken, "not a run id"}
    for run_id, (_, reason) in broken.items():
        assert reason in problems[run_id]
        with pytest.raises(ValueError, match=reason):
            store.load(run_id)


def test_a_run_folder_from_before_initial_weights_still_lists_loads_and_exports(store, result):
    info = store.save(result)
    (info.path / runs.INITIAL_WEIGHTS_FILE).unlink()
    assert store.list() == [info] and store.problems == []
    assert store.load(info.id).info == info
    names = zipfile.ZipFile(io.BytesIO(store.export_zip(info.id))).namelist()
    assert f"{info.id}/{runs.MODEL_FILE}" in names
    assert f"{info.id}/{runs.INITIAL_WEIGHTS_FILE}" not in names


def test_initial_weights_load_into_a_fresh_model_of_the_same_strategy(store, result, dataset):
    info = store.save(result)
    model = build_model("kernel", result.connectivity, dataset.x.shape[1:],
                        Head("regression", 1))
    model.load_weights(info.path / runs.INITIAL_WEIGHTS_FILE)
    for loaded, initial in zip(model.get_weights(), result.initial_weights, strict=True):
        np.testing.assert_array_equal(loaded, initial)
    assert not np.array_equal(model.get_weights()[0], result.model.get_weights()[0])


def test_rename_rewrites_run_json_and_delete_removes_the_folder(store, result):
    info = store.save(result)
    renamed = store.rename(info.id, "default", "  a better name ")
    assert renamed.name == "a better name"
    assert store.list() == [renamed]
    assert sorted(os.listdir(info.path)) == sorted(runs.RUN_FILES)
    with pytest.raises(ValueError, match="non-empty"):
        store.rename(info.id, "default", "   ")

    store.delete(info.id)
    assert not info.path.exists()
    assert store.list() == [] and store.problems == []
    with pytest.raises(ValueError, match="No run"):
        store.delete(info.id)


def test_edit_sets_tags_and_a_note_and_a_bad_value_changes_nothing(store, result):
    info = store.save(result, name="first")
    edited = store.edit(info.id, "default", tags=[" lr ", "sweep", "lr"], note=" try 0.1 ")
    assert edited.tags == ("lr", "sweep") and edited.note == "try 0.1"
    assert edited.name == "first"
    for bad, message in (({"tags": ["ok", "x" * 41]}, "Received: 'xxxx"),
                         ({"tags": "lr"}, "list of texts"),
                         ({"name": "renamed", "note": "n" * 10_001}, "10,001 characters")):
        with pytest.raises(ValueError, match=message):
            store.edit(info.id, "default", **bad)
    assert store.list() == [edited]  # nothing of a refused edit was written
    assert store.edit(info.id, "default", tags=[]).tags == ()


def test_run_json_records_the_data_hash_and_compare_notes_runs_on_other_data(store, result,
                                                                           dataset):
    first, second = store.save(result, name="first"), store.save(result, name="second")
    assert first.data_hash == dataset.content_hash() == second.data_hash
    assert compare.data_note([first, second]) == ""
    record = json.loads((second.path / runs.RUN_FILE).read_text())
    record["dataset"]["hash"] = "f" * 64
    (second.path / runs.RUN_FILE).write_text(json.dumps(record))
    note = compare.data_note(store.list())
    assert note.startswith("These runs did not all see the same data") and "ffffffff" in note


@pytest.mark.parametrize("bad", ["..", "../escape", "a/b", "/abs", "", ".tmp-x", "-rf", "a b"])
def test_unsafe_workspace_and_run_ids_are_refused(store, result, tmp_path, bad):
    for attempt in (
        lambda: store.save(result, workspace=bad),
        lambda: store.list(bad),
        lambda: store.load("x", bad),
        lambda: store.load(bad),
        lambda: store.delete(bad),
        lambda: store.rename(bad, "default", "name"),
        lambda: store.export_zip(bad),
        lambda: runs.write_run_folder(
            result, tmp_path / "out", run_id=bad, name="n", workspace="default"
        ),
    ):
        with pytest.raises(ValueError, match="Received"):
            attempt()
    assert not (tmp_path / "escape").exists() and not (tmp_path / "out").exists()


def test_write_run_folder_refuses_an_existing_folder_and_leaves_nothing(result, tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        runs.write_run_folder(result, tmp_path / "run", run_id="r1", name="n", workspace="w")
    assert os.listdir(tmp_path) == ["run"]


def test_limconn_home_is_honoured(monkeypatch, tmp_path, result):
    monkeypatch.setenv("LIMCONN_HOME", str(tmp_path))
    info = runs.RunStore().save(result)
    assert info.path.parent == tmp_path / "runs" / "default"
    monkeypatch.delenv("LIMCONN_HOME")
    assert runs.RunStore().root == Path.home() / ".limconn" / "runs"


def test_workers_pruning_at_the_run_limit_at_once_all_succeed(store, result):
    """Four workers save at the run limit at the same moment: each old run is deleted once,
    and a run another worker already deleted is no error."""
    first = store.save(result, "ws")
    for number in range(30):
        shutil.copytree(first.path, first.path.with_name(f"{first.id[:-1]}{number:02d}x"))
    start = threading.Barrier(4)
    failures = []

    def worker():
        start.wait()
        try:
            store.prune("ws", keep=2)
        except Exception as error:  # what used to fail the job
            failures.append(error)

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert failures == [] and len(store.list("ws")) == 2 and not store.problems


def test_a_run_folder_is_on_disk_before_its_name_says_it_is_whole(result, tmp_path,
                                                                   monkeypatch):
    """Every file and the folder are flushed (`fsync`) before the rename, the parent after."""
    flushed, renamed = [], []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(
        os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    monkeypatch.setattr(os, "rename", lambda a, b: renamed.append(len(flushed)) or
                        real_rename(a, b))
    folder = runs.write_run_folder(result, tmp_path / "ws" / "run", run_id="run", name="n",
                                   workspace="ws")
    [at_rename] = renamed
    names_flushed_first = {Path(path).name for path in flushed[:at_rename]}
    assert set(runs.RUN_FILES) <= names_flushed_first
    assert any(name.startswith(runs.TEMP_PREFIX) for name in names_flushed_first)
    assert flushed[at_rename:] == [str(folder.parent)]


def test_run_json_training_controls_are_checked_and_older_runs_get_the_defaults(store, result):
    info = store.save(result, "w")
    path = info.path / runs.RUN_FILE
    record = json.loads(path.read_text())
    assert record["config"]["test_split"] == 0.0 and record["config"]["weight_decay"] is None
    for key in ("test_split", "early_stopping", "lr_schedule", "warmup_steps", "clipnorm",
                "weight_decay", "l1", "l2"):
        del record["config"][key]  # as a run from before the controls
    path.write_text(json.dumps(record))
    assert store.load(info.id, "w").config == result.config
    record["config"]["early_stopping"] = -1
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"broken: early_stopping must be >= 0 \(0: off\). "
                                         r"Received: early_stopping=-1"):
        store.load(info.id, "w")
