"""Which Keras backend trains the app's default run fastest? fit() epochs per backend, interleaved.

A process holds one backend, so every round starts one fresh process per backend, in turn
(the order flips every round, so that machine noise hits each alike). Each process times
importing Keras and its backend (`limconn._tf`), then trains, on the app's default data
(the `adding` task: 4,000 sequences of 50 steps and 2 inputs, 80 % for training, batches of
64), three models side by side, alternating epoch by epoch after one warm-up epoch each:
`keras.layers.LSTM` (plain), a second identical plain model (the control: how far two equal
models differ here) and the app's `kernel` model of the default design (`MaskedLSTM`,
a random design at density 0.5). For each size and backend it prints seconds per epoch,
best-of-rounds and median, and each backend's ratio to TensorFlow's on the same round,
best-of-rounds and median of the rounds' ratios; the control's ratio to plain shows the noise.

    python -m benchmarks.backends                          # from the repository root
    python -m benchmarks.backends --rounds 5 --epochs 3 --sizes 2/16/50 2/32/50
    python -m benchmarks.backends --backends tensorflow jax torch   # torch: plain LSTM only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = ((2, 16, 50), (2, 32, 50))  # (inputs, units, timesteps): the app's design, the issue's
SAMPLES, TRAINING_SHARE, BATCH = 4000, 0.8, 64
MODELS = ("plain", "control", "masked")

# One process: import, then the three models' epochs, printed as one JSON line.
_CHILD = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    if sys.argv[1] == "torch":  # limconn does not run on torch: Keras alone, plain LSTMs
        import keras, torch
    else:
        from limconn._tf import keras
    imported = time.perf_counter() - start
    import numpy as np
    from limconn import Head, build_model, data, presets

    sizes, epochs, samples, share, batch = json.loads(sys.argv[2])
    report = {"backend": keras.config.backend(), "import_seconds": imported, "sizes": {}}
    for inputs, units, timesteps in sizes:
        dataset = data.make_task("adding", num_samples=samples, timesteps=timesteps, seed=0)
        rows = int(samples * share)
        x, y = dataset.x[:rows], dataset.y[:rows]
        def plain():
            keras.utils.set_random_seed(0)
            return keras.Sequential([keras.Input((timesteps, inputs)), keras.layers.LSTM(units),
                                     keras.layers.Dense(1)])
        models = {"plain": plain(), "control": plain()}
        if report["backend"] != "torch":
            keras.utils.set_random_seed(0)
            design = presets.random(inputs, units, density=0.5, seed=0)
            models["masked"] = build_model("kernel", design, (timesteps, inputs),
                                           Head("regression", 1))
        for model in models.values():
            model.compile(keras.optimizers.Adam(0.01), "mse")
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # trace, compile, warm up
        seconds = {name: [] for name in models}
        for epoch in range(epochs):
            names = list(models) if epoch % 2 == 0 else list(models)[::-1]
            for name in names:
                begin = time.perf_counter()
                models[name].fit(x, y, batch_size=batch, epochs=1, verbose=0)
                seconds[name].append(time.perf_counter() - begin)
        report["sizes"][f"{inputs}/{units}/{timesteps}"] = {
            name: min(values) for name, values in seconds.items()}
    print(json.dumps(report))
""")


def run_child(backend: str, sizes, epochs: int) -> dict:
    """One fresh process on `backend`: its import time and best epoch per model and size."""
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONPATH": str(REPO)}
    settings = json.dumps([sizes, epochs, SAMPLES, TRAINING_SHARE, BATCH])
    done = subprocess.run([sys.executable, "-c", _CHILD, backend, settings], env=environment,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"The {backend} process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stats(values: list[float]) -> str:
    return f"{min(values):7.3f} {statistics.median(values):7.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per model")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--sizes", nargs="+", metavar="D/U/T",
                        help="inputs/units/timesteps (default: 2/16/50 2/32/50)")
    args = parser.parse_args(argv)
    sizes = SIZES if not args.sizes else [tuple(map(int, s.split("/"))) for s in args.sizes]

    reports: dict[str, list[dict]] = {backend: [] for backend in args.backends}
    started = time.perf_counter()
    for round_index in range(args.rounds):
        order = args.backends if round_index % 2 == 0 else args.backends[::-1]
        for backend in order:
            reports[backend].append(run_child(backend, sizes, args.epochs))
        print(f"round {round_index + 1}/{args.rounds} done ({time.perf_counter() - started:.0f} s)",
              flush=True)

    reference = args.backends[0]
    print(f"\n{SAMPLES * TRAINING_SHARE:.0f} training sequences, batch {BATCH}, "
          f"{args.rounds} rounds x {args.epochs} epochs; seconds: best-of-rounds, median")
    print(f"{'backend':>10}  {'import s':>15}")
    for backend, runs in reports.items():
        print(f"{backend:>10}  {_stats([run['import_seconds'] for run in runs])}")
    for inputs, units, timesteps in sizes:
        size = f"{inputs}/{units}/{timesteps}"
        print(f"\n{size} (inputs/units/steps): seconds per epoch, best-of-rounds and median; "
              f"ratios to {reference}'s plain LSTM per round")
        print(f"{'backend':>10}  {'model':>8}  {'s/epoch best, median':>20}  "
              f"{'vs ' + reference + ' best, median':>26}  {'/ own plain best, median':>24}")
        for backend, runs in reports.items():
            for model in MODELS:
                if model not in runs[0]["sizes"][size]:
                    continue
                seconds = [run["sizes"][size][model] for run in runs]
                base = [run["sizes"][size]["plain"] for run in reports[reference]]
                own = [run["sizes"][size]["plain"] for run in runs]
                versus = [s / b for s, b in zip(seconds, base, strict=True)]
                within = [s / p for s, p in zip(seconds, own, strict=True)]
                print(f"{backend:>10}  {model:>8}  {_stats(seconds):>20}  "
                      f"{min(seconds) / min(base):13.3f} {statistics.median(versus):12.3f}  "
                      f"{min(seconds) / min(own):11.3f} {statistics.median(within):12.3f}")


if __name__ == "__main__":
    main()
