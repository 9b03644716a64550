"""A trained run on other data: the numbers training reports, any number of steps, a clear
refusal of data that does not fit, and the CLI's `evaluate`."""

import dataclasses
import json

import numpy as np
import pytest

from limconn import data, evaluation, presets, runs
from limconn.training import TrainConfig, train
from tests.test_cli import _cli


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A delayed-match run (per-step labels, weight 0 before the decision) on 2-step delays."""
    dataset = data.make_task("delayed_match", num_samples=100, delay=2, num_stimuli=2)
    result = train(TrainConfig(epochs=1, batch_size=50),
                   presets.random(dataset.input_dim, 6, density=0.5, seed=0), dataset)
    folder = tmp_path_factory.mktemp("runs") / "run"
    return runs.write_run_folder(result, folder, run_id="r1", name="dm", workspace="w"), dataset


def test_on_its_validation_part_a_run_scores_its_recorded_val_loss_and_accuracy(run_folder):
    folder, dataset = run_folder
    _, _, x_val, y_val = dataset.split(0.2)
    _, w_val = dataset.split_weights(0.2)
    result = evaluation.evaluate(folder, dataclasses.replace(dataset, x=x_val, y=y_val,
                                                             weights=w_val))
    last = runs.read_run_folder(folder).history.iloc[-1]
    assert result["loss"] == pytest.approx(last["val_loss"], rel=1e-5)
    assert result["accuracy"] == pytest.approx(last["val_accuracy"], rel=1e-5)


def test_a_run_evaluates_on_longer_sequences_and_keeps_a_few_outputs(run_folder):
    folder, _ = run_folder
    longer = data.make_task("delayed_match", num_samples=8, delay=9, num_stimuli=2)
    result = evaluation.evaluate(folder, longer, sequences=2)
    assert (result["samples"], result["timesteps"]) == (8, longer.timesteps)
    outputs = np.array(result["outputs"])
    assert outputs.shape == (2, longer.timesteps) and set(outputs.ravel()) <= {0, 1}
    np.testing.assert_array_equal(result["weights"], longer.weights[:2])


def test_data_of_another_kind_or_size_is_refused_naming_both(run_folder):
    folder, _ = run_folder
    with pytest.raises(ValueError, match=r"trained on 'delayed_match'.*Received: \('regression'"):
        evaluation.evaluate(folder, data.make_task("adding", num_samples=10))


def test_cli_evaluate_prints_and_writes_the_metrics(run_folder, tmp_path):
    folder, _ = run_folder
    longer = [f"--task-param={pair}" for pair in ("num_samples=20", "delay=6", "num_stimuli=2")]
    done = _cli("evaluate", "--run", folder, "--task", "delayed_match", *longer,
                "--out", tmp_path / "m.json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["timesteps"] > 20 and f"accuracy {written['accuracy']:.6g}" in done.stdout
    refused = _cli("evaluate", "--run", tmp_path, "--task", "adding", home=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("limconn: error: The run ")
