"""Synthetic tasks: small pure functions that build a `Dataset` from a few numbers.

Each task is registered in `TASKS`; its keyword parameters become form fields in the app and
options in the CLI. Add one by writing a function that returns a `Dataset` and decorating it
with `@TASKS.register`. A task takes the operator's `Limits` (or `None`) as its one
positional parameter and checks the sizes it is asked for against them, and against
`MAX_ARRAY_BYTES`, before it generates anything.
"""

from __future__ import annotations

import numpy as np

from limconn.data._checks import check_array_size, check_counts, check_limits
from limconn.data.dataset import Dataset
from limconn.registry import Registry
from limconn.settings import Limits

TASKS = Registry("task", positional=1)


def make_task(name: str, *, limits: Limits | None = None, **params) -> Dataset:
    """Builds the synthetic task `name` with its keyword parameters (strings are converted).

    Args:
        name: a task in `TASKS`.
        limits: the operator's limits on samples, timesteps, inputs and outputs, checked
            before anything is generated; `None` checks only `MAX_ARRAY_BYTES`.
        **params: the task's parameters (see `TASKS.get(name).parameters`).

    Example:

    >>> make_task("largest_sum", num_samples=10, seed=3).num_classes
    3

    Raises:
        ValueError: for an unknown task or parameter, a parameter value out of range, or a
            dataset over `limits`; the message names the value.
    """
    return TASKS.call(name, limits, **params)


@TASKS.register
def adding(
    limits: Limits | None = None, /, *, num_samples: int = 4000, timesteps: int = 50, seed: int = 0
) -> Dataset:
    """Adding problem: sum the two marked numbers in a long sequence (long-range memory).

    Hochreiter & Schmidhuber (1997). Feature 0 is a value drawn uniformly from [0, 1) at
    every step; feature 1 is a marker that is 1 at exactly two steps, one in each half of the
    sequence, and 0 elsewhere. The target is the sum of the two marked values. Always
    predicting the mean (1.0) gives an MSE of 1/6 ~ 0.167 (the variance of a sum of two
    uniform values), so a model has learned something only below that.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of sequences.
        timesteps: sequence length (at least 2); longer is harder.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = adding(num_samples=8, timesteps=20)
    >>> data.x.shape, data.y.shape
    ((8, 20, 2), (8, 1))
    """
    check_counts(1, num_samples=num_samples)
    check_counts(2, timesteps=timesteps)
    check_counts(0, seed=seed)
    check_limits(limits, "adding", samples=num_samples, timesteps=timesteps, inputs=2, outputs=1)
    check_array_size((num_samples, timesteps, 2), "adding")
    rng = np.random.default_rng(seed)
    values = rng.random((num_samples, timesteps), dtype=np.float32)
    half = timesteps // 2
    rows = np.arange(num_samples)
    first = rng.integers(0, half, num_samples)
    second = rng.integers(half, timesteps, num_samples)
    markers = np.zeros_like(values)
    markers[rows, first] = 1
    markers[rows, second] = 1
    return Dataset(
        name="adding",
        description=f"Adding problem: sum the 2 marked values among {timesteps} steps "
        "(predicting the mean: MSE ~ 0.167).",
        kind="regression",
        x=np.stack([values, markers], axis=-1),
        y=(values[rows, first] + values[rows, second])[:, None],
        feature_names=("value", "marker"),
        target_names=("sum",),
    )


@TASKS.register
def copy(
    limits: Limits | None = None,
    /,
    *,
    num_samples: int = 4000, num_values: int = 3, delay: int = 20, seed: int = 0
) -> Dataset:
    """Delayed recall: remember a few numbers through a stretch of blanks (memory capacity).

    Feature 0 carries `num_values` numbers drawn uniformly from [0, 1) in the first steps and
    is 0 for the remaining `delay + 1` steps; feature 1 is the recall cue, 1 on the last step
    only, so sequences have `num_values + delay + 1` steps. The targets are the numbers in
    order, shape `(samples, num_values)`. Predicting 0.5 everywhere gives an MSE of
    1/12 ~ 0.083.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of sequences.
        num_values: how many numbers to remember (outputs per sequence).
        delay: blank steps between the numbers and the recall cue; longer is harder.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = copy(num_samples=8, num_values=2, delay=5)
    >>> data.x.shape, data.y.shape
    ((8, 8, 2), (8, 2))
    """
    check_counts(1, num_samples=num_samples, num_values=num_values)
    check_counts(0, delay=delay, seed=seed)
    timesteps = num_values + delay + 1
    check_limits(
        limits, "copy", samples=num_samples, timesteps=timesteps, inputs=2, outputs=num_values
    )
    check_array_size((num_samples, timesteps, 2), "copy")
    rng = np.random.default_rng(seed)
    values = rng.random((num_samples, num_values), dtype=np.float32)
    x = np.zeros((num_samples, timesteps, 2), np.float32)
    x[:, :num_values, 0] = values
    x[:, -1, 1] = 1
    return Dataset(
        name="copy",
        description=f"Delayed recall: repeat {num_values} numbers after {delay} blank steps "
        "(predicting 0.5: MSE ~ 0.083).",
        kind="regression",
        x=x,
        y=values,
        feature_names=("value", "recall cue"),
        target_names=tuple(f"value {i}" for i in range(num_values)),
    )


