"""Real Keras training: it learns, it stops when asked, it repeats itself, it never leaks a mask."""

import threading

import numpy as np
import pytest

from limconn import data, presets
from limconn.training import TrainConfig, train

ADDING_BASELINE_MSE = 0.167


def test_adding_problem_with_a_half_random_kernel_mask_beats_the_mean_baseline():
    dataset = data.make_task("adding", num_samples=4000, timesteps=50, seed=0)
    design = presets.random(dataset.input_dim, 32, density=0.5, seed=0)
    result = train(TrainConfig(epochs=10, batch_size=64, learning_rate=0.01), design, dataset)
    assert result.status == "done" and len(result.history) == 10
    assert result.metrics["best_val_loss"] < ADDING_BASELINE_MSE / 5
    assert result.max_masked_weight == 0.0
    kernel = result.weights["kernel"]
    assert kernel.shape == (4, 2, 32)
    assert np.all(kernel[:, ~design.input_mask] == 0)
    assert np.all(result.weights["recurrent_kernel"][:, ~design.recurrent_mask] == 0)


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
