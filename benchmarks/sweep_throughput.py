"""What do sweeps of 8 and 32 designs cost next to one design alone? Whole commands, start-up
included.

Runs `python -m limconn train` with one design, the same command again as a control (two
identical runs differ by noise alone), and `python -m limconn sweep` with 8 and with 32
designs (2 inputs x 32 units each, random masks, one seed: one model whose designs are the
groups of one grouped LSTM, `limconn.fused`) on the `adding` task, each as a fresh process
so that importing Keras's backend counts, interleaved for `--repeats` rounds. Prints each round's
wall times and, per command, its time / the lone run's, best-of-rounds and median. Targets:
8 designs <= 2x, 32 designs <= 4x.

    python -m benchmarks.sweep_throughput                # from the repository root
    python -m benchmarks.sweep_throughput --epochs 5 --repeats 5
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

TARGETS = {8: 2.0, 32: 4.0}
"""Designs in one sweep -> the most it may cost, in lone runs."""
INPUTS, UNITS = 2, 32


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
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every command")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        designs = []
        for index in range(max(TARGETS)):
            path = folder / f"design{index}.npz"
            presets.random(INPUTS, UNITS, density=0.5, seed=index).save(path)
            designs.append(str(path))
        common = ["--task", "adding", "--task-param", f"num_samples={args.samples}",
                  "--epochs", str(args.epochs)]
        commands = {
            "1 design alone": ["train", "--design", designs[0], *common, "--seed", "0"],
            "1 design alone (control)": ["train", "--design", designs[0], *common,
                                         "--seed", "0"],
            **{f"{count} designs in one sweep": ["sweep", "--design", *designs[:count],
                                                 *common, "--seeds", "0"]
               for count in TARGETS},
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for round_index in range(args.repeats):
            for run, (name, command) in enumerate(commands.items()):
                out = folder / f"out{round_index}-{run}"
                times[name].append(_seconds([*command, "--out", str(out)]))
            print(f"round {round_index + 1}: " + ", ".join(
                f"{name} {values[-1]:.1f} s" for name, values in times.items()))
    alone = times["1 design alone"]
    for name, values in times.items():
        ratios = [value / base for value, base in zip(values, alone, strict=True)]
        line = (f"{name} / alone: best {min(ratios):.2f}x, median "
                f"{statistics.median(ratios):.2f}x")
        count = int(name.split()[0])
        if count in TARGETS:
            verdict = "within" if statistics.median(ratios) <= TARGETS[count] else "over"
            line += f" ({verdict} the target of {TARGETS[count]:g}x, median)"
        print(line)


if __name__ == "__main__":
    main()
