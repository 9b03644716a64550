"""MaskedLSTM's grouped execution: it finds the groups in any unit order, computes what the
dense path computes (outputs and gradients, to 1e-5) for every argument that reaches the
recurrence, and `execution` is validated, saved, and absent from older files without harm.

That a disconnected input has no influence and masked weights stay 0 on the grouped path is
tested with every other strategy in test_enforcement.py and test_masking.py."""

import keras
import numpy as np
import pytest

import limconn
from limconn import presets
from limconn.grouped import (
    GroupLayout,
    grouped_is_faster,
    projects_in_step,
    recurrent_groups,
)
from limconn.layers import MaskedLSTM
from tests.gradients import value_and_gradients

RNG = np.random.default_rng(0)


def _shuffled_blocks(input_dim, units, groups, per_gate=False):
    """A block-diagonal design (unequal group sizes when units % groups) in a random unit
    order, optionally with per-gate recurrent masks that drop some links inside blocks."""
    design = presets.block_diagonal(input_dim, units, groups)
    order = RNG.permutation(units)
    recurrent = design.recurrent_mask[np.ix_(order, order)]
    if per_gate:
        recurrent = recurrent[None] & (RNG.random((4, units, units)) < 0.7)
    return design.input_mask[:, order], recurrent, design.recurrent_mask[np.ix_(order, order)]


def test_the_groups_are_the_connected_components_in_any_unit_order():
    _, recurrent, _ = _shuffled_blocks(3, 10, 3)
    groups = recurrent_groups(recurrent, 10)
    assert len(groups) == 3 and sorted(len(g) for g in groups) == [3, 3, 4]
    for group in groups:
        outside = np.setdiff1d(np.arange(10), group)
        assert not recurrent[np.ix_(group, outside)].any()
        assert not recurrent[np.ix_(outside, group)].any()
    chain = np.zeros((4, 4, 4), bool)
    chain[1, 0, 1] = chain[3, 2, 1] = True  # 0 -> 1 in gate f, 2 -> 1 in gate o: one group
    assert [list(g) for g in recurrent_groups(chain, 4)] == [[0, 1, 2], [3]]
    assert len(recurrent_groups(None, 5)) == 1


def _pair(units, input_mask, recurrent_mask, **options):
    layers = [MaskedLSTM(units, input_mask=input_mask, recurrent_mask=recurrent_mask,
                         execution=execution, **options) for execution in ("dense", "grouped")]
    return layers


