"""How much does masking cost? MaskedLSTM vs keras.layers.LSTM training steps, interleaved.

Both models train on the same batches in one process, alternating in rounds (the order
flips every round) so that machine noise hits both alike. For each size it prints the ratio
of the best round of each (best-of-rounds: least disturbed by noise) and the median of the
per-round ratios side by side; the claim rests on best-of-rounds, the median shows the
spread. The target is <= 1.05 at every size.

On a GPU it also checks what the CPU cannot: that `MaskedLSTM` ran Keras's fused cuDNN
kernel (Keras marks a layer that did with `supports_jit = False`), and that a disconnected
input has no influence there too (bit-identical predictions after training).

    python -m benchmarks.masked_lstm_overhead             # from the repository root
    python -m benchmarks.masked_lstm_overhead --rounds 15 --steps 10 --sizes 64/128/100
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from limconn import presets
from limconn._tf import keras
from limconn.layers import MaskedLSTM

SIZES = ((16, 32, 50), (64, 128, 100), (128, 512, 200))  # (inputs, units, timesteps)
DENSITY = 0.1
BATCH = 64


def regression_model(layer, inputs: int, timesteps: int):
    """`layer` between an input of `(timesteps, inputs)` and one linear output, compiled with
    Adam and MSE: the model every LSTM benchmark here times."""
    model = keras.Sequential([keras.Input((timesteps, inputs)), layer, keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def _seconds_per_step(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps


def measure(inputs, units, timesteps, rounds, steps):
    """Returns (best-of-rounds ratio, median ratio, best LSTM s/step, best MaskedLSTM s/step)."""
    design = presets.random(inputs, units, density=DENSITY, seed=0)
    plain = regression_model(keras.layers.LSTM(units), inputs, timesteps)
    masked = regression_model(
        MaskedLSTM(units, input_mask=design.input_mask, recurrent_mask=design.recurrent_mask),
        inputs,
        timesteps,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, timesteps, inputs)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    for model in (plain, masked):
        _seconds_per_step(model, x, y, steps)  # trace and warm up
    plain_times, masked_times = [], []
    for round_index in range(rounds):
        order = (plain, masked) if round_index % 2 == 0 else (masked, plain)
        times = {id(model): _seconds_per_step(model, x, y, steps) for model in order}
        plain_times.append(times[id(plain)])
        masked_times.append(times[id(masked)])
    ratios = [m / p for m, p in zip(masked_times, plain_times, strict=True)]
    return (min(masked_times) / min(plain_times), statistics.median(ratios),
            min(plain_times), min(masked_times))


def check_gpu() -> None:
    """On a GPU: the fused kernel ran, and a disconnected input has no influence there."""
    design = presets.random(4, 32, density=0.3, seed=1)
    input_mask = design.input_mask.copy()
    input_mask[2] = False
    layer = MaskedLSTM(32, input_mask=input_mask, recurrent_mask=design.recurrent_mask)
    model = regression_model(layer, 4, 20)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20, 4)).astype("float32")
    model.fit(x, rng.normal(size=(64, 1)).astype("float32"), epochs=3, verbose=0)
    assert layer.supports_jit is False, "MaskedLSTM did not take the fused cuDNN path"
    changed = x.copy()
    changed[:, :, 2] += rng.normal(scale=10.0, size=changed[:, :, 2].shape)
    np.testing.assert_array_equal(model.predict(changed, verbose=0), model.predict(x, verbose=0))
    print("GPU: MaskedLSTM ran the fused cuDNN kernel; a disconnected input had no influence "
          "(bit-identical predictions after training).")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--sizes", nargs="+", metavar="D/U/T",
                        help="inputs/units/timesteps (default: 16/32/50 64/128/100 128/512/200)")
    args = parser.parse_args()
    sizes = SIZES if not args.sizes else [tuple(map(int, s.split("/"))) for s in args.sizes]
    gpus = keras.config.backend() == "tensorflow" and __import__(
        "tensorflow").config.list_physical_devices("GPU")
    print(f"backend={keras.backend.backend()} device={'GPU' if gpus else 'CPU'} "
          f"density={DENSITY} batch={BATCH} rounds={args.rounds} steps/round={args.steps}")
    print(f"{'D/U/T':>12}  {'LSTM ms':>8}  {'Masked ms':>9}  {'best-of-rounds':>14}  "
          f"{'median':>7}")
    for inputs, units, timesteps in sizes:
        best, median, plain, masked = measure(inputs, units, timesteps, args.rounds, args.steps)
        print(f"{inputs:>4}/{units}/{timesteps:<4}  {plain * 1e3:8.2f}  {masked * 1e3:9.2f}  "
              f"{best:14.3f}  {median:7.3f}")
    if gpus:
        check_gpu()


if __name__ == "__main__":
    main()
