"""`limconn.analysis`: what a trained run computes, checked against the run's own Keras model
and against independent computations (finite differences, one lesion at a time, a known
projection, a hand-built spectrum), and the flip-flop's eight memories as stable fixed
points."""

import itertools
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from limconn import Connectivity, analysis, data, evaluation, presets, runs
from limconn.analysis.dynamics import Dynamics
from limconn.training import TrainConfig, train
from tests.test_cli import REPO, _cli

FLIPFLOP_CONFIG = TrainConfig(epochs=20, learning_rate=0.02, seed=0, test_split=0.1)
"""The smallest flip-flop training found to reach test MSE < 0.01 (about 0.004) with
1,000 sequences, in about 10-20 s on 2 cores."""


def _saved(result, tmp_path_factory, name: str):
    folder = tmp_path_factory.mktemp("runs") / name
    return runs.write_run_folder(result, folder, run_id=name, name=name, workspace="tests")


@pytest.fixture(scope="module")
def flipflop_run(tmp_path_factory):
    """A 3-bit flip-flop run (per-step readout), trained to test MSE < 0.01; its training
    time in seconds."""
    started = time.perf_counter()
    dataset = data.make_task("flipflop", bits=3, num_samples=1000, seed=0)
    result = train(FLIPFLOP_CONFIG, presets.random(3, 32, density=0.5, seed=0), dataset)
    return _saved(result, tmp_path_factory, "flipflop"), result, time.perf_counter() - started


@pytest.fixture(scope="module")
def adding_run(tmp_path_factory):
    """An adding-task run (one output per sequence), briefly trained."""
    dataset = data.make_task("adding", num_samples=300, timesteps=20, seed=0)
    result = train(TrainConfig(epochs=3, seed=0), presets.random(2, 16, density=0.5, seed=0),
                   dataset)
    return _saved(result, tmp_path_factory, "adding"), result


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    """A 64-unit run of 4 blocks with Dale's law (16 inhibitory units), one epoch."""
    design = presets.with_dale(presets.block_diagonal(4, 64, groups=4), excitatory=0.75)
    dataset = data.make_task("flipflop", bits=4, num_samples=100, timesteps=50, seed=0)
    result = train(TrainConfig(epochs=1, seed=0), design, dataset)
    return _saved(result, tmp_path_factory, "wide"), result


def test_flipflop_stable_fixed_points_are_its_eight_memories(flipflop_run):
    folder, result, training_seconds = flipflop_run
    assert result.test["test_loss"] < 0.01
    started = time.perf_counter()
    held_out = data.make_task("flipflop", bits=3, num_samples=200, seed=1)
    points = analysis.fixed_points(folder, x=held_out.x)
    seconds = time.perf_counter() - started
    stable = points.outputs[points.stable]
    assert {tuple(np.sign(output).astype(int)) for output in stable} == set(
        itertools.product((-1, 1), repeat=3))
    assert np.all(np.abs(np.abs(stable) - 1) < 0.2)  # the readout there holds +-1
    assert np.all(points.q < 1e-10) and len(points.q) > points.stable.sum()  # saddles too
    assert np.all(np.abs(points.eigenvalues[points.stable]) < 1)
    print(f"\nflip-flop: test MSE {result.test['test_loss']:.4f}, {len(points.q)} fixed points, "
          f"{int(points.stable.sum())} stable; training {training_seconds:.1f} s, "
          f"fixed points {seconds:.1f} s, together {training_seconds + seconds:.1f} s")


@pytest.mark.parametrize("which, task, units", [
    ("flipflop_run", {"name": "flipflop", "bits": 3}, 32),  # a readout at every step
    ("adding_run", {"name": "adding", "timesteps": 20}, 16),  # one per sequence
])
def test_trajectories_give_the_keras_models_predictions(which, task, units, request):
    folder, result = request.getfixturevalue(which)[:2]
    x = data.make_task(**task, num_samples=50, seed=3).x
    states = analysis.trajectories(folder, x)
    np.testing.assert_allclose(states.predictions, result.model.predict(x, verbose=0),
                               atol=1e-5)
    assert states.hidden.shape == states.cell.shape == (50, x.shape[1], units)
    np.testing.assert_array_equal(analysis.trajectories(result, x).hidden, states.hidden)


