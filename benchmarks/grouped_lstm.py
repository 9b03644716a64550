"""Does a block-structured mask make training faster? Grouped MaskedLSTM vs keras.layers.LSTM.

Three models train on the same data in one process, one `fit()` epoch each per round, in an
order that rotates every round so machine noise hits all alike: `MaskedLSTM` on
`presets.block_diagonal(inputs, units, groups)` with `execution="grouped"`, a
`keras.layers.LSTM(units)`, and a second, identical `keras.layers.LSTM(units)` as the control
(two identical models differ by noise alone; their ratio shows how much). It prints the
speed-up (LSTM time / grouped time) from the best round of each (best-of-rounds) and the
median of the per-round ratios, the control's the same way, and the largest difference
between the grouped and the dense path's outputs on the same weights.

Targets (median): >= 2.5x at 64 inputs, 512 units, 4 groups, 100 steps; >= 1.6x at 256 units.

`--rule` measures instead what `MaskedLSTM(execution="auto")` decides on: grouped vs the
dense path of the same `MaskedLSTM` over sizes and group counts (the numbers in
`limconn.grouped.grouped_is_faster`).

    python -m benchmarks.grouped_lstm                     # from the repository root
    python -m benchmarks.grouped_lstm --rounds 7 --sizes 64/512/4/100 64/256/4/100
    python -m benchmarks.grouped_lstm --rule
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.masked_lstm_overhead import regression_model
from limconn import presets
from limconn._tf import keras
from limconn.layers import MaskedLSTM

SIZES = ((64, 512, 4, 100), (64, 256, 4, 100))  # (inputs, units, groups, timesteps)
RULE_SIZES = (
    (2, 32, 2, 50), (4, 32, 4, 50), (16, 64, 2, 50), (16, 64, 4, 50), (16, 128, 2, 50),
    (16, 128, 4, 50), (64, 256, 2, 100),
)
BATCH = 64
SAMPLES = 1024


def _masked(design, execution):
    return MaskedLSTM(design.units, input_mask=design.input_mask,
                      recurrent_mask=design.recurrent_mask, execution=execution)


def _epoch_seconds(model, x, y):
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - start


def _interleaved(models, x, y, rounds):
    """Each model's epoch times over `rounds`, the order rotating every round."""
    for model in models:
        _epoch_seconds(model, x, y)  # trace and warm up
    times = [[] for _ in models]
    for round_index in range(rounds):
        shift = round_index % len(models)
        for index in [*range(shift, len(models)), *range(shift)]:
            times[index].append(_epoch_seconds(models[index], x, y))
    return times


def _speedup(baseline, candidate):
    """(best-of-rounds, median of per-round ratios) of baseline time / candidate time."""
    ratios = [b / c for b, c in zip(baseline, candidate, strict=True)]
    return min(baseline) / min(candidate), statistics.median(ratios)


def _data(inputs, timesteps):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, timesteps, inputs)).astype("float32")
    return x, rng.normal(size=(SAMPLES, 1)).astype("float32")


def _output_difference(design, x):
    """Largest |grouped - dense| of one MaskedLSTM's outputs, same weights, same inputs."""
    grouped, dense = _masked(design, "grouped"), _masked(design, "dense")
    grouped(x[:8])
    dense(x[:8])
    dense.set_weights(grouped.get_weights())
    difference = keras.ops.convert_to_numpy(grouped(x)) - keras.ops.convert_to_numpy(dense(x))
    return float(np.abs(difference).max())


def speedups(sizes, rounds):
    print(f"{'D/U/G/T':>14}  {'LSTM s':>7}  {'grouped s':>9}  {'speed-up best':>13}  "
          f"{'median':>6}  {'control best':>12}  {'median':>6}  {'max |grouped-dense|':>19}")
    for inputs, units, groups, timesteps in sizes:
        design = presets.block_diagonal(input_dim=inputs, units=units, groups=groups)
        x, y = _data(inputs, timesteps)
        models = [regression_model(_masked(design, "grouped"), inputs, timesteps),
                  regression_model(keras.layers.LSTM(units), inputs, timesteps),
                  regression_model(keras.layers.LSTM(units), inputs, timesteps)]
        grouped, plain, control = _interleaved(models, x, y, rounds)
        best, median = _speedup(plain, grouped)
        control_best, control_median = _speedup(plain, control)
        print(f"{inputs:>4}/{units}/{groups}/{timesteps:<4}  {min(plain):7.2f}  "
              f"{min(grouped):9.2f}  {best:12.2f}x  {median:5.2f}x  {control_best:11.2f}x  "
              f"{control_median:5.2f}x  {_output_difference(design, x):19.1e}")


def rule(sizes, rounds):
    print(f"{'D/U/G/T':>14}  {'dense s':>7}  {'grouped s':>9}  {'dense/grouped best':>18}  "
          f"{'median':>6}")
    for inputs, units, groups, timesteps in sizes:
        design = presets.block_diagonal(input_dim=inputs, units=units, groups=groups)
        x, y = _data(inputs, timesteps)
        models = [regression_model(_masked(design, execution), inputs, timesteps)
                  for execution in ("dense", "grouped")]
        dense, grouped = _interleaved(models, x, y, rounds)
        best, median = _speedup(dense, grouped)
        print(f"{inputs:>4}/{units}/{groups}/{timesteps:<4}  {min(dense):7.3f}  "
              f"{min(grouped):9.3f}  {best:17.2f}x  {median:5.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", metavar="D/U/G/T",
                        help="inputs/units/groups/timesteps (default: 64/512/4/100 64/256/4/100)")
    parser.add_argument("--rule", action="store_true",
                        help="grouped vs dense MaskedLSTM, the numbers behind execution='auto'")
    args = parser.parse_args()
    default = RULE_SIZES if args.rule else SIZES
    sizes = default if not args.sizes else [tuple(map(int, s.split("/"))) for s in args.sizes]
    print(f"backend={keras.backend.backend()} batch={BATCH} samples={SAMPLES} "
          f"rounds={args.rounds} (one fit() epoch per model per round)")
    (rule if args.rule else speedups)(sizes, args.rounds)


if __name__ == "__main__":
    main()
