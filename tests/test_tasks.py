"""Synthetic tasks mean what their docstrings say."""

from __future__ import annotations

import numpy as np
import pytest

from limconn.data import TASKS, Dataset, make_task
from limconn.settings import Limits
from tests.files import refusal

SMALL = {"num_samples": 300}


@pytest.mark.parametrize("name", [n for n in TASKS.names() if n != "neurogym"])
def test_tasks_are_deterministic_for_a_seed_and_differ_across_seeds(name):
    # neurogym (an optional package) has its own tests in tests/test_neurogym.py.
    first = make_task(name, seed=1, **SMALL)
    again = make_task(name, seed=1, **SMALL)
    other = make_task(name, seed=2, **SMALL)
    assert isinstance(first, Dataset) and first.num_samples == 300
    assert first.x.dtype == np.float32
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)


@pytest.mark.parametrize("entry", TASKS.entries(), ids=lambda entry: entry.name)
def test_every_task_parameter_has_a_default_and_help_for_forms(entry):
    assert entry.summary
    for parameter in entry.parameters:
        assert parameter.kind in (int, float, str)  # str: neurogym's env name
        assert parameter.help, f"{entry.name}({parameter.name}) lacks an Args: line"
    assert "seed" in [p.name for p in entry.parameters]


def test_task_parameters_out_of_range_are_refused_with_the_value():
    with pytest.raises(ValueError, match=r"timesteps must be a whole number >= 2.*timesteps=1"):
        make_task("adding", timesteps=1)
    with pytest.raises(ValueError, match="noise=-0.1"):
        make_task("sine", noise=-0.1)
    with pytest.raises(ValueError, match="limit is"):
        make_task("channels", num_samples=10**7, timesteps=1000)


def test_adding_targets_are_the_sum_of_the_two_marked_values_and_the_mean_baseline_is_a_sixth():
    dataset = make_task("adding")
    values, markers = dataset.x[..., 0], dataset.x[..., 1]
    half = dataset.timesteps // 2
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1)
    np.testing.assert_allclose(dataset.y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)
    constant_mean_mse = float(((dataset.y - dataset.y.mean()) ** 2).mean())
    assert 0.15 <= constant_mean_mse <= 0.18


def test_copy_targets_are_the_values_shown_before_the_delay():
    dataset = make_task("copy", num_values=4, delay=7, **SMALL)
    assert dataset.timesteps == 4 + 7 + 1
    np.testing.assert_array_equal(dataset.y, dataset.x[:, :4, 0])
    assert not dataset.x[:, 4:, 0].any()
    np.testing.assert_array_equal(dataset.x[:, :, 1].sum(axis=1), 1)
    assert (dataset.x[:, -1, 1] == 1).all()


def test_sine_target_continues_the_window_of_the_same_sum_of_sines():
    # A noiseless sum of k sines obeys one linear recurrence of order 2k; the periods are
    # shared, so one linear map from the last 2k inputs predicts every target exactly.
    num_waves = 2
    clean = make_task("sine", num_waves=num_waves, noise=0.0, **SMALL)
    noisy = make_task("sine", num_waves=num_waves, noise=0.2, **SMALL)

    def recurrence_error(dataset):
        recent = dataset.x[:, -2 * num_waves :, 0].astype(np.float64)
        coefficients, *_ = np.linalg.lstsq(recent, dataset.y[:, 0], rcond=None)
        return np.abs(recent @ coefficients - dataset.y[:, 0]).max()

    assert recurrence_error(clean) < 1e-3
    assert recurrence_error(noisy) > 0.05


def test_channels_targets_depend_only_on_their_own_group():
    groups, per_group, timesteps = 3, 2, 5
    dataset = make_task(
        "channels", groups=groups, features_per_group=per_group, timesteps=timesteps, **SMALL
    )
    flat_inputs = dataset.x.reshape(dataset.num_samples, -1).astype(np.float64)
    feature_group = np.tile(np.repeat(np.arange(groups), per_group), timesteps)
    for group in range(groups):
        # Each target is an exact linear function of the inputs: fit it and read off which
        # inputs it uses. Perturbing another group's inputs would leave it unchanged.
        weights, *_ = np.linalg.lstsq(flat_inputs, dataset.y[:, group], rcond=None)
        np.testing.assert_allclose(weights[feature_group != group], 0, atol=1e-5)
        np.testing.assert_allclose(
            np.abs(weights[feature_group == group]), 1 / np.sqrt(timesteps * per_group), rtol=1e-4
        )
    assert 0.8 < dataset.y.var() < 1.2