def _dense_dynamics(units=5, inputs=2, outputs=2, seed=0, **changes) -> Dynamics:
    rng = np.random.default_rng(seed)
    values = dict(
        strategy="kernel", kind="regression", per_step=False,
        input_kernel=rng.normal(size=(inputs, 4 * units)),
        recurrent_kernel=rng.normal(size=(units, 4 * units)) / np.sqrt(units),
        bias=rng.normal(size=4 * units) * 0.5,
        readout_kernel=rng.normal(size=(units, outputs)), readout_bias=rng.normal(size=outputs),
        connectivity=Connectivity.dense(inputs, units),
    )
    return Dynamics(**{**values, **changes})


def test_the_step_jacobian_matches_finite_differences():
    dynamics = _dense_dynamics()
    rng = np.random.default_rng(1)
    h, c = rng.normal(size=(3, 5)) * 0.5, rng.normal(size=(3, 5))
    drive = dynamics.drive(rng.normal(size=(3, 2)))
    jacobian = dynamics.jacobian(drive, h, c)
    state, step = np.concatenate([h, c], axis=1), 1e-6
    for column in range(10):
        moved = np.zeros(10)
        moved[column] = step
        ahead = np.concatenate(dynamics.step(drive, *np.split(state + moved, 2, axis=1)), axis=1)
        behind = np.concatenate(dynamics.step(drive, *np.split(state - moved, 2, axis=1)), axis=1)
        np.testing.assert_allclose(jacobian[:, :, column], (ahead - behind) / (2 * step),
                                   atol=1e-8)


def test_pca_recovers_a_known_projection():
    rng = np.random.default_rng(0)
    scores, _ = np.linalg.qr(rng.normal(size=(200, 2)))
    scores = scores - scores.mean(axis=0)
    scores *= [3.0, 1.0] / scores.std(axis=0, ddof=1)  # variances 9 and 1
    axes_in, _ = np.linalg.qr(rng.normal(size=(6, 2)))
    scores[:, 1] -= scores[:, 0] * (scores[:, 0] @ scores[:, 1]) / (scores[:, 0] @ scores[:, 0])
    mean = rng.normal(size=6)
    states = scores @ axes_in.T + mean
    found = analysis.pca(states.reshape(20, 10, 6), k=2)
    projected = found.project(states)
    signs = np.sign(np.sum(projected * scores, axis=0))
    np.testing.assert_allclose(projected * signs, scores, atol=1e-10)
    np.testing.assert_allclose(np.abs(found.components @ axes_in), np.eye(2), atol=1e-10)
    np.testing.assert_allclose(found.mean, mean, atol=1e-10)
    variance = scores.var(axis=0, ddof=1)
    np.testing.assert_allclose(found.explained_variance, variance, rtol=1e-10)
    np.testing.assert_allclose(found.explained_variance_ratio, variance / variance.sum())
    with pytest.raises(ValueError, match="Received: k=7"):
        analysis.pca(states, k=7)


def test_spectrum_of_hand_built_recurrent_weights():
    units, angle = 3, 0.4
    rotation = 0.9 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    gates = np.zeros((4, units, units))
    gates[0] = np.diag([0.5, -0.3, 0.2])
    gates[1][:2, :2], gates[1][2, 2] = rotation, 1.5
    gates[2] = np.triu(np.ones((units, units))) * 0.7  # eigenvalues: its diagonal
    gates[3] = -np.eye(units)
    sign = np.array([1, -1, 1], np.int8)
    dynamics = _dense_dynamics(
        units=units, recurrent_kernel=gates.transpose(1, 0, 2).reshape(units, 4 * units),
        connectivity=Connectivity(np.ones((2, units), bool), recurrent_sign=sign))
    found = analysis.spectrum(dynamics)
    expected = [[0.5, -0.3, 0.2], [0.9 * np.exp(0.4j), 0.9 * np.exp(-0.4j), 1.5],
                [0.7, 0.7, 0.7], [-1, -1, -1]]
    for values, wanted in zip(found.gate_eigenvalues, expected, strict=True):
        np.testing.assert_allclose(np.sort_complex(values), np.sort_complex(np.array(wanted)),
                                   atol=1e-12)
    assert found.spectral_radius == pytest.approx({"i": 0.5, "f": 1.5, "c": 0.7, "o": 1.0})
    np.testing.assert_array_equal(found.unit_sign, sign)