@TASKS.register
def sine(
    limits: Limits | None = None,
    /,
    *,
    num_samples: int = 2000,
    timesteps: int = 40,
    num_waves: int = 3,
    horizon: int = 1,
    noise: float = 0.05,
    seed: int = 0,
) -> Dataset:
    """Sine forecasting: continue a noisy sum of sine waves for the next step(s).

    The seed draws `num_waves` periods between 4 and `timesteps` steps and their amplitudes
    (summing to 1), shared by all sequences; each sequence has its own random phases. The
    input is the sum plus Gaussian noise of standard deviation `noise`; the targets are the
    next `horizon` values of the noiseless sum, shape `(samples, horizon)`.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of sequences.
        timesteps: length of the observed window.
        num_waves: number of sine waves summed.
        horizon: how many future steps to predict (outputs per sequence).
        noise: standard deviation of the noise added to the inputs (not to the targets).
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = sine(num_samples=8, timesteps=30, horizon=2)
    >>> data.x.shape, data.y.shape
    ((8, 30, 1), (8, 2))
    """
    check_counts(1, num_samples=num_samples, num_waves=num_waves, horizon=horizon)
    check_counts(4, timesteps=timesteps)
    check_counts(0, seed=seed)
    if not noise >= 0:
        raise ValueError(f"noise must be a standard deviation >= 0. Received: noise={noise!r}")
    check_limits(
        limits, "sine", samples=num_samples, timesteps=timesteps, inputs=1, outputs=horizon
    )
    check_array_size((num_samples, timesteps + horizon, 1), "sine")
    rng = np.random.default_rng(seed)
    periods = rng.uniform(4, timesteps, num_waves)
    amplitudes = rng.uniform(0.5, 1.0, num_waves)
    amplitudes /= amplitudes.sum()
    phases = rng.uniform(0, 2 * np.pi, (num_samples, num_waves))
    steps = np.arange(timesteps + horizon)
    signal = np.zeros((num_samples, timesteps + horizon))
    for amplitude, period, phase in zip(amplitudes, periods, phases.T, strict=True):
        signal += amplitude * np.sin(2 * np.pi * steps / period + phase[:, None])
    observed = signal[:, :timesteps] + noise * rng.standard_normal((num_samples, timesteps))
    return Dataset(
        name="sine",
        description=f"Sine forecasting: continue a sum of {num_waves} sine waves for "
        f"{horizon} step(s) from {timesteps} noisy steps.",
        kind="regression",
        x=observed[:, :, None].astype(np.float32),
        y=signal[:, timesteps:].astype(np.float32),
        feature_names=("signal",),
        target_names=tuple(f"t+{i + 1}" for i in range(horizon)),
    )


@TASKS.register
def channels(
    limits: Limits | None = None,
    /,
    *,
    num_samples: int = 4000,
    timesteps: int = 20,
    groups: int = 2,
    features_per_group: int = 2,
    seed: int = 0,
) -> Dataset:
    """Independent channels: each group's target depends only on that group's inputs.

    The inputs are `groups * features_per_group` standard normal features, group `g` being
    features `g * features_per_group` to `(g + 1) * features_per_group - 1`. Target `g` is
    the sum over time of group `g`'s features, each with a fixed random sign (drawn from the
    seed), divided by sqrt(timesteps * features_per_group), so it is standard normal and
    always predicting 0 gives an MSE of 1. Because no target mixes groups, a block-diagonal
    connectivity with `groups` blocks (inputs of group g -> units of block g, recurrence
    within blocks) should fit as well as a dense LSTM, with fewer parameters.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of sequences.
        timesteps: sequence length.
        groups: number of independent groups, and of targets.
        features_per_group: input features in each group.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = channels(num_samples=8, groups=3, features_per_group=2)
    >>> data.input_dim, data.output_dim
    (6, 3)
    """
    check_counts(1, num_samples=num_samples, timesteps=timesteps, groups=groups)
    check_counts(1, features_per_group=features_per_group)
    check_counts(0, seed=seed)
    num_features = groups * features_per_group
    check_limits(
        limits, "channels", samples=num_samples, timesteps=timesteps, inputs=num_features,
        outputs=groups,
    )
    check_array_size((num_samples, timesteps, num_features), "channels")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_samples, timesteps, num_features), dtype=np.float32)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), num_features)
    weighted_sums = (x * signs).sum(axis=1)
    y = weighted_sums.reshape(num_samples, groups, features_per_group).sum(axis=2)
    return Dataset(
        name="channels",
        description=f"Independent channels: {groups} groups of {features_per_group} inputs, "
        "each group's target depends on its own inputs only.",
        kind="regression",
        x=x,
        y=(y / np.sqrt(timesteps * features_per_group)).astype(np.float32),
        feature_names=tuple(
            f"group {g} feature {f}" for g in range(groups) for f in range(features_per_group)
        ),
        target_names=tuple(f"group {g}" for g in range(groups)),
    )


