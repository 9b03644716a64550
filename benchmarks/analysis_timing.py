"""The numbers of the README's Analysis section: the flip-flop's fixed points, the lesion
pass of a 64-unit run, and integrated gradients' completeness error.

1. A 3-bit flip-flop run trained as `tests/test_analysis.py` trains it (1,000 sequences, 20
   epochs, learning rate 0.02): its test MSE, the fixed points found and stable, the time
   of training and of the search.
2. A 64-unit run (4 blocks, Dale's law), one epoch on a 4-bit flip-flop: every unit and 6
   groups lesioned in one vectorised pass over 256 sequences x 100 steps, against a control
   measured in the same rounds, interleaved: the same pass without lesions (one batch of
   256). The pass does 71 lesions' work; the ratio shows what the batching saves over 71
   plain passes. Best-of-rounds and median.
3. The completeness error of integrated gradients on an adding-task run (the 50-point
   rule) and on the flip-flop run (the 50-point rule alone, then refined), and the gradients
   evaluated.

    python -m benchmarks.analysis_timing            # from the repository root
    python -m benchmarks.analysis_timing --only completeness
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from limconn import analysis, data, presets, runs
from limconn.analysis.lesions import lesion_losses
from limconn.training import TrainConfig, train


def _flipflop(folder: Path) -> Path:
    started = time.perf_counter()
    dataset = data.make_task("flipflop", bits=3, num_samples=1000, seed=0)
    config = TrainConfig(epochs=20, learning_rate=0.02, seed=0, test_split=0.1)
    result = train(config, presets.random(3, 32, density=0.5, seed=0), dataset)
    trained = time.perf_counter() - started
    run = runs.write_run_folder(result, folder / "flipflop", run_id="flipflop",
                                name="flipflop", workspace="bench")
    started = time.perf_counter()
    points = analysis.fixed_points(run, x=data.make_task("flipflop", bits=3, num_samples=200,
                                                         seed=1).x)
    searched = time.perf_counter() - started
    patterns = {tuple(np.sign(o).astype(int)) for o in points.outputs[points.stable]}
    print(f"flip-flop: test MSE {result.test['test_loss']:.4f}; {len(points.q)} fixed points, "
          f"{int(points.stable.sum())} stable, {len(patterns)} sign patterns among the stable; "
          f"training {trained:.1f} s (with the data and the model), search {searched:.1f} s")
    return run


def _lesion_pass(folder: Path, rounds: int) -> None:
    design = presets.with_dale(presets.block_diagonal(4, 64, groups=4), excitatory=0.75)
    dataset = data.make_task("flipflop", bits=4, num_samples=100, timesteps=50, seed=0)
    result = train(TrainConfig(epochs=1, seed=0), design, dataset)
    dynamics = analysis.as_dynamics(result)
    held_out = data.make_task("flipflop", bits=4, num_samples=256, timesteps=100, seed=2)
    x, y, weights = held_out.x, held_out.y, held_out.weights
    lesioned, plain = [], []
    for round_ in range(rounds):
        for which in ((0, 1) if round_ % 2 == 0 else (1, 0)):
            started = time.perf_counter()
            if which == 0:
                found = analysis.lesions(dynamics, x, y, weights=weights)
            else:
                lesion_losses(dynamics, x, y, np.ones((1, 64)), weights)
            (lesioned if which == 0 else plain).append(time.perf_counter() - started)
    count = 1 + len(found.units) + len(found.group_names)
    ratios = [a / (count * b) for a, b in zip(lesioned, plain, strict=True)]
    print(f"lesions: {count - 1} lesions (64 units, {len(found.group_names)} groups) of a "
          f"64-unit run, {len(x)} sequences x {x.shape[1]} steps, one pass: best "
          f"{min(lesioned):.2f} s, median {statistics.median(lesioned):.2f} s; one plain pass "
          f"best {min(plain):.3f} s; pass / ({count} plain passes): best "
          f"{min(lesioned) / (count * min(plain)):.2f}, median {statistics.median(ratios):.2f}")


def _completeness(flipflop: Path) -> None:
    dataset = data.make_task("adding", num_samples=300, timesteps=20, seed=0)
    result = train(TrainConfig(epochs=3, seed=0), presets.random(2, 16, density=0.5, seed=0),
                   dataset)
    adding = analysis.attributions(result, data.make_task("adding", num_samples=6,
                                                          timesteps=20, seed=4).x)
    print(f"integrated gradients: completeness error {adding.completeness_error:.1e} on the "
          f"adding task (6 sequences), {adding.evaluations.sum()} gradients (50 points each)")
    held_out = data.make_task("flipflop", bits=3, num_samples=4, seed=1)
    for tolerance in (None, analysis.attributions.__kwdefaults__["tolerance"]):
        started = time.perf_counter()
        flipping = analysis.attributions(flipflop, held_out.x, tolerance=tolerance)
        print(f"flip-flop, 4 sequences, {'50 points' if tolerance is None else 'adaptive'}: "
              f"completeness error {flipping.completeness_error:.3g}, gradients "
              f"{flipping.evaluations.tolist()}, {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["completeness"],
                        help="train the flip-flop and measure only this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        flipflop = _flipflop(Path(folder))
        if args.only is None:
            _lesion_pass(Path(folder), args.rounds)
        _completeness(flipflop)


if __name__ == "__main__":
    main()
