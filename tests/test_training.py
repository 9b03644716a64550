"""Real Keras training: it learns, it stops when asked, it repeats itself, it never leaks a mask."""

import dataclasses
import threading

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util.tensor_util import make_ndarray

from limconn import data, presets, runs
from limconn.enforcement import trained_weights
from limconn.layers import penalize_lstm_weights
from limconn.strategies import Head, build_model
from limconn.training import (
    LearningRate,
    TrainConfig,
    _optimizer,
    join_branches,
    train,
    train_group,
)
from tests.gradients import assert_branches_independent

ADDING_BASELINE_MSE = 0.167


def test_adding_problem_with_a_half_random_kernel_mask_beats_the_mean_baseline():
    dataset = data.make_task("adding", num_samples=4000, timesteps=50, seed=0)
    design = presets.random(dataset.input_dim, 32, density=0.5, seed=0)
    # Seed 1: the task's plateau ends within 10 epochs with both backends' initial weights
    # (seed 0's, drawn by JAX, stay on it for all 10 epochs).
    config = TrainConfig(epochs=10, batch_size=64, learning_rate=0.01, seed=1)
    result = train(config, design, dataset)
    assert result.status == "done" and len(result.history) == 10
    assert result.metrics["best_val_loss"] < ADDING_BASELINE_MSE / 5
    assert result.max_masked_weight == 0.0
    kernel = result.weights["kernel"]
    assert kernel.shape == (4, 2, 32)
    assert np.all(kernel[:, ~design.input_mask] == 0)
    assert np.all(result.weights["recurrent_kernel"][:, ~design.recurrent_mask] == 0)


FLIPFLOP_BASELINE_MSE = 1.0  # zero output, on the steps that count


def test_flipflop_with_a_half_masked_16_unit_lstm_beats_the_zero_output_baseline():
    dataset = data.make_task("flipflop", bits=2, num_samples=400, timesteps=30,
                             pulse_probability=0.15, seed=0)
    design = presets.random(dataset.input_dim, 16, density=0.5, seed=0)
    result = train(TrainConfig(epochs=10, batch_size=32, learning_rate=0.02), design, dataset)
    assert result.metrics["best_val_loss"] < FLIPFLOP_BASELINE_MSE / 4, result.history
    assert result.max_masked_weight == 0.0
    assert result.model.output_shape == (None, 30, 2)


def test_per_step_metrics_count_only_the_weighted_steps():
    """The reported validation loss and accuracy are the trained model's over the decision
    steps (weight 1), not over every step; progress events and metrics carry them."""
    dataset = data.make_task("delayed_match", num_samples=200, delay=2, num_stimuli=2)
    events = []
    result = train(TrainConfig(epochs=2, batch_size=40), presets.dense(dataset.input_dim, 6),
                   dataset, on_progress=events.append)
    _, _, x_val, y_val = dataset.split(0.2)
    _, weights = dataset.split_weights(0.2)
    probabilities = result.model.predict(x_val, verbose=0)
    counted = weights.astype(bool)
    correct = probabilities.argmax(axis=-1) == y_val
    last = result.history[-1]
    assert last["val_accuracy"] == pytest.approx(correct[counted].mean(), abs=1e-6)
    assert last["val_accuracy"] != pytest.approx(correct.mean(), abs=1e-3)
    chosen = np.take_along_axis(probabilities, y_val[..., None], axis=-1)[..., 0]
    assert last["val_loss"] == pytest.approx(-np.log(chosen[counted]).mean(), rel=1e-4)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= events[-1].logs.keys()
    assert result.metrics["final_val_accuracy"] == last["val_accuracy"]


def test_stop_event_is_honoured_within_one_batch_and_keeps_the_partial_run():
    dataset = data.make_task("adding", num_samples=640, timesteps=20)
    design = presets.dense(dataset.input_dim, 8)
    stop = threading.Event()
    batches = []

    def on_progress(event):
        if event.kind == "batch":
            batches.append((event.epoch, event.step))
            if event.epoch == 2 and event.step == 3:
                stop.set()

    result = train(TrainConfig(epochs=50, batch_size=32), design, dataset, on_progress, stop)
    assert batches[-1] == (2, 3)
    assert result.status == "stopped" and result.stop_reason == "stopped by request"
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert result.history[-1]["loss"] > 0


