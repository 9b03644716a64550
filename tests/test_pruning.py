"""Pruning: the strongest live connections of a run, and the random control of the same size."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from limconn import Connectivity, data, presets, pruning, runs, training
from limconn.connectivity import NUM_GATES, any_gate
from limconn.enforcement import trained_connectivity
from limconn.strategies import STRATEGIES, enforcement_of
from tests.test_cli import _cli


def _result(design: Connectivity, weights: dict, strategy: str = "kernel"):
    """A `RunResult` as `training.train` returns it, with the given trained weights."""
    return training.RunResult(
        config=training.TrainConfig(strategy=strategy), connectivity=design,
        dataset_name="synthetic", dataset_description="", kind="regression", status="done",
        history=[], wall_time=0.0, weights=weights, max_masked_weight=None, model=None,
        initial_weights=[],
    )


@st.composite
def runs_with_weights(draw):
    """A random design (2-D or per gate, signed or not), strategy and weights. Weights
    take few distinct values, so ties are common, and are non-zero at dead positions too."""
    input_dim, units = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    bools = st.booleans()

    def mask(rows):
        shape = draw(st.sampled_from([(rows, units), (NUM_GATES, rows, units)]))
        return draw(hnp.arrays(bool, shape, elements=bools))

    def sign(mask):
        shape = draw(st.sampled_from([None, mask.shape[-2:-1], mask.shape[-2:]]))
        return None if shape is None else draw(hnp.arrays(np.int8, shape,
                                                          elements=st.sampled_from([-1, 0, 1])))

    input_mask, recurrent_mask = mask(input_dim), mask(units)
    design = Connectivity(
        input_mask, recurrent_mask, draw(hnp.arrays(bool, (units,), elements=bools)),
        metadata={"name": "drawn", "unit_names": [f"u{i}" for i in range(units)]},
        input_sign=sign(input_mask), recurrent_sign=sign(recurrent_mask),
    )
    values = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    weights = {
        "kernel": draw(hnp.arrays(np.float32, (NUM_GATES, input_dim, units), elements=values)),
        "recurrent_kernel": draw(hnp.arrays(np.float32, (NUM_GATES, units, units),
                                            elements=values)),
        "projection_kernel": draw(hnp.arrays(np.float32, (input_dim, units), elements=values)),
    }
    strategy = draw(st.sampled_from(STRATEGIES.names()))
    return _result(design, weights, strategy)


def _check_matrix(kept, live, scores, keep):
    """Kept ⊆ live, the right count, and no dropped live connection outscores a kept one."""
    assert not (kept & ~live).any(), "a dead connection was revived"
    count = int(live.sum())
    expected = max(1, round(keep * count)) if count else 0
    assert int(kept.sum()) == expected
    dropped = live & ~kept
    if kept.any() and dropped.any():
        assert scores[dropped].max() <= scores[kept].min()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=runs_with_weights(), keep=st.floats(0.01, 1.0), per_gate=st.booleans())
def test_strongest_keeps_the_best_scored_live_connections(run, keep, per_gate):
    design = run.connectivity
    pruned = pruning.strongest(run, keep, per_gate=per_gate)
    live = trained_connectivity(enforcement_of(run.config.strategy), design)
    if run.config.strategy == "sparse_projection":
        inputs = [(any_gate(design.input_mask), np.abs(run.weights["projection_kernel"]))]
        kept_inputs = [pruned.input_mask]
    else:
        inputs, kept_inputs = _sides(live.input_mask, run.weights["kernel"], pruned.input_mask,
                                     per_gate)
    recurrent, kept_recurrent = _sides(live.recurrent_mask, run.weights["recurrent_kernel"],
                                       pruned.recurrent_mask, per_gate)
    for (live_part, scores), kept in zip(inputs + recurrent, kept_inputs + kept_recurrent,
                                         strict=True):
        _check_matrix(kept, live_part, scores, keep)
    for field in ("input_sign", "recurrent_sign"):
        before, after = getattr(design, field), getattr(pruned, field)
        assert (before is None and after is None) or np.array_equal(before, after)
    np.testing.assert_array_equal(pruned.output_mask, design.output_mask)
    assert pruned.metadata["unit_names"] == design.metadata["unit_names"]
    assert (pruned.metadata["keep"], pruned.metadata["per_gate"]) == (keep, per_gate)


def _sides(live, weight, kept, per_gate):
    """(live, scores) pairs and the kept masks to check them against, per gate or summed.

    Without `per_gate` a connection is kept in the gates it had: collapsed, the kept
    connections are what is ranked, and they keep no gate they did not have."""
    magnitude = np.abs(weight)
    if per_gate:
        live = np.broadcast_to(live, magnitude.shape)
        return list(zip(live, magnitude, strict=True)), list(kept)
    assert kept.shape == live.shape
    np.testing.assert_array_equal(kept, any_gate(kept) & live)
    return [(any_gate(live), magnitude.sum(axis=0))], [any_gate(kept)]


def test_ties_keep_the_first_connections_in_row_major_order():
    scores = np.array([[1.0, 2.0, 2.0], [2.0, 0.5, 2.0]])
    live = np.array([[True, True, False], [True, True, True]])
    kept = pruning.keep_strongest(scores, live, 0.5)  # 5 live: round(2.5) = 2 kept
    assert np.argwhere(kept).tolist() == [[0, 1], [1, 0]]
    assert pruning.keep_strongest(scores, live, 0.01).sum() == 1  # at least one
    assert not pruning.keep_strongest(scores, np.zeros_like(live), 0.5).any()


def test_sparse_projection_ranks_inputs_by_the_projection_and_keeps_per_gate_recurrence():
    design = presets.dense(2, 3)
    kernel = np.zeros((NUM_GATES, 2, 3), np.float32)
    kernel[:, 0, 0] = 100.0  # strongest in the LSTM kernel, which is not the input map here
    projection = np.arange(6, dtype=np.float32).reshape(2, 3)  # strongest: row 1
    recurrent = np.random.default_rng(0).normal(size=(NUM_GATES, 3, 3)).astype(np.float32)
    run = _result(design, {"kernel": kernel, "recurrent_kernel": recurrent,
                           "projection_kernel": projection}, "sparse_projection")
    pruned = pruning.strongest(run, 0.5, per_gate=True)
    assert pruned.input_mask.tolist() == [[False, False, False], [True, True, True]]
    assert pruned.recurrent_mask.shape == (NUM_GATES, 3, 3)
    assert pruned.recurrent_mask.sum(axis=(1, 2)).tolist() == [4] * NUM_GATES  # round(4.5)


@pytest.mark.parametrize(
    ("keep", "weights", "message"),
    [
        (0.0, None, "keep=0.0"),
        (1.5, None, "keep=1.5"),
        (0.5, {"recurrent_kernel": np.zeros((4, 3, 3))}, "lack 'kernel'"),
        (0.5, {"kernel": np.zeros((4, 2, 3)), "recurrent_kernel": np.zeros((4, 2, 2))},
         r"shape \(4, 3, 3\) .* Received: \(4, 2, 2\)"),
        (0.5, {"kernel": np.full((4, 2, 3), np.nan), "recurrent_kernel": np.zeros((4, 3, 3))},
         "24 NaN or infinite"),
    ],
)
def test_strongest_refuses_bad_keep_and_bad_weights(keep, weights, message):
    if weights is None:
        weights = {"kernel": np.ones((4, 2, 3)), "recurrent_kernel": np.ones((4, 3, 3))}
    with pytest.raises(ValueError, match=message):
        pruning.strongest(_result(presets.dense(2, 3), weights), keep)


@pytest.mark.parametrize("per_gate", [False, True])
@pytest.mark.parametrize("signs", ["none", "per source", "per connection"])
def test_random_like_keeps_counts_signs_and_output_but_not_places(per_gate, signs):
    base = presets.random(6, 12, density=0.3, seed=1)
    rng = np.random.default_rng(2)
    input_mask, recurrent_mask = base.input_mask, base.recurrent_mask
    if per_gate:
        input_mask = rng.random((NUM_GATES, 6, 12)) < 0.3
        recurrent_mask = rng.random((NUM_GATES, 12, 12)) < 0.2
    sign = {
        "none": (None, None),
        "per source": (rng.choice([-1, 1], 6), rng.choice([-1, 1], 12)),
        "per connection": (rng.choice([-1, 0, 1], (6, 12)), rng.choice([-1, 1], (12, 12))),
    }[signs]
    design = Connectivity(input_mask, recurrent_mask, rng.random(12) < 0.5,
                          metadata={"name": "parent"}, input_sign=sign[0], recurrent_sign=sign[1])
    control = pruning.random_like(design, seed=4)
    assert control == pruning.random_like(design, seed=4)
    assert control != pruning.random_like(design, seed=5)
    for field in ("input", "recurrent"):
        before, after = getattr(design, f"{field}_mask"), getattr(control, f"{field}_mask")
        assert after.shape == before.shape
        axes = (1, 2) if before.ndim == 3 else None
        np.testing.assert_array_equal(after.sum(axis=axes), before.sum(axis=axes))
        assert not np.array_equal(after, before)
        assert _signs_per_gate(design, field) == _signs_per_gate(control, field)
    np.testing.assert_array_equal(control.output_mask, design.output_mask)
    if signs == "per source":
        np.testing.assert_array_equal(control.recurrent_sign, design.recurrent_sign)
    assert control.name == "parent · random control"


def _signs_per_gate(design, field):
    """Per gate, how many live connections are inhibitory, free and excitatory (or, for
    per-source signs, the signs themselves)."""
    mask, sign = getattr(design, f"{field}_mask"), getattr(design, f"{field}_sign")
    if sign is None or sign.ndim == 1:
        return None if sign is None else sign.tolist()
    gates = np.broadcast_to(mask, (NUM_GATES, *mask.shape[-2:]))
    signs = np.broadcast_to(sign, (NUM_GATES, *mask.shape[-2:]))
    return [np.bincount(s[m] + 1, minlength=3).tolist() for s, m in zip(signs, gates, strict=True)]


def test_cli_prune_end_to_end_on_a_trained_run(tmp_path):
    design = presets.random(2, 6, density=0.6, seed=3)
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    result = training.train(training.TrainConfig(epochs=1, batch_size=32), design, dataset)
    run_dir = runs.write_run_folder(result, tmp_path / "RUN", run_id="run-1", name="tiny",
                                    workspace="default")
    out, control = tmp_path / "pruned.npz", tmp_path / "control.npz"
    pruned = _cli("prune", "--run", run_dir, "--keep", 0.5, "--per-gate", "--out", out,
                  "--random-control", control, "--seed", 7, home=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "random · strongest 50%" in pruned.stdout and "random control" in pruned.stdout
    expected = pruning.strongest(runs.read_run_folder(run_dir), 0.5, per_gate=True)
    assert Connectivity.load(out) == expected
    assert expected.metadata["parent_run"] == "run-1" and expected.per_gate
    assert Connectivity.load(control) == pruning.random_like(expected, seed=7)
    per_gate_live = design.recurrent_mask.sum()
    assert expected.recurrent_mask.sum(axis=(1, 2)).tolist() == [round(0.5 * per_gate_live)] * 4

    refused = _cli("prune", "--run", run_dir, "--keep", 2, "--out", out, home=tmp_path)
    assert refused.returncode == 1 and "keep=2.0" in refused.stderr