def test_largest_sum_labels_name_the_largest_channel_and_are_balanced():
    dataset = make_task("largest_sum", num_channels=3)
    assert dataset.kind == "classification" and dataset.output_dim == 3
    assert dataset.y.dtype == np.int32
    np.testing.assert_array_equal(dataset.y, dataset.x.sum(axis=1).argmax(axis=1))
    frequencies = np.bincount(dataset.y, minlength=3) / dataset.num_samples
    assert ((frequencies > 0.28) & (frequencies < 0.39)).all(), frequencies


def test_flipflop_targets_hold_each_channels_last_pulse_and_zero_output_scores_one():
    dataset = make_task("flipflop", bits=3, timesteps=40, pulse_probability=0.1, **SMALL)
    assert dataset.per_step and dataset.y.shape == dataset.x.shape == (300, 40, 3)
    assert set(np.unique(dataset.x)) <= {-1.0, 0.0, 1.0}
    for sample in range(20):
        for bit in range(3):
            pulses = np.flatnonzero(dataset.x[sample, :, bit])
            for step in range(40):
                earlier = pulses[pulses <= step]
                expected = dataset.x[sample, earlier[-1], bit] if len(earlier) else 0.0
                assert dataset.y[sample, step, bit] == expected
    # A step counts exactly when every channel has pulsed: then every target is +-1.
    np.testing.assert_array_equal(dataset.weights, (dataset.y != 0).all(axis=2))
    counted = dataset.weights.astype(bool)
    assert 0.3 < counted.mean() < 0.95
    assert float((dataset.y[counted] ** 2).mean()) == 1.0  # zero output: MSE 1
    with pytest.raises(ValueError, match=r"no sequence has a pulse on all 3.*timesteps=2"):
        make_task("flipflop", bits=3, timesteps=2, pulse_probability=0.01, num_samples=5)


def test_delayed_match_labels_say_whether_test_matches_sample_on_the_decision_steps_only():
    delay, stimuli = 7, 3
    dataset = make_task("delayed_match", delay=delay, num_stimuli=stimuli, noise=0.0, **SMALL)
    assert dataset.kind == "classification" and dataset.per_step
    assert dataset.timesteps == delay + 20 and dataset.input_dim == stimuli + 1
    sample = dataset.x[:, 5:10, :stimuli].mean(axis=1).argmax(axis=1)
    test = dataset.x[:, 10 + delay : 15 + delay, :stimuli].mean(axis=1).argmax(axis=1)
    decision = slice(15 + delay, None)
    assert (dataset.y[:, decision] == (sample == test)[:, None]).all()
    np.testing.assert_array_equal(dataset.weights[:, decision], 1)
    assert not dataset.weights[:, :15 + delay].any() and not dataset.y[:, :15 + delay].any()
    assert not dataset.x[:, 10 : 10 + delay, :stimuli].any()  # the delay shows nothing
    fixation = np.arange(dataset.timesteps) < 15 + delay  # off at the decision: the go cue
    assert (dataset.x[:, :, stimuli] == fixation).all()
    assert 0.4 < (sample == test).mean() < 0.6  # chance is 50 %


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError, match="Choose one of: adding, copy"):
        make_task("addition")


@pytest.mark.parametrize(
    ("name", "params", "limits", "message"),
    [
        ("adding", {"num_samples": 10**6}, {"max_samples": 1000},
         "adding: This server allows at most 1,000 samples. Received: 1,000,000 samples."),
        ("copy", {"delay": 5000}, {},
         "copy: This server allows at most 1,000 timesteps. Received: 5,004 timesteps."),
        ("sine", {"horizon": 500}, {},
         "sine: This server allows at most 100 outputs. Received: 500 outputs."),
        ("channels", {"groups": 100, "features_per_group": 3}, {},
         "channels: This server allows at most 256 inputs. Received: 300 inputs."),
        ("largest_sum", {"num_channels": 200}, {"max_outputs": 100},
         "largest_sum: This server allows at most 100 outputs. Received: 200 outputs."),
        ("flipflop", {"bits": 300}, {},
         "flipflop: This server allows at most 256 inputs. Received: 300 inputs."),
        ("delayed_match", {"delay": 2000}, {},
         "delayed_match: This server allows at most 1,000 timesteps. Received: 2,020 timesteps."),
    ],
)
def test_tasks_over_the_limits_are_refused_before_anything_is_generated(
    name, params, limits, message
):
    # Each of these would generate tens to hundreds of MB; refusing holds almost nothing.
    refused = refusal(lambda: make_task(name, limits=Limits(**limits), **params), 64 * 1024)
    assert refused == message


def test_tasks_within_the_limits_are_the_same_with_and_without_them():
    limits = Limits(max_samples=300, max_timesteps=50, max_inputs=2, max_outputs=1)
    bounded = make_task("adding", limits=limits, **SMALL)
    np.testing.assert_array_equal(bounded.x, make_task("adding", **SMALL).x)
