"""What does a sweep of 8 designs cost next to one design alone? Whole commands, start-up included.

Runs `python -m limconn train` with one design and `python -m limconn sweep` with 8 designs
(2 inputs x 32 units each, random masks, one seed: one model of 8 branches) on the `adding`
task, each as a fresh process so that importing TensorFlow counts, alternating the two
commands for `--repeats` rounds. Prints each wall time and the ratio of the medians (sweep /
alone). The target is <= 3: 8 runs for the price of 3.

    python -m benchmarks.sweep_throughput                # from the repository root
    python -m benchmarks.sweep_throughput --epochs 5 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from limconn import presets

DESIGNS = 8
INPUTS, UNITS = 2, 32
TARGET_RATIO = 3.0


def _seconds(command: list[str]) -> float:
    """Wall time of `python -m limconn COMMAND` in a fresh process."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "limconn", *command], check=True, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000, help="adding task sequences")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of both commands")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        designs = []
        for index in range(DESIGNS):
            path = folder / f"design{index}.npz"
            presets.random(INPUTS, UNITS, density=0.5, seed=index).save(path)
            designs.append(str(path))
        common = ["--task", "adding", "--task-param", f"num_samples={args.samples}",
                  "--epochs", str(args.epochs), "--seed", "0"]
        alone_times, sweep_times = [], []
        for round_index in range(args.repeats):
            alone = ["train", "--design", designs[0], *common,
                     "--out", str(folder / f"alone{round_index}")]
            swept = ["sweep", "--design", *designs, *common,
                     "--out", str(folder / f"sweep{round_index}")]
            swept[swept.index("--seed")] = "--seeds"
            alone_times.append(_seconds(alone))
            sweep_times.append(_seconds(swept))
            print(f"round {round_index + 1}: 1 design alone {alone_times[-1]:.1f} s, "
                  f"{DESIGNS} designs in one sweep {sweep_times[-1]:.1f} s")
    ratio = statistics.median(sweep_times) / statistics.median(alone_times)
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"sweep / alone = {ratio:.2f} ({verdict} the target of {TARGET_RATIO:g}x); "
          f"{DESIGNS} separate runs would be about {DESIGNS}x")


if __name__ == "__main__":
    main()