@pytest.mark.parametrize("options", [
    {},
    {"return_sequences": True, "per_gate": True},
    {"return_state": True, "signs": True},
    {"return_sequences": True, "go_backwards": True, "initial_state": True},
], ids=["last_step", "per_step_per_gate", "state_signs", "backwards_initial_state"])
def test_grouped_outputs_and_gradients_equal_the_dense_paths(options):
    options = dict(options)
    per_gate, signs = options.pop("per_gate", False), options.pop("signs", False)
    initial = options.pop("initial_state", False)
    input_mask, recurrent_mask, _ = _shuffled_blocks(4, 11, 3, per_gate)
    if signs:
        options.update(input_sign=[1, -1, 0, 1], recurrent_sign=RNG.choice([-1, 1], 11))
    dense, grouped = _pair(11, input_mask, recurrent_mask, **options)
    x = RNG.normal(size=(5, 7, 4)).astype("float32")
    states = [RNG.normal(size=(5, 11)).astype("float32") for _ in range(2)]
    call = {"initial_state": states} if initial else {}
    dense(x, **call)
    grouped(x, **call)
    grouped.set_weights(dense.get_weights())
    assert grouped.group_layout.count == 3 and dense.group_layout is None
    results = []
    for layer in (dense, grouped):
        def compute(layer=layer):
            outputs = keras.tree.flatten(layer(x, training=True, **call))
            return sum(keras.ops.sum(o * np.linspace(-1, 1, o.shape[-1]).astype("float32"))
                       for o in outputs), outputs

        outputs, gradients = value_and_gradients(compute, layer.trainable_variables)
        results.append((outputs, gradients))
    for expected, actual in zip(*(outputs + gradients for outputs, gradients in results),
                                strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


def test_a_time_step_mask_skips_the_same_steps_on_both_paths():
    input_mask, recurrent_mask, _ = _shuffled_blocks(3, 6, 2)
    x = RNG.normal(size=(4, 6, 3)).astype("float32")
    x[0, :2] = x[1, 3:] = x[2, 2] = 0.0
    masked = keras.layers.Masking(0.0)(x)
    for zero_output in (False, True):
        dense, grouped = _pair(6, input_mask, recurrent_mask, return_sequences=True,
                               zero_output_for_mask=zero_output)
        reference = dense(masked)
        grouped(masked)
        grouped.set_weights(dense.get_weights())
        np.testing.assert_allclose(grouped(masked), reference, atol=1e-6)


def test_padding_slots_compute_nothing_and_the_layout_round_trips():
    _, recurrent, _ = _shuffled_blocks(3, 7, 3)
    layout = GroupLayout(recurrent_groups(recurrent, 7), np.ones((2, 7), bool))
    assert (layout.count, layout.size, layout.padded) == (3, 3, True)
    values = np.arange(7, dtype="float32")[None]
    slots = keras.ops.convert_to_numpy(layout.to_slots(values))
    assert sorted(slots[0]) == [0, 0, 0, 1, 2, 3, 4, 5, 6]  # unit 0 and two padded slots
    np.testing.assert_array_equal(layout.to_units(slots), values)


def test_execution_is_validated_saved_and_absent_from_older_files(tmp_path):
    with pytest.raises(ValueError, match="Received: execution='fast'"):
        MaskedLSTM(4, execution="fast")
    with pytest.raises(ValueError, match="recurrent_dropout=0.5"):
        MaskedLSTM(4, execution="grouped", recurrent_dropout=0.5)
    design = presets.block_diagonal(2, 6, groups=2)
    model = limconn.build_model("kernel", design, (5, 2), limconn.Head("regression", 1))
    layer = model.get_layer("lstm")
    assert layer.get_config()["execution"] == "auto"
    config = layer.get_config()
    del config["execution"]  # a layer saved before `execution` existed
    older = MaskedLSTM.from_config(config)
    assert older.execution == "auto"
    x = RNG.normal(size=(3, 5, 2)).astype("float32")
    older(x)
    older.set_weights(layer.get_weights())
    hidden = keras.Model(model.inputs, layer.output)
    np.testing.assert_allclose(older(x), hidden.predict(x, verbose=0), atol=1e-6)
    grouped = limconn.strategies._masked_lstm(design, limconn.Head("regression", 1), "grouped")
    saved = keras.Sequential([keras.Input((5, 2)), grouped])
    saved.save(tmp_path / "grouped.keras")
    loaded = limconn.load_model(tmp_path / "grouped.keras")
    assert loaded.layers[0].execution == "grouped" and loaded.layers[0].group_layout.count == 2
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), saved.predict(x, verbose=0))


def test_auto_groups_only_where_the_measured_rule_says_it_is_faster():
    def layout(units, groups):
        design = presets.block_diagonal(16, units, groups)
        return GroupLayout(recurrent_groups(design.recurrent_mask, units), design.input_mask)

    layer = MaskedLSTM(256)
    on_gpu = any(d.startswith("gpu") for d in keras.distribution.list_devices())
    assert grouped_is_faster(layout(256, 4), layer) is not on_gpu  # a GPU keeps cuDNN
    # From 128 units where the loop projects in the step (JAX), from 256 elsewhere.
    in_step = projects_in_step()
    assert grouped_is_faster(layout(128, 4), MaskedLSTM(128)) is (in_step and not on_gpu)
    assert not grouped_is_faster(layout(64, 2), MaskedLSTM(64))
    assert not grouped_is_faster(layout(256, 1), layer)
    assert not grouped_is_faster(layout(256, 4), MaskedLSTM(256, recurrent_dropout=0.1))