def test_time_limit_stops_the_run_and_says_why():
    dataset = data.make_task("adding", num_samples=320, timesteps=20)
    result = train(TrainConfig(epochs=1000, batch_size=32), presets.dense(2, 4), dataset,
                   max_seconds=0.5)
    assert result.status == "stopped" and "time limit" in result.stop_reason
    assert 0 < len(result.history) < 1000


def test_same_config_and_seed_give_the_same_history_on_cpu():
    dataset = data.make_task("adding", num_samples=300, timesteps=10)
    design = presets.random(2, 6, density=0.5, seed=2)
    config = TrainConfig(epochs=2, batch_size=32, seed=7)
    histories = [
        [{k: v for k, v in row.items() if k != "seconds"} for row in train(
            config, design, dataset).history]
        for _ in range(2)
    ]
    assert histories[0] == histories[1]
    other = train(TrainConfig(epochs=2, batch_size=32, seed=8), design, dataset).history
    assert other[0]["loss"] != histories[0][0]["loss"]


def test_classification_progress_events_carry_accuracy_and_eta():
    dataset = data.make_task("largest_sum", num_samples=300)
    events = []
    train(TrainConfig(epochs=2, batch_size=50), presets.dense(dataset.input_dim, 6), dataset,
          on_progress=events.append)
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == [1, 2]
    assert "accuracy" in epochs[-1].logs and "val_accuracy" in epochs[-1].logs
    assert events[-1].fraction == 1.0 and events[-1].eta == 0.0
    assert all(e.eta >= 0 for e in events)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, r"epochs must be >= 1. Received: epochs=0"),
        ({"learning_rate": -1.0}, r"learning_rate.*-1.0"),
        ({"validation_split": 0.95}, r"validation_split.*0.95"),
        ({"optimizer": "lbfgs"}, r"optimizer.*'lbfgs'"),
        ({"strategy": "magic"}, r"Unknown strategy 'magic'"),
        ({"test_split": 0.6}, r"test_split must be in \[0, 0.5\]. Received: test_split=0.6"),
        ({"test_split": 0.5, "validation_split": 0.5}, r"validation_split \+ test_split"),
        ({"early_stopping": -1}, r"early_stopping.*Received: early_stopping=-1"),
        ({"early_stopping": 2.5}, r"early_stopping must be an integer.*2.5"),
        ({"lr_schedule": "step"}, r"lr_schedule must be one of.*'step'"),
        ({"warmup_steps": -3}, r"warmup_steps.*-3"),
        ({"clipnorm": float("nan")}, r"clipnorm must be a finite number.*nan"),
        ({"weight_decay": -0.1}, r"weight_decay.*-0.1"),
        ({"l1": -1e-3}, r"l1 must be >= 0. Received: l1=-0.001"),
        ({"l2": "big"}, r"l2 must be a finite number. Received: l2='big'"),
    ],
)
def test_bad_configs_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_design_and_data_must_agree():
    dataset = data.make_task("adding", num_samples=100, timesteps=5)
    with pytest.raises(ValueError, match="3 inputs but the data has 2 features"):
        train(TrainConfig(epochs=1), presets.dense(3, 4), dataset)


@pytest.mark.parametrize("strategy, expected", [("custom_cell", 0.0), ("sparse_projection", 0.0),
                                                ("output", None)])
def test_max_masked_weight_covers_every_masking_mechanism(strategy, expected):
    dataset = data.make_task("adding", num_samples=200, timesteps=10)
    result = train(TrainConfig(epochs=1, strategy=strategy),
                   presets.random(2, 6, density=0.5, seed=0), dataset)
    assert result.max_masked_weight == expected


def _without_seconds(history):
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


GROUP_DATA = {
    "adding": {"num_samples": 300, "timesteps": 10},
    # per-step labels, weight 1 on the decision steps only
    "delayed_match": {"num_samples": 300, "delay": 2, "num_stimuli": 2},
}


CONTROLS = {"epochs": 5, "learning_rate": 1.0, "early_stopping": 1, "lr_schedule": "cosine",
            "warmup_steps": 3, "clipnorm": 2.0, "weight_decay": 0.01, "l1": 1e-3, "l2": 1e-3,
            "test_split": 0.2}
"""Every training control on; lr 1.0 makes branches stop improving at different epochs."""


@pytest.mark.parametrize(("strategy", "task", "controls"), [("kernel", "adding", {}),
                                                            ("random_dynamic", "adding", {}),
                                                            ("kernel", "delayed_match", {}),
                                                            ("kernel", "adding", CONTROLS)])