def _one_lesion_at_a_time(dynamics, x, y, weights, silenced):
    """The loss with the units `silenced` held at 0, one plain step loop (no batching)."""
    h = c = np.zeros((len(x), dynamics.units))
    drive, outputs = dynamics.drive(x), []
    for t in range(x.shape[1]):
        h, c = dynamics.step(drive[:, t], h, c)
        h[:, silenced] = 0.0
        outputs.append(dynamics.readout(h))
    return evaluation.loss_and_metric(dynamics.kind, y, np.stack(outputs, axis=1), weights)[0]


def test_lesions_in_one_pass_equal_silencing_one_unit_at_a_time(wide_run):
    folder, _ = wide_run
    held_out = data.make_task("flipflop", bits=4, num_samples=64, timesteps=50, seed=2)
    x, y, weights = held_out.x, held_out.y, held_out.weights
    started = time.perf_counter()
    found = analysis.lesions(folder, x, y, weights=weights)
    seconds = time.perf_counter() - started
    print(f"\nlesions of 64 units and {len(found.group_names)} groups, {len(x)} sequences x "
          f"{x.shape[1]} steps, in one pass: {seconds:.2f} s")
    assert found.loss == pytest.approx(evaluation.evaluate(folder, held_out)["loss"], rel=1e-5)
    dynamics = analysis.as_dynamics(folder)
    x = x.astype(np.float64)
    for unit in range(64):
        alone = _one_lesion_at_a_time(dynamics, x, y, weights, [unit])
        assert found.delta_loss[unit] == pytest.approx(alone - found.loss, abs=1e-6)
    assert list(found.group_names) == [
        "block 1 (units 0-15)", "block 2 (units 16-31)", "block 3 (units 32-47)",
        "block 4 (units 48-63)", "excitatory units", "inhibitory units"]
    inhibitory = np.flatnonzero(found.group_units[-1])
    assert len(inhibitory) == 16
    assert found.group_delta_loss[-1] == pytest.approx(
        _one_lesion_at_a_time(dynamics, x, y, weights, inhibitory) - found.loss, abs=1e-6)
    assert found.top(5)[0]["delta_loss"] == found.delta_loss.max()


def test_attributions_add_up_to_the_output_change(adding_run):
    folder, _ = adding_run
    x = data.make_task("adding", num_samples=6, timesteps=20, seed=4).x
    found = analysis.attributions(folder, x)
    change = found.output - found.baseline_output
    assert np.all(np.abs(change) > 1e-3)
    np.testing.assert_array_less(np.abs(found.sums - change), 0.01 * np.abs(change))
    assert found.completeness_error < 0.01 and found.values.shape == (6, 20, 2)
    np.testing.assert_array_equal(found.evaluations, 50)  # smooth: the 50-point rule alone
    np.testing.assert_array_equal(found.values,
                                  analysis.attributions(folder, x, tolerance=None).values)
    later = analysis.attributions(folder, x, step=9)
    np.testing.assert_array_equal(later.values[:, 10:], 0.0)  # no later input counts


def test_attributions_refine_the_path_where_the_flipflops_output_jumps(flipflop_run):
    """Along the path from the zero baseline a pulse grows strong enough to flip a memory:
    the output jumps, the 50-point rule misses the change by far more than 1 %, and
    splitting the intervals that miss their own change brings it under 1 %."""
    folder, _, _ = flipflop_run
    x = data.make_task("flipflop", bits=3, num_samples=4, seed=1).x
    fixed = analysis.attributions(folder, x, tolerance=None)
    started = time.perf_counter()
    found = analysis.attributions(folder, x)
    seconds = time.perf_counter() - started
    print(f"\nflip-flop attributions: completeness error {fixed.completeness_error:.3g} with "
          f"50 points, {found.completeness_error:.3g} with {found.evaluations.tolist()} "
          f"gradients ({seconds:.1f} s)")
    assert fixed.completeness_error > 0.5
    change = found.output - found.baseline_output
    assert np.abs(found.sums - change).max() < 0.01 * np.abs(change).max()
    assert np.all(found.evaluations < analysis.attributions.__kwdefaults__["max_evaluations"])
    assert np.any(found.evaluations > 50)
    with pytest.raises(ValueError, match="Received: tolerance=0"):
        analysis.attributions(folder, x, tolerance=0)


