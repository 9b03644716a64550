"""`python -m limconn` end to end, each command in a real subprocess (each imports TF: ~5 s)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from limconn import Connectivity, Head, build_model, data, load_mask_npy, presets, runs
from limconn.enforcement import trained_weights
from limconn.trainconfig import TrainConfig

REPO = Path(__file__).resolve().parents[1]
TRAIN_ON_ADDING = [
    "--task", "adding", "--task-param", "num_samples=200", "--task-param", "timesteps=10",
]
# What TensorFlow's C++ code prints to stderr while it is imported, unless limconn quiets it.
_TF_NATIVE_LOG = re.compile(r"WARNING: All log messages before absl|[IWEF]\d{4} |To enable the ")


def _start(*args: str, home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "limconn", *map(str, args)],
        cwd=REPO,
        env={**os.environ, "LIMCONN_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: a CI runner started in the background inherits SIGINT ignored,
        # and Python then never turns Ctrl-C into KeyboardInterrupt.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cli(*args, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    process = _start(*args, home=home)
    stdout, stderr = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _limconn_stderr(stderr: str) -> list[str]:
    """stderr's lines (TensorFlow's import-time lines would be among them: they must not)."""
    return stderr.splitlines()


def test_mask_then_train_writes_a_run_folder_that_limconn_runs_reads(tmp_path):
    design_path, npy_dir, run_dir = tmp_path / "design.npz", tmp_path / "npy", tmp_path / "RUN"
    made = _cli(
        "mask", "random", "--inputs", 2, "--units", 8, "--density", 0.5, "--seed", 1,
        "--out", design_path, "--npy-dir", npy_dir, home=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    design = Connectivity.load(design_path)
    assert design == presets.random(2, 8, density=0.5, seed=1)
    for field, name in runs.MASK_FILES.items():
        ndims = (1,) if field == "output_mask" else (2, 3)
        np.testing.assert_array_equal(
            load_mask_npy(npy_dir / name, field, ndims), getattr(design, field)
        )

    trained = _cli(
        "train", "--design", design_path, "--strategy", "kernel", *TRAIN_ON_ADDING,
        "--epochs", 2, "--seed", 0, "--out", run_dir, home=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    assert "Saved to" in trained.stdout and "batch" in trained.stderr  # the tqdm bar
    assert not _TF_NATIVE_LOG.search(trained.stderr)  # TensorFlow's start-up lines are quiet
    run = runs.read_run_folder(run_dir)
    assert run.info.status == "done"
    assert len(run.history) == 2
    assert run.connectivity == design
    assert run.info.max_masked_weight == 0.0
    assert run.config.epochs == 2 and run.config.strategy == "kernel"

    # The same folder, placed in the store, is listed and exported by `runs`.
    run_id = run.record["id"]
    shutil.copytree(run_dir, tmp_path / "runs" / "default" / run_id)
    listed = _cli("runs", "list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout and "random, kernel, adding" in listed.stdout
    zip_path = tmp_path / "run.zip"
    exported = _cli("runs", "export", run_id, "--out", zip_path, home=tmp_path)
    assert exported.returncode == 0, exported.stderr
    names = zipfile.ZipFile(zip_path).namelist()
    assert f"{run_id}/model.keras" in names and f"{run_id}/input_mask.npy" in names


def test_ctrl_c_stops_training_and_saves_the_partial_run(tmp_path):
    design_path, run_dir = tmp_path / "design.npz", tmp_path / "RUN"
    presets.random(2, 8, density=0.5, seed=1).save(design_path)
    process = _start(
        "train", "--design", design_path, *TRAIN_ON_ADDING, "--epochs", 500,
        "--out", run_dir, home=tmp_path,
    )
    seen = ""
    while "val_loss" not in seen:  # the bar shows val_loss once an epoch has finished
        chunk = process.stderr.read(1)
        if not chunk:
            break
        seen += chunk
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, seen + stderr
    assert "Traceback" not in stderr
    record = json.loads((run_dir / runs.RUN_FILE).read_text())
    assert (record["status"], record["stop_reason"]) == ("stopped", "stopped by request")
    history = runs.read_run_folder(run_dir).history
    assert 1 <= len(history) == record["metrics"]["epochs_run"] < 500


def test_train_resume_continues_a_stopped_run_folder_to_its_epoch_count(tmp_path):
    from limconn.training import TrainConfig, train

    dataset = data.make_task("adding", num_samples=200, timesteps=10)  # TRAIN_ON_ADDING's
    stop = threading.Event()
    stopped = train(TrainConfig(epochs=3, batch_size=64), presets.dense(2, 4), dataset,
                    on_progress=lambda event: event.kind == "epoch" and stop.set(),
                    stop_event=stop, checkpoint=tmp_path / "checkpoint.npz")
    runs.write_run_folder(stopped, tmp_path / "STOPPED", run_id="r1", name="r",
                          workspace="default")
    assert (tmp_path / "STOPPED" / "checkpoint.npz").is_file()
    resumed = _cli("train", "--resume", tmp_path / "STOPPED", *TRAIN_ON_ADDING, "--out",
                   tmp_path / "RESUMED", home=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming STOPPED after epoch 1 of 3" in resumed.stdout
    run = runs.read_run_folder(tmp_path / "RESUMED")
    assert run.history["epoch"].tolist() == [1, 2, 3] and run.info.status == "done"
    assert not (tmp_path / "RESUMED" / "checkpoint.npz").exists()
    other = _cli("train", "--resume", tmp_path / "STOPPED", "--task", "adding", "--out",
                 tmp_path / "OTHER", home=tmp_path)
    assert other.returncode == 1 and not (tmp_path / "OTHER").exists()
    assert _limconn_stderr(other.stderr)[-1].startswith(
        "limconn: error: Resume with the data the run trained on")


def test_sweep_writes_a_run_folder_per_design_and_seed_with_one_line_each(tmp_path):
    for name, design in {"wide": presets.random(2, 8, density=0.5, seed=1),
                         "narrow": presets.banded(2, 6, width=1)}.items():
        design.save(tmp_path / f"{name}.npz")
    swept = _cli(
        "sweep", "--design", tmp_path / "wide.npz", "--design", tmp_path / "narrow.npz",
        "--seeds", 0, 1, *TRAIN_ON_ADDING, "--epochs", 1, "--out", tmp_path / "OUT",
        home=tmp_path,
    )
    assert swept.returncode == 0, swept.stderr
    assert "runs" in swept.stderr  # the tqdm bar
    folders = sorted(path.name for path in (tmp_path / "OUT").iterdir())
    assert folders == ["narrow-seed0", "narrow-seed1", "wide-seed0", "wide-seed1"]
    for folder in folders:
        assert f"{folder}: done after 1 epoch(s), best val loss " in swept.stdout
        run = runs.read_run_folder(tmp_path / "OUT" / folder)
        assert run.config.seed == int(folder[-1]) and run.info.name.startswith(
            f"{folder.split('-')[0]}, seed {folder[-1]}")
        assert sorted(path.name for path in run.info.path.iterdir()) == sorted(runs.RUN_FILES)


def test_ctrl_c_stops_a_sweep_and_keeps_the_partial_runs_of_the_running_group(tmp_path):
    for name in ("a", "b"):
        presets.random(2, 8, density=0.5, seed=len(name)).save(tmp_path / f"{name}.npz")
    process = _start(
        "sweep", "--design", tmp_path / "a.npz", tmp_path / "b.npz", "--seeds", 0, 1,
        *TRAIN_ON_ADDING, "--epochs", 500, "--out", tmp_path / "OUT", home=tmp_path,
    )
    seen = ""
    # The bar's postfix: seed 0's group is past its first epoch (a refresh may skip epoch 2).
    while not re.search(r"seed 0, epoch ([2-9]|\d{2,})/500", seen):
        chunk = process.stderr.read(1)
        if not chunk:
            break
        seen += chunk
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, seen + stderr
    assert "Traceback" not in stderr
    assert sorted(path.name for path in (tmp_path / "OUT").iterdir()) == ["a-seed0", "b-seed0"]
    for folder in ("a-seed0", "b-seed0"):
        run = runs.read_run_folder(tmp_path / "OUT" / folder)
        assert (run.info.status, run.info.stop_reason) == ("stopped", "stopped by request")
        assert 1 <= len(run.history) < 500
    assert "2 of 4 run(s) saved" in stdout


def test_train_init_from_starts_from_the_parents_initial_weights_under_its_own_mask(tmp_path):
    """Lottery ticket: the child's initial weights are the parent's where the child's mask
    keeps a weight and exactly 0 where it does not."""
    parent_design = presets.random(2, 8, density=0.9, seed=1)
    child_design = presets.random(2, 8, density=0.3, seed=2)
    parent_design.save(tmp_path / "parent.npz")
    child_design.save(tmp_path / "child.npz")
    common = ["--strategy", "kernel", *TRAIN_ON_ADDING, "--epochs", 1]
    parent = _cli("train", "--design", tmp_path / "parent.npz", *common, "--seed", 0,
                  "--out", tmp_path / "PARENT", home=tmp_path)
    assert parent.returncode == 0, parent.stderr
    child = _cli("train", "--design", tmp_path / "child.npz", *common, "--seed", 5,
                 "--init-from", tmp_path / "PARENT", "--out", tmp_path / "CHILD", home=tmp_path)
    assert child.returncode == 0, child.stderr
    assert runs.read_run_folder(tmp_path / "CHILD").config.init_from == str(tmp_path / "PARENT")

    def initial_weights(folder, design):
        model = build_model("kernel", design, (10, 2), Head("regression", 1))
        model.load_weights(folder / runs.INITIAL_WEIGHTS_FILE)
        return model

    # The parent's file holds its weights as built with its seed, before the first step.
    keras.utils.set_random_seed(0)
    built = build_model("kernel", parent_design, (10, 2), Head("regression", 1))
    parent_model = initial_weights(tmp_path / "PARENT", parent_design)
    for stored, fresh in zip(parent_model.get_weights(), built.get_weights(), strict=True):
        np.testing.assert_array_equal(stored, fresh)

    parent_lstm = trained_weights(parent_model)
    child_model = initial_weights(tmp_path / "CHILD", child_design)
    child_lstm = trained_weights(child_model)
    for name, child_mask, parent_mask in (
        ("kernel", child_design.input_mask, parent_design.input_mask),
        ("recurrent_kernel", child_design.recurrent_mask, parent_design.recurrent_mask),
    ):
        np.testing.assert_array_equal(child_lstm[name], np.where(child_mask, parent_lstm[name], 0))
        assert np.all(child_lstm[name][:, child_mask & parent_mask] != 0)
    np.testing.assert_array_equal(child_lstm["bias"], parent_lstm["bias"])
    for child_array, parent_array in zip(child_model.get_layer("readout").get_weights(),
                                         parent_model.get_layer("readout").get_weights(),
                                         strict=True):
        np.testing.assert_array_equal(child_array, parent_array)


BAD_INPUTS = {
    "negative l1": (["train", "--task", "adding", "--l1", "-1"], "l1 must be >= 0. Received"),
    "zero time limit": (["train", *TRAIN_ON_ADDING, "--max-seconds", "0"],
                        "max_seconds must be > 0. Received: max_seconds=0.0"),
    "unknown preset": (["mask", "nosuch", "--inputs", "2", "--units", "4"], "invalid choice"),
    "density out of range": (["mask", "random", "--inputs", "2", "--units", "4",
                              "--density", "1.5"], "density=1.5"),
    "missing file": (["train", "--design", "{tmp}/missing.npz", "--task", "adding"],
                     "No such file"),
    "design does not fit the data": (["train", "--design", "{tmp}/design.npz", "--data",
                                      "{tmp}/three_features.npz"], "2 inputs but the data has 3"),
    "pickled npy": (["train", "--input-mask", "{tmp}/pickled.npy", "--task", "adding"],
                    "pickled"),
    "init from a folder that is no run": (["train", "--design", "{tmp}/design.npz", "--task",
                                           "adding", "--init-from", "{tmp}"], "has no run.json"),
    "sweep designs with one stem": (["sweep", "--design", "{tmp}/design.npz",
                                     "{tmp}/other/design.npz", "--task", "adding", "--out",
                                     "{tmp}/sweep"], "its own file name stem"),
}


@pytest.fixture(scope="module")
def cli_outcomes(tmp_path_factory):
    """Runs `presets` and every bad input at once (each process spends seconds importing TF)."""
    tmp = tmp_path_factory.mktemp("cli")
    presets.random(2, 8, seed=0).save(tmp / "design.npz")
    np.savez(tmp / "three_features.npz", X=np.zeros((20, 5, 3), "float32"), y=np.zeros(20))
    np.save(tmp / "pickled.npy", np.array([{"mask": 1}], dtype=object), allow_pickle=True)
    commands = {name: [a.format(tmp=tmp) for a in argv] for name, (argv, _) in BAD_INPUTS.items()}
    for name, argv in commands.items():
        if argv[0] == "mask":
            argv += ["--out", str(tmp / f"{name}.npz")]
    commands["presets"] = ["presets"]
    started = {name: _start(*argv, home=tmp) for name, argv in commands.items()}
    outcomes = {
        name: (process, *process.communicate(timeout=300)) for name, process in started.items()
    }
    return tmp, outcomes


def test_presets_lists_every_preset_and_its_parameters(cli_outcomes):
    _, outcomes = cli_outcomes
    process, stdout, stderr = outcomes["presets"]
    assert process.returncode == 0, stderr
    for entry in presets.PRESETS.entries():
        assert f"{entry.name}: {entry.summary}" in stdout
        for parameter in entry.parameters:
            assert re.search(rf"^ +{parameter.name} +{parameter.kind.__name__} ", stdout, re.M)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_error_line_without_traceback(cli_outcomes, case):
    tmp, outcomes = cli_outcomes
    process, stdout, stderr = outcomes[case]
    assert process.returncode != 0
    [line] = _limconn_stderr(stderr)
    assert line.startswith("limconn: error: ") and BAD_INPUTS[case][1] in line, stderr
    assert "Traceback" not in stderr
    assert not list(tmp.glob(f"{case}.npz"))


def test_train_with_every_control_records_them_and_the_test_scores(tmp_path):
    trained = _cli(
        "train", *TRAIN_ON_ADDING, "--epochs", 3, "--test-split", 0.25, "--early-stopping", 1,
        "--lr-schedule", "cosine", "--warmup-steps", 2, "--clipnorm", 1.0, "--weight-decay",
        0.01, "--l1", 1e-4, "--l2", 1e-4, "--max-seconds", 120, "--out", tmp_path / "RUN",
        home=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    assert "test loss" in trained.stdout and "(mae " in trained.stdout
    run = runs.read_run_folder(tmp_path / "RUN")
    assert run.config == TrainConfig(
        epochs=3, test_split=0.25, early_stopping=1, lr_schedule="cosine", warmup_steps=2,
        clipnorm=1.0, weight_decay=0.01, l1=1e-4, l2=1e-4)
    assert run.record["metrics"]["test_loss"] > 0 and "test_mae" in run.record["metrics"]
    shutil.copytree(tmp_path / "RUN", tmp_path / "runs" / "default" / run.record["id"])
    listed = _cli("runs", "list", home=tmp_path)
    assert "test loss" in listed.stdout.splitlines()[0]
    assert f"{run.record['metrics']['test_loss']:.4g}" in listed.stdout, listed.stdout


def test_listing_commands_load_no_keras_backend_and_print_nothing_on_stderr(tmp_path):
    for command in ("presets", "strategies", "tasks", "--help"):
        script = (
            "import sys; from limconn.cli import build_parser, main\n"
            f"build_parser() if {command!r} == '--help' else main([{command!r}])\n"
            "loaded = {'tensorflow', 'jax', 'keras'} & set(sys.modules)\n"
            "assert not loaded, f'{loaded} loaded'"
        )
        checked = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                                 text=True, timeout=60)
        assert checked.returncode == 0, checked.stderr
        listed = _cli(command, home=tmp_path)
        assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert "input mask: per feature" in _cli("strategies", home=tmp_path).stdout


def test_runs_list_group_prints_mean_and_spread_over_seeds(tmp_path):
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    design = presets.random(2, 4, density=0.5, seed=1)
    store = runs.RunStore(tmp_path / "runs")
    from limconn.training import TrainConfig, train

    for seed in (0, 1):
        config = TrainConfig(epochs=2, batch_size=32, seed=seed, test_split=0.25)
        store.save(train(config, design, dataset), "w")
    listed = _cli("runs", "list", "--group", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()[:2]
    assert "test loss (mean ± std)" in header and "test metric (mean ± std)" in header
    assert " 2 " in row and "0, 1" in row and row.count("±") == 4 and "mae " in row, listed.stdout


def test_runs_rename_tag_note_delete_and_list_by_tag(tmp_path):
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    from limconn.training import TrainConfig, train

    result = train(TrainConfig(epochs=1, batch_size=32), presets.dense(2, 4), dataset)
    store = runs.RunStore(tmp_path / "runs")
    kept, doomed = store.save(result), store.save(result)
    for argv in (("rename", kept.id, "best"), ("tag", kept.id, "lr", "keep"),
                 ("note", kept.id, "a note"), ("delete", doomed.id)):
        changed = _cli("runs", *argv, home=tmp_path)
        assert changed.returncode == 0, changed.stderr
    info = store.list()
    assert [(i.id, i.name, i.tags, i.note) for i in info] == [
        (kept.id, "best", ("keep", "lr"), "a note")]
    assert kept.id in _cli("runs", "list", "--tag", "lr", home=tmp_path).stdout
    assert "No runs" in _cli("runs", "list", "--tag", "other", home=tmp_path).stdout
    refused = _cli("runs", "tag", kept.id, "x" * 41, home=tmp_path)
    assert refused.returncode == 1
    assert _limconn_stderr(refused.stderr) == [
        f"limconn: error: A tag must be 1-40 printable characters. Received: '{'x' * 41}'"]


def test_sequence_tasks_are_listed_and_train_without_a_design_on_the_default_one(tmp_path):
    listed = _cli("tasks", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "flipflop: " in listed.stdout and "delayed_match: " in listed.stdout
    assert re.search(r"^ +pulse_probability +float ", listed.stdout, re.M)
    run_dir = tmp_path / "RUN"
    trained = _cli(
        "train", "--task", "delayed_match", "--task-param", "num_samples=64",
        "--task-param", "delay=2", "--epochs", 1, "--out", run_dir, home=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    run = runs.read_run_folder(run_dir)
    assert run.connectivity == presets.random(5, 32, density=0.5, seed=0)
    assert 0 <= run.record["metrics"]["final_val_accuracy"] <= 1
    assert run.load_model().output_shape == (None, 22, 2)  # a prediction at every step
