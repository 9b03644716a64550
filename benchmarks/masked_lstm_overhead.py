"""How much does masking cost? MaskedLSTM vs keras.layers.LSTM training steps, interleaved.

Both models train on the same batches in one process, alternating in rounds so that machine
noise hits both alike; the printed ratio is the median over rounds of
(MaskedLSTM seconds per step) / (LSTM seconds per step). The target is <= 1.05.

    python -m benchmarks.masked_lstm_overhead             # from the repository root
    python -m benchmarks.masked_lstm_overhead --rounds 20 --steps 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

from limconn import presets
from limconn.layers import MaskedLSTM

SIZES = ((16, 32, 50), (64, 128, 100))  # (inputs, units, timesteps)
DENSITY = 0.1
BATCH = 64


def _model(layer, inputs, timesteps):
    model = keras.Sequential([keras.Input((timesteps, inputs)), layer, keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def _seconds_per_step(model, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return (time.perf_counter() - start) / steps


def measure(inputs, units, timesteps, rounds, steps):
    """Returns (median ratio, median LSTM s/step, median MaskedLSTM s/step)."""
    design = presets.random(inputs, units, density=DENSITY, seed=0)
    plain = _model(keras.layers.LSTM(units), inputs, timesteps)
    masked = _model(
        MaskedLSTM(units, input_mask=design.input_mask, recurrent_mask=design.recurrent_mask),
        inputs,
        timesteps,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, timesteps, inputs)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    for model in (plain, masked):
        _seconds_per_step(model, x, y, steps)  # trace and warm up
    plain_times, masked_times, ratios = [], [], []
    for round_index in range(rounds):
        order = (plain, masked) if round_index % 2 == 0 else (masked, plain)
        times = {id(model): _seconds_per_step(model, x, y, steps) for model in order}
        plain_times.append(times[id(plain)])
        masked_times.append(times[id(masked)])
        ratios.append(times[id(masked)] / times[id(plain)])
    return statistics.median(ratios), statistics.median(plain_times), statistics.median(
        masked_times
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(f"backend={keras.backend.backend()} density={DENSITY} batch={BATCH}")
    for inputs, units, timesteps in SIZES:
        ratio, plain, masked = measure(inputs, units, timesteps, args.rounds, args.steps)
        print(
            f"inputs={inputs} units={units} timesteps={timesteps}: "
            f"LSTM {plain * 1e3:.2f} ms/step, MaskedLSTM {masked * 1e3:.2f} ms/step, "
            f"ratio {ratio:.3f}"
        )


if __name__ == "__main__":
    main()