def _tiny_run(strategy, design, dataset):
    return train(TrainConfig(epochs=1, batch_size=32, seed=0, strategy=strategy), design, dataset)


@pytest.mark.parametrize("strategy", ["kernel", "custom_cell", "random_dynamic",
                                      "input_features", "output", "sparse_projection"])
def test_every_strategy_analyses_its_own_model(strategy):
    dataset = data.make_task("flipflop", bits=3, num_samples=64, timesteps=15, seed=0)
    design = presets.random(3, 8, density=0.5, seed=1)
    input_mask = design.input_mask.copy()
    input_mask[1] = False  # feature 1 reaches nothing
    recurrent_mask = design.recurrent_mask.copy()
    recurrent_mask[1] = False  # unit 1 feeds no unit, and the readout does not read it
    output_mask = np.arange(8) % 2 == 0
    design = design.replace(input_mask=input_mask, recurrent_mask=recurrent_mask,
                            output_mask=output_mask)
    result = _tiny_run(strategy, design, dataset)
    states = analysis.trajectories(result, dataset.x)
    np.testing.assert_allclose(states.predictions, result.model.predict(dataset.x, verbose=0),
                               atol=1e-5)
    found = analysis.attributions(result, dataset.x[:3], target=1)
    if strategy != "output":  # every strategy but `output` honours the input mask
        np.testing.assert_array_equal(found.values[:, :, 1], 0.0)
    lesioned = analysis.lesions(result, dataset.x, dataset.y, weights=dataset.weights)
    if strategy in ("kernel", "custom_cell", "random_dynamic"):  # they honour the mask
        assert lesioned.delta_loss[1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.abs(lesioned.delta_loss[[0, 2, 4, 6]]) > 1e-9)  # read units count


def test_timestep_runs_give_trajectories_and_refuse_the_stepwise_analyses(tmp_path):
    dataset = data.make_task("flipflop", bits=2, num_samples=32, timesteps=15, seed=0)
    result = _tiny_run("timestep", presets.random(2, 6, density=0.5, seed=0), dataset)
    states = analysis.trajectories(result, dataset.x)
    np.testing.assert_allclose(states.predictions, result.model.predict(dataset.x, verbose=0),
                               atol=1e-5)
    assert np.mean(np.all(dataset.x == 0, axis=-1)) > 0.5  # most steps are skipped
    for refused in (lambda: analysis.fixed_points(result, x=dataset.x),
                    lambda: analysis.lesions(result, dataset.x, dataset.y),
                    lambda: analysis.attributions(result, dataset.x),
                    lambda: analysis.analyze(result, dataset)):
        with pytest.raises(ValueError, match="'timestep'"):
            refused()
    only = analysis.analyze(result, dataset, what=analysis.analyses_for("timestep"))
    assert only.summary["analyses"] == ["trajectories", "spectrum"]