def test_each_branch_of_a_group_trains_exactly_as_its_design_alone(strategy, task, controls):
    """Same initial weights (bit for bit), same shuffling, same dropout draws (random_dynamic),
    gradients from its own loss only: each branch's history and weights are a lone run's,
    with per-step targets and weights too, and with every training control on (each branch
    early-stops where it would alone, with its own best weights, and scores the same test
    set)."""
    dataset = data.make_task(task, **GROUP_DATA[task])
    inputs = dataset.input_dim
    designs = [
        presets.random(inputs, 6, density=0.5, seed=1),
        presets.banded(inputs, 8, width=1),
        presets.dense(inputs, 4),
    ]
    config = TrainConfig(**{"strategy": strategy, "epochs": 2, "batch_size": 32, "seed": 7,
                            **controls})
    events = []
    group = train_group(config, designs, dataset, on_progress=events.append)
    if controls:
        assert len({len(branch.history) for branch in group}) > 1, "no early stop differs"
    assert {(event.branch, event.seed) for event in events} == {(0, 7), (1, 7), (2, 7)}
    for index, (design, branch) in enumerate(zip(designs, group, strict=True)):
        alone = train(config, design, dataset)
        assert branch.connectivity == design and branch.status == alone.status == "done"
        for mine, theirs in zip(branch.initial_weights, alone.initial_weights, strict=True):
            np.testing.assert_array_equal(mine, theirs)
        mine, expected = _without_seconds(branch.history), _without_seconds(alone.history)
        assert len(mine) == len(expected)
        for row, expected_row in zip(mine, expected, strict=True):
            assert row.keys() == expected_row.keys()
            for key, value in expected_row.items():
                assert row[key] == pytest.approx(value, rel=1e-5), key
        for name, value in alone.weights.items():
            np.testing.assert_allclose(branch.weights[name], value, rtol=1e-4, atol=1e-6)
        for mine, theirs in zip(branch.model.get_weights(), alone.model.get_weights(),
                                strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
        assert branch.max_masked_weight == alone.max_masked_weight == 0.0
        assert branch.test == pytest.approx(alone.test, rel=1e-5)
        assert bool(branch.test) == bool(controls)
        last = len(branch.history)
        last_epoch = [e for e in events if e.branch == index and e.kind == "epoch"
                      and e.epoch == last][-1]
        assert {"epoch": last, **last_epoch.logs} == _without_seconds(branch.history)[-1]


def test_branches_share_nothing_but_the_inputs():
    """Perturbing branch A changes neither branch B's predictions nor B's gradients, bit for
    bit, while it does change A's."""
    head = Head("regression", 1)
    a = build_model("custom_cell", presets.random(2, 6, density=0.5, seed=1), (10, 2), head)
    b = build_model("kernel", presets.banded(2, 5, width=1), (10, 2), head)
    assert_branches_independent(join_branches({"a": a, "b": b}, (10, 2)), a, b, (10, 2),
                                np.random.default_rng(0))


def test_a_stopped_group_returns_the_partial_run_of_every_branch():
    dataset = data.make_task("adding", num_samples=320, timesteps=10)
    stop = threading.Event()

    def on_progress(event):
        if event.kind == "batch" and event.epoch == 2 and event.step == 2:
            stop.set()

    designs = [presets.dense(2, 4), presets.diagonal(2, 3)]
    results = train_group(TrainConfig(epochs=50, batch_size=32), designs, dataset,
                          on_progress, stop)
    assert [r.status for r in results] == ["stopped", "stopped"]
    assert all(r.stop_reason == "stopped by request" for r in results)
    assert [[row["epoch"] for row in r.history] for r in results] == [[1, 2], [1, 2]]
    assert results[0].history[0]["loss"] != results[1].history[0]["loss"]


def test_time_limit_cuts_a_long_validation_pass_short():
    """The limit is hit at the first training batch; validation then stops after one batch
    instead of running its 1,000 batches, and the cut epoch reports no validation loss."""
    task = data.make_task("adding", num_samples=32_032, timesteps=10)
    dataset = dataclasses.replace(task, validation_start=32)  # 1 training, 1,000 val batches
    config = TrainConfig(epochs=1, batch_size=32)

    def validation_seconds(max_seconds):
        events = []
        result = train(config, presets.dense(2, 4), dataset, events.append,
                       max_seconds=max_seconds)
        last_batch = [e.elapsed for e in events if e.kind == "batch"][-1]
        epoch_end = [e.elapsed for e in events if e.kind == "epoch"][-1]
        return result, epoch_end - last_batch

    full, full_seconds = validation_seconds(None)
    cut, cut_seconds = validation_seconds(1e-6)
    assert full.status == "done" and "val_loss" in full.history[-1]
    assert cut.status == "stopped" and "time limit" in cut.stop_reason
    assert [row["epoch"] for row in cut.history] == [1] and "val_loss" not in cut.history[0]
    assert "best_loss" in cut.metrics and "best_val_loss" not in cut.metrics
    # On JAX the 1,000 batches take ~0.2 s, less than compiling the validation step (~1 s,
    # which both runs pay): the time saved is measurable on TensorFlow alone (~6 s there).
    if keras.config.backend() == "tensorflow":
        assert cut_seconds < full_seconds / 2, (cut_seconds, full_seconds)


def test_init_from_refuses_a_parent_of_another_strategy_or_size_or_without_initial_weights(
    tmp_path,
):
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    parent = train(TrainConfig(epochs=1), presets.dense(2, 4), dataset)
    runs.write_run_folder(parent, tmp_path / "parent", run_id="parent", name="p", workspace="w")
    child = TrainConfig(epochs=1, init_from=str(tmp_path / "parent"))
    for config, design in ((dataclasses.replace(child, strategy="custom_cell"),
                            presets.dense(2, 4)), (child, presets.dense(2, 5))):
        with pytest.raises(ValueError, match=r"has strategy, inputs, units \('kernel', 2, 4\)"):
            train(config, design, dataset)

    (tmp_path / "parent" / runs.INITIAL_WEIGHTS_FILE).unlink()  # as in a run from before
    with pytest.raises(ValueError, match="has no initial.weights.h5"):
        train(child, presets.dense(2, 4), dataset)


def test_a_run_folder_holds_tensorboard_events_equal_to_its_history(tmp_path):
    """Scalars read back from the event file equal history.csv; the learning rate is the
    optimizer's; the effective kernel's histogram counts its masked zeros."""
    dataset = data.make_task("adding", num_samples=60, timesteps=5)
    design = presets.random(2, 4, density=0.5, seed=2)
    result = train(TrainConfig(epochs=2, batch_size=30, learning_rate=0.005), design, dataset)
    folder = runs.write_run_folder(result, tmp_path / "run", run_id="r1", name="r",
                                   workspace="w")
    scalars, histograms = {}, {}
    for event in EventFileLoader(str(folder / runs.EVENTS_FILE)).Load():  # TensorBoard's reader
        for value in event.summary.value:
            array = make_ndarray(value.tensor)
            if value.metadata.plugin_data.plugin_name == "histograms":
                histograms[value.tag, event.step] = array
            else:
                scalars.setdefault(value.tag, []).append(float(array))
    history = runs.read_run_folder(folder).history
    for column in ("loss", "val_loss", "mae", "val_mae"):
        np.testing.assert_allclose(scalars[column], history[column], rtol=1e-6)
    assert scalars["learning_rate"] == pytest.approx([0.005, 0.005])
    kernel = result.weights["kernel"]
    left, right, counts = histograms["effective/kernel", 2].T
    assert counts.sum() == kernel.size
    zero_bucket = (left <= 0) & (right >= 0)
    assert counts[zero_bucket].max() >= np.sum(kernel == 0) >= 4 * np.sum(~design.input_mask)
    assert {tag for tag, _ in histograms} == {f"effective/{name}" for name in result.weights}


def test_the_test_set_is_held_out_and_never_seen_by_training():
    """Changing the test rows' targets leaves training bit for bit unchanged (history and
    weights) and changes only the test score; the score is the returned model's loss on
    the last rows, and it beats the mean-prediction baseline."""
    dataset = data.make_task("adding", num_samples=1000, timesteps=10, seed=0)
    config = TrainConfig(epochs=10, batch_size=32, test_split=0.1, early_stopping=3)
    result = train(config, presets.dense(2, 8), dataset)
    y = dataset.y.copy()
    y[-100:] += 5.0  # the test rows: the last 10 %
    changed = train(config, presets.dense(2, 8), dataclasses.replace(dataset, y=y))
    assert _without_seconds(changed.history) == _without_seconds(result.history)
    for name, value in result.weights.items():
        np.testing.assert_array_equal(changed.weights[name], value)
    predicted = result.model.predict(dataset.x[-100:], verbose=0)
    assert result.metrics["test_loss"] == pytest.approx(
        float(np.mean((predicted - dataset.y[-100:]) ** 2)), rel=1e-4)
    assert changed.metrics["test_loss"] > result.metrics["test_loss"] + 10
    baseline = float(np.mean((dataset.y[-100:] - dataset.y[:-100].mean()) ** 2))
    assert result.metrics["test_loss"] < baseline / 3, (baseline, result.history)
    assert set(result.test) == {"test_loss", "test_mae"}


def test_the_test_set_carries_its_per_step_weights():
    """delayed_match weighs only the decision steps: the test loss counts those alone."""
    dataset = data.make_task("delayed_match", num_samples=100, delay=2, num_stimuli=2)
    result = train(TrainConfig(epochs=1, batch_size=20, test_split=0.2),
                   presets.dense(dataset.input_dim, 4), dataset)
    _, test = dataset.hold_out(0.2)
    probabilities = result.model.predict(test.x, verbose=0)
    chosen = np.take_along_axis(probabilities, test.y[..., None], axis=-1)[..., 0]
    expected = np.sum(-np.log(chosen) * test.weights) / np.sum(test.weights)
    assert result.metrics["test_loss"] == pytest.approx(float(expected), rel=1e-4)


def test_early_stopping_ends_after_patience_with_the_best_weights():
    dataset = data.make_task("adding", num_samples=200, timesteps=8)
    config = TrainConfig(epochs=12, batch_size=32, learning_rate=3.0, early_stopping=1)
    result = train(config, presets.dense(2, 4), dataset)
    losses = [row["val_loss"] for row in result.history]
    best = int(np.argmin(losses)) + 1
    assert len(result.history) == best + 1 < config.epochs, losses
    _, _, x_val, y_val = dataset.split(config.validation_split)
    mse = float(np.mean((result.model.predict(x_val, verbose=0) - y_val) ** 2))
    assert mse == pytest.approx(result.metrics["best_val_loss"], rel=1e-4)
    assert result.status == "done"


@pytest.mark.parametrize("strategy", ["kernel", "custom_cell", "output"])
def test_l1_l2_penalise_the_effective_weights_and_never_a_masked_one(strategy, tmp_path):
    design = presets.random(3, 5, density=0.5, seed=2)
    model = build_model(strategy, design, (4, 3), Head("regression", 1))
    penalize_lstm_weights(model, l1=0.1, l2=0.2)
    lstm = model.get_layer("lstm")
    owner = lstm.cell
    weights = trained_weights(model)
    expected = sum(0.1 * np.abs(weights[name]).sum() + 0.2 * np.square(weights[name]).sum()
                   for name in ("kernel", "recurrent_kernel"))
    assert float(sum(model.losses)) == pytest.approx(float(expected), rel=1e-5)
    if strategy != "output":  # a dense LSTM has no masked weight
        kernel = owner.kernel.numpy()
        kernel[~np.tile(design.input_mask, 4)] = 100.0  # stored garbage at masked places
        owner.kernel.assign(kernel)
        assert float(sum(model.losses)) == pytest.approx(float(expected), rel=1e-5)
    model.save(tmp_path / "model.keras")
    keras.models.load_model(tmp_path / "model.keras")  # safe_mode=True, the default


def test_learning_rate_schedules_warm_up_then_decay():
    def rates(kind, warmup):
        schedule = LearningRate(0.1, kind, warmup_steps=warmup, total_steps=10)
        return [float(schedule(step)) for step in range(11)]

    assert rates("constant", 4)[:5] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert rates("cosine", 0)[0] == pytest.approx(0.1)
    assert rates("cosine", 0)[5] == pytest.approx(0.05)
    assert rates("cosine", 2)[10] == pytest.approx(0.0, abs=1e-9)
    assert rates("exponential", 0)[10] == pytest.approx(0.001)
    assert np.all(np.diff(rates("exponential", 0)) < 0)


def test_default_controls_leave_the_optimizer_as_keras_makes_it():
    """At the defaults, the optimizer is the one the library always built: a plain rate, no
    clipping, the optimizer's own weight decay (bit-for-bit the old runs)."""
    for name in ("adam", "adamw"):
        optimizer = _optimizer(TrainConfig(optimizer=name), total_steps=10)
        plain = keras.optimizers.get({"class_name": name, "config": {"learning_rate": 0.01}})
        mine, expected = optimizer.get_config(), plain.get_config()
        assert {**mine, "name": ""} == {**expected, "name": ""}