@TASKS.register
def largest_sum(
    limits: Limits | None = None,
    /,
    *,
    num_samples: int = 4000, timesteps: int = 20, num_channels: int = 3, seed: int = 0
) -> Dataset:
    """Sequence classification: which channel has the largest sum over time?

    Each of `num_channels` features is standard normal noise at every step; the label is the
    index of the feature whose sum over the sequence is largest. The classes are balanced
    (each has probability 1 / num_channels by symmetry), so chance accuracy is
    1 / num_channels.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of sequences.
        timesteps: sequence length.
        num_channels: number of features, and of classes (at least 2).
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = largest_sum(num_samples=8, num_channels=4)
    >>> data.kind, data.num_classes, data.y.dtype
    ('classification', 4, dtype('int32'))
    """
    check_counts(1, num_samples=num_samples, timesteps=timesteps)
    check_counts(2, num_channels=num_channels)
    check_counts(0, seed=seed)
    check_limits(
        limits, "largest_sum", samples=num_samples, timesteps=timesteps, inputs=num_channels,
        outputs=num_channels,
    )
    check_array_size((num_samples, timesteps, num_channels), "largest_sum")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_samples, timesteps, num_channels), dtype=np.float32)
    return Dataset(
        name="largest_sum",
        description=f"Classification: which of {num_channels} noisy channels has the largest "
        f"sum over {timesteps} steps (chance: {1 / num_channels:.0%}).",
        kind="classification",
        x=x,
        y=x.sum(axis=1).argmax(axis=1).astype(np.int32),
        num_classes=num_channels,
        feature_names=tuple(f"channel {c}" for c in range(num_channels)),
        target_names=tuple(f"channel {c}" for c in range(num_channels)),
    )


@TASKS.register
def flipflop(
    limits: Limits | None = None,
    /,
    *,
    num_samples: int = 2000,
    bits: int = 3,
    timesteps: int = 100,
    pulse_probability: float = 0.05,
    seed: int = 0,
) -> Dataset:
    """N-bit flip-flop: each output holds the sign of its channel's last pulse (per step).

    Sussillo & Barak (2013). Each of the `bits` input channels is 0 except for sparse
    pulses of +1 or -1 (at each step, a pulse with probability `pulse_probability`, its
    sign a coin flip); output `b` at every step is the sign of channel `b`'s latest pulse
    (that step's included), shape `(samples, timesteps, bits)`. Before a channel's first
    pulse its target is 0 and the step has weight 0: a step counts in the loss only once
    every channel has pulsed, so every counted target is +1 or -1 and a zero output gives
    an MSE of exactly 1 on the counted steps. With the defaults about a third of the steps
    come before the last channel's first pulse and do not count.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of sequences.
        bits: input channels, and outputs (the flip-flops).
        timesteps: sequence length (at least 2).
        pulse_probability: chance of a pulse per channel and step, in (0, 1].
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = flipflop(num_samples=8, bits=2, timesteps=30)
    >>> data.x.shape, data.y.shape, data.weights.shape
    ((8, 30, 2), (8, 30, 2), (8, 30))

    Raises:
        ValueError: for a parameter out of range, or when no sequence has a pulse on
            every channel (then no step would count): raise `timesteps` or
            `pulse_probability`.
    """
    check_counts(1, num_samples=num_samples, bits=bits)
    check_counts(2, timesteps=timesteps)
    check_counts(0, seed=seed)
    if not 0 < pulse_probability <= 1:
        raise ValueError(
            "pulse_probability must be in (0, 1]. "
            f"Received: pulse_probability={pulse_probability!r}"
        )
    check_limits(
        limits, "flipflop", samples=num_samples, timesteps=timesteps, inputs=bits, outputs=bits
    )
    check_array_size((num_samples, timesteps, bits), "flipflop")
    rng = np.random.default_rng(seed)
    pulses = rng.random((num_samples, timesteps, bits)) < pulse_probability
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), (num_samples, timesteps, bits))
    x = np.where(pulses, signs, np.float32(0))
    y = np.empty_like(x)
    state = np.zeros_like(x[:, 0])
    for step in range(timesteps):  # hold each channel's last pulse
        state = np.where(pulses[:, step], x[:, step], state)
        y[:, step] = state
    weights = (y != 0).all(axis=2).astype(np.float32)
    if not weights.any():
        raise ValueError(
            f"flipflop: no sequence has a pulse on all {bits} channels, so no step would "
            "count in the loss. Raise timesteps or pulse_probability. Received: "
            f"timesteps={timesteps}, pulse_probability={pulse_probability}."
        )
    return Dataset(
        name="flipflop",
        description=f"{bits}-bit flip-flop over {timesteps} steps: hold the sign of each "
        "channel's last pulse (zero output: MSE 1).",
        kind="regression",
        x=x,
        y=y,
        weights=weights,
        feature_names=tuple(f"channel {b}" for b in range(bits)),
        target_names=tuple(f"bit {b}" for b in range(bits)),
    )


