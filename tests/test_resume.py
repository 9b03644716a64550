"""Checkpoints and resume: a stopped group continues to the weights an uninterrupted one
reaches with the same seed."""

import threading

import numpy as np
import pytest

from limconn import data, presets
from limconn.checkpoints import read_checkpoint
from limconn.training import TrainConfig, train, train_group


@pytest.fixture(scope="module")
def dataset():
    return data.make_task("adding", num_samples=80, timesteps=6)


def test_resuming_a_stopped_run_gives_the_uninterrupted_weights_and_history(tmp_path, dataset):
    design = presets.random(2, 6, density=0.5, seed=3)
    config = TrainConfig(epochs=4, batch_size=24, seed=7)
    whole = train(config, design, dataset)

    stop = threading.Event()

    def stop_after_epoch_2(event):
        if event.kind == "epoch" and event.epoch == 2:
            stop.set()  # takes effect after epoch 3's first batch, which is not kept

    path = tmp_path / "checkpoint.npz"
    stopped = train(config, design, dataset, on_progress=stop_after_epoch_2, stop_event=stop,
                    checkpoint=path)
    assert stopped.status == "stopped" and stopped.checkpoint == path
    checkpoint = read_checkpoint(path)
    assert checkpoint.epoch == 2 and checkpoint.data_hash == dataset.content_hash()

    resumed = train(checkpoint.config, checkpoint.designs[0], dataset,
                    resume_from=checkpoint, checkpoint=path)
    assert resumed.status == "done"
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    for key in whole.weights:
        np.testing.assert_allclose(resumed.weights[key], whole.weights[key], rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose([r["loss"] for r in resumed.history],
                               [r["loss"] for r in whole.history], rtol=1e-5)
    for initial, expected in zip(resumed.initial_weights, whole.initial_weights, strict=True):
        np.testing.assert_array_equal(initial, expected)

    other = data.make_task("adding", num_samples=80, timesteps=6, seed=1)
    with pytest.raises(ValueError, match="Resume with the data the run trained on"):
        train(checkpoint.config, checkpoint.designs[0], other, resume_from=checkpoint)


def test_resuming_a_stopped_group_of_fused_designs_gives_the_uninterrupted_weights(tmp_path,
                                                                                  dataset):
    """Designs that fuse (`limconn.fused`) checkpoint and resume as a group of branches does."""
    designs = [presets.random(2, 6, density=0.5, seed=3), presets.banded(2, 4, width=1)]
    config = TrainConfig(epochs=3, batch_size=24, seed=7)
    whole = train_group(config, designs, dataset)

    stop = threading.Event()

    def stop_after_epoch_1(event):
        if event.kind == "epoch" and event.epoch == 1:
            stop.set()

    path = tmp_path / "group.npz"
    train_group(config, designs, dataset, on_progress=stop_after_epoch_1, stop_event=stop,
                checkpoint=path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.epoch == 1
    resumed = train_group(checkpoint.config, checkpoint.designs, dataset,
                          resume_from=checkpoint)
    for mine, theirs in zip(resumed, whole, strict=True):
        assert [row["epoch"] for row in mine.history] == [1, 2, 3]
        for key in theirs.weights:
            np.testing.assert_allclose(mine.weights[key], theirs.weights[key], rtol=1e-5,
                                       atol=1e-6)