def test_analyze_saves_every_documented_key_and_loads_without_tensorflow(flipflop_run,
                                                                          tmp_path):
    folder, _, _ = flipflop_run
    dataset = data.make_task("flipflop", bits=3, num_samples=40, seed=5)
    seen = []
    found = analysis.analyze(folder, dataset, on_progress=lambda *event: seen.append(event))
    assert seen[-1] == (5, 5, "done") and [event[0] for event in seen] == list(range(6))
    analysis.save(tmp_path / "out", found)
    loader = ("import sys, json; from limconn import analysis; "
              f"a = analysis.load({str(tmp_path / 'out')!r}); "
              "print(json.dumps([sorted(a.summary), sorted(a.arrays), "
              "'tensorflow' in sys.modules or 'keras' in sys.modules]))")
    summary_keys, array_keys, loaded_tf = json.loads(subprocess.run(
        [sys.executable, "-c", loader], cwd=REPO, capture_output=True, text=True,
        check=True).stdout)
    assert not loaded_tf
    assert set(summary_keys) >= {
        "run_id", "run_name", "strategy", "analyses", "fixed_points", "spectral_radius",
        "top_lesions", "lesion_costly_units", "test_loss", "attribution_completeness_error"}
    documented = analysis.__doc__
    for key in array_keys:
        assert f"`{key}`" in documented, key
    assert found.summary["fixed_points"]["stable"] == 8
    assert found.summary["test_loss"] == pytest.approx(
        evaluation.evaluate(folder, dataset)["loss"], rel=1e-5)
    assert set(found.summary["spectral_radius"]) == {"i", "f", "c", "o"}
    loaded = analysis.load(tmp_path / "out")
    assert loaded.summary == json.loads(json.dumps(found.summary))
    for key, value in found.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[key], value)
        assert loaded.arrays[key].dtype != object
    with pytest.raises(ValueError, match=r"Received: \('regression', 2, 1"):
        analysis.analyze(folder, data.make_task("adding", num_samples=8))
    with pytest.raises(ValueError, match=r"Received: \['loops'\]"):
        analysis.analyze(folder, dataset, what=["loops"])
    with pytest.raises(ValueError, match="Received: samples=0"):
        analysis.analyze(folder, dataset, samples=0)
    with pytest.raises(ValueError, match=r"Received: shape \(2,\)"):
        analysis.fixed_points(folder, input=[1.0, 0.0], x=dataset.x[:2])
    with pytest.raises(ValueError, match=r"Received: shape \(2, 100, 2\)"):
        analysis.trajectories(folder, dataset.x[:2, :, :2])
    with pytest.raises(ValueError, match="Received: step=100"):
        analysis.attributions(folder, dataset.x[:2], step=100)


def test_analysing_a_few_analyses_again_keeps_the_others_cached(flipflop_run, tmp_path):
    """The cache holds one analysis per run and data: a job of other analyses on the same
    data adds to it and replaces only what it computed; fixed points stay on the
    trajectories' axes."""
    from limconn import run_results

    folder = Path(shutil.copytree(flipflop_run[0], tmp_path / "run"))
    dataset = data.make_task("flipflop", bits=3, num_samples=40, seed=5)
    key = run_results.dataset_key(dataset)

    def analyze_in_a_job(*what):
        run_results.AnalysisRequest((folder.name,), key, what=what).compute(
            folder, dataset, lambda line: None)
        return run_results.cached_analysis(folder, key)

    first = analyze_in_a_job("spectrum", "fixed-points")
    second = analyze_in_a_job("lesions")
    assert second.summary["analyses"] == ["spectrum", "fixed-points", "lesions"]
    for name in ("fixed_points", "spectral_radius", "pca_explained_variance_ratio"):
        assert second.summary[name] == first.summary[name]
    assert second.summary["top_lesions"] is not None
    for name, value in first.arrays.items():
        np.testing.assert_array_equal(second.arrays[name], value)
    assert second.arrays["lesions/delta_loss"].shape == (32,)
    third = analyze_in_a_job("trajectories")
    assert third.summary["fixed_points"] == first.summary["fixed_points"]
    np.testing.assert_allclose(third.arrays["fixed_points/pca"], (
        third.arrays["fixed_points/hidden"] - third.arrays["pca/mean"]
    ) @ third.arrays["pca/components"].T)
    other_samples = analysis.Analysis({**second.summary, "samples": 8}, {})
    assert analysis.merge(third, other_samples) is other_samples


def test_cli_analyze_writes_both_files_and_refuses_a_bad_run_in_one_line(flipflop_run,
                                                                         tmp_path):
    folder, _, _ = flipflop_run
    done = _cli("analyze", "--run", folder, "--task", "flipflop", "--task-param", "bits=3",
                "--task-param", "num_samples=30", "--what", "spectrum", "lesions",
                "--out", tmp_path / "a", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "analysis" in done.stderr  # the tqdm bar
    written = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert written["analyses"] == ["spectrum", "lesions"] and written["fixed_points"] is None
    assert f"mse {written['test_loss']:.4g}" in done.stdout
    with np.load(tmp_path / "a" / "analysis.npz", allow_pickle=False) as arrays:
        assert arrays["lesions/delta_loss"].shape == (32,)
    refused = _cli("analyze", "--run", tmp_path, "--task", "flipflop", "--out", tmp_path / "b",
                   home=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"limconn: error: The run {tmp_path.name} is broken: the run folder has no run.json"]
    assert not (tmp_path / "b").exists()