PERIOD_STEPS = 5
"""Steps of each fixed period of `delayed_match`: fixation, sample, test, decision."""


@TASKS.register
def delayed_match(
    limits: Limits | None = None,
    /,
    *,
    num_samples: int = 2000,
    num_stimuli: int = 4,
    delay: int = 20,
    noise: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Delayed match-to-sample: after a delay, does the test stimulus match the sample?

    A working-memory task, classified per step. Each trial has five periods: fixation
    (5 steps), sample (5 steps, one of `num_stimuli` stimuli), delay (`delay` steps, no
    stimulus), test (5 steps, a stimulus) and decision (5 steps), so `delay + 20` steps.
    Inputs: `num_stimuli` one-hot stimulus channels, 1 on the shown stimulus's channel
    during sample and test, and a fixation channel, 1 until the decision period (its
    going off is the go cue); Gaussian noise of standard deviation `noise` is added to
    every input. Labels per step: 1 for a match, 0 for a non-match; only the decision steps
    have weight 1, every other step weight 0 (their label 0 never counts). Half the trials
    match; a non-match shows one of the other stimuli. Chance accuracy is 50 % and a
    constant 50/50 prediction gives a cross-entropy of ln 2 ~ 0.693.

    Args:
        limits: the operator's limits, checked before generating; `None` for none.
        num_samples: number of trials.
        num_stimuli: stimuli to choose from (at least 2).
        delay: steps between sample and test; longer is harder.
        noise: standard deviation of the noise added to the inputs.
        seed: random seed; the same seed gives the same data.

    Example:

    >>> data = delayed_match(num_samples=8, delay=10)
    >>> data.x.shape, data.y.shape, data.weights[0].tolist().count(1.0)
    ((8, 30, 5), (8, 30), 5)
    """
    check_counts(1, num_samples=num_samples)
    check_counts(2, num_stimuli=num_stimuli)
    check_counts(0, delay=delay, seed=seed)
    if not noise >= 0:
        raise ValueError(f"noise must be a standard deviation >= 0. Received: noise={noise!r}")
    timesteps = delay + 4 * PERIOD_STEPS
    features = num_stimuli + 1
    check_limits(
        limits, "delayed_match", samples=num_samples, timesteps=timesteps, inputs=features,
        outputs=2,
    )
    check_array_size((num_samples, timesteps, features), "delayed_match")
    rng = np.random.default_rng(seed)
    sample = rng.integers(0, num_stimuli, num_samples)
    match = rng.random(num_samples) < 0.5
    other = (sample + rng.integers(1, num_stimuli, num_samples)) % num_stimuli
    test = np.where(match, sample, other)
    sample_at = PERIOD_STEPS
    test_at = 2 * PERIOD_STEPS + delay
    decision_at = test_at + PERIOD_STEPS
    rows = np.arange(num_samples)[:, None]
    x = np.zeros((num_samples, timesteps, features), np.float32)
    x[rows, np.arange(sample_at, sample_at + PERIOD_STEPS), sample[:, None]] = 1
    x[rows, np.arange(test_at, decision_at), test[:, None]] = 1
    x[:, :decision_at, num_stimuli] = 1
    x += noise * rng.standard_normal(x.shape, dtype=np.float32)
    y = np.zeros((num_samples, timesteps), np.int32)
    y[:, decision_at:] = match[:, None]
    weights = np.zeros((num_samples, timesteps), np.float32)
    weights[:, decision_at:] = 1
    return Dataset(
        name="delayed_match",
        description=f"Delayed match-to-sample: {num_stimuli} stimuli, {delay}-step delay; "
        "match or not, judged on the decision steps (chance: 50%).",
        kind="classification",
        x=x,
        y=y,
        num_classes=2,
        weights=weights,
        feature_names=(*(f"stimulus {s}" for s in range(num_stimuli)), "fixation"),
        target_names=("non-match", "match"),
    )
