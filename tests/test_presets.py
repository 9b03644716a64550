"""Every preset: valid, deterministic masks of the requested shape, shaped as its source says."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from limconn import presets
from limconn.connectivity import Connectivity

NAMES = presets.PRESETS.names()


def test_every_table_preset_is_registered():
    assert NAMES == [
        "dense", "random", "banded", "block_diagonal", "diagonal",
        "clockwork", "ncp", "small_world", "feedforward",
    ]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15, deadline=None)
@given(input_dim=st.integers(1, 40), units=st.integers(3, 64))
def test_presets_give_valid_deterministic_masks_of_the_requested_shape(name, input_dim, units):
    entry = presets.PRESETS.get(name)
    params = {p.name: p.default for p in entry.parameters}
    for limited in ("groups", "modules"):
        if limited in params:
            params[limited] = min(params[limited], input_dim, units)
    if "k" in params:
        params["k"] = min(params["k"], units - 1)
    first = presets.get(name, input_dim, units, **params)
    second = presets.get(name, input_dim, units, **params)
    assert isinstance(first, Connectivity)
    assert first.input_mask.shape == (input_dim, units)
    assert first.recurrent_mask.shape == (units, units)
    assert first.output_mask.shape == (units,)
    assert first == second
    assert first.metadata["preset"] == name


@pytest.mark.parametrize("name", [n for n in NAMES if "seed" in
                                  [p.name for p in presets.PRESETS.get(n).parameters]])
def test_seeded_presets_change_with_the_seed(name):
    assert presets.get(name, 8, 32, seed=1) != presets.get(name, 8, 32, seed=2)


def test_random_density_is_close_to_asked():
    design = presets.random(64, 128, density=0.1, seed=0)
    assert design.stats().input_density == pytest.approx(0.1, abs=0.01)
    assert design.stats().recurrent_density == pytest.approx(0.1, abs=0.01)


def test_block_diagonal_groups_are_disjoint():
    design = presets.block_diagonal(4, 6, groups=2)
    assert design.input_mask[:2, :3].all() and not design.input_mask[:2, 3:].any()
    assert not design.recurrent_mask[:3, 3:].any() and not design.recurrent_mask[3:, :3].any()


def test_clockwork_slower_modules_feed_faster_ones_only():
    design = presets.clockwork(2, 8, modules=4)  # modules of 2 units, 0 fastest
    assert design.recurrent_mask[6, 0] and not design.recurrent_mask[0, 6]
    slower_to_faster = np.kron(np.tril(np.ones((4, 4))), np.ones((2, 2))).astype(bool)
    assert np.array_equal(design.recurrent_mask, slower_to_faster)


def test_diagonal_and_feedforward_recurrence():
    assert np.array_equal(presets.diagonal(3, 5).recurrent_mask, np.eye(5, dtype=bool))
    assert not presets.feedforward(3, 5).recurrent_mask.any()


def test_banded_is_local():
    design = presets.banded(10, 10, width=1)
    assert np.array_equal(design.input_mask, np.abs(np.subtract.outer(range(10), range(10))) <= 1)


def test_ncp_layers_flow_sensory_inter_command_motor():
    design = presets.ncp(4, 20, motor=2, seed=0)
    stats = design.stats()
    assert design.output_mask.sum() == 2 and design.output_mask[-2:].all()
    inputs_reach = design.input_mask.any(axis=0)
    assert inputs_reach.any() and not inputs_reach[-2:].any()
    assert stats.unreachable_units == () and stats.dead_end_units == ()
    assert design.stats().input_density < 0.5


def test_small_world_keeps_ring_size_and_self_loops():
    ring = presets.small_world(2, 30, k=4, p=0.0)
    assert np.diag(ring.recurrent_mask).all()
    assert (ring.recurrent_mask.sum(axis=1) == 5).all()
    rewired = presets.small_world(2, 30, k=4, p=0.5, seed=1)
    assert rewired.recurrent_mask.sum() <= ring.recurrent_mask.sum()
    assert not np.array_equal(rewired.recurrent_mask, ring.recurrent_mask)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: presets.random(2, 4, density=1.5), r"density.*1.5"),
        (lambda: presets.block_diagonal(2, 4, groups=3), r"groups.*3"),
        (lambda: presets.dense(0, 4), r"input_dim=0"),
        (lambda: presets.get("nope", 2, 4), r"Unknown preset 'nope'.*dense"),
        (lambda: presets.get("random", 2, 4, sparsity=1), r"no parameter sparsity"),
        (lambda: presets.get("random", 2, 4, seed="x"), r"seed must be int.*'x'"),
    ],
)
def test_bad_preset_parameters_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_form_values_are_converted_to_declared_types():
    design = presets.get("random", 2, 4, density="0.25", seed="3")
    assert design.metadata["params"] == {"density": 0.25, "seed": 3}
