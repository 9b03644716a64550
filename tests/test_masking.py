"""A 0 in the mask has no influence: before training, after training, after save and load."""

import keras
import numpy as np
import pytest

import limconn
from limconn import presets
from limconn.layers import MaskedLSTM, MaskedLSTMCell

TIMESTEPS = 12
MASKED_LAYERS = ["kernel", "custom_cell"]


def _sequences(input_dim, samples=24, seed=0):
    return np.random.default_rng(seed).normal(size=(samples, TIMESTEPS, input_dim)).astype(
        "float32"
    )


def _perturbed(x, features):
    changed = x.copy()
    changed[:, :, features] += np.random.default_rng(99).normal(
        scale=10.0, size=changed[:, :, features].shape
    )
    return changed


def _sequence_model(strategy, design):
    """A model whose output is the LSTM's hidden state at every step."""
    inputs = keras.Input((TIMESTEPS, design.input_dim))
    if strategy == "kernel":
        layer = MaskedLSTM(
            design.units,
            input_mask=design.input_mask,
            recurrent_mask=design.recurrent_mask,
            return_sequences=True,
        )
    else:
        cell = MaskedLSTMCell(
            design.units, input_mask=design.input_mask, recurrent_mask=design.recurrent_mask
        )
        layer = keras.layers.RNN(cell, return_sequences=True)
    return keras.Model(inputs, layer(inputs))


def _train(model, x, epochs=3):
    target = np.random.default_rng(1).normal(size=model.output_shape[1:]).astype("float32")
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, np.broadcast_to(target, (len(x), *target.shape)), epochs=epochs, verbose=0)


def _lstm_weights(model):
    layer = model.get_layer("lstm") if "lstm" in [w.name for w in model.layers] else model.layers[1]
    cell = layer.cell
    return (
        keras.ops.convert_to_numpy(cell.kernel),
        keras.ops.convert_to_numpy(cell.recurrent_kernel),
    )


@pytest.mark.parametrize("strategy", MASKED_LAYERS)
def test_disconnected_input_has_no_influence_before_and_after_training(strategy):
    design = presets.random(4, 8, density=0.6, seed=3)
    input_mask = design.input_mask.copy()
    input_mask[2] = False
    design = design.replace(input_mask=input_mask)
    model = limconn.build_model(strategy, design, (TIMESTEPS, 4), limconn.Head("regression", 2))
    x = _sequences(4)
    for stage in ("before", "after"):
        if stage == "after":
            model.compile(keras.optimizers.Adam(0.05), "mse")
            model.fit(x, np.ones((len(x), 2), "float32"), epochs=3, batch_size=8, verbose=0)
        reference = model.predict(x, verbose=0)
        np.testing.assert_array_equal(model.predict(_perturbed(x, [2]), verbose=0), reference)
        assert not np.array_equal(model.predict(_perturbed(x, [0, 1, 3]), verbose=0), reference)


@pytest.mark.parametrize("strategy", MASKED_LAYERS)
def test_disjoint_groups_never_see_each_other_at_any_step(strategy):
    design = presets.block_diagonal(4, 6, groups=2)  # inputs 0-1 -> units 0-2, 2-3 -> 3-5
    model = _sequence_model(strategy, design)
    x = _sequences(4)
    for stage in ("before", "after"):
        if stage == "after":
            _train(model, x)
        hidden = model.predict(x, verbose=0)
        hidden_b_changed = model.predict(_perturbed(x, [2, 3]), verbose=0)
        np.testing.assert_array_equal(hidden_b_changed[:, :, :3], hidden[:, :, :3])
        assert not np.array_equal(hidden_b_changed[:, :, 3:], hidden[:, :, 3:])


def test_masked_weights_are_zero_from_build_and_after_every_step():
    design = presets.random(5, 7, density=0.3, seed=0)
    model = _sequence_model("kernel", design)
    kernel, recurrent = _lstm_weights(model)
    assert np.all(kernel[~design.kernel_mask()] == 0)
    assert np.all(recurrent[~design.recurrent_kernel_mask()] == 0)
    assert np.all(kernel[design.kernel_mask()] != 0)
    _train(model, _sequences(5), epochs=2)
    kernel, recurrent = _lstm_weights(model)
    assert np.all(kernel[~design.kernel_mask()] == 0)
    assert np.all(recurrent[~design.recurrent_kernel_mask()] == 0)


def test_all_ones_masks_compute_exactly_what_keras_lstm_computes():
    x = _sequences(3)
    inputs = keras.Input((TIMESTEPS, 3))
    plain = keras.layers.LSTM(5, return_sequences=True)
    reference = keras.Model(inputs, plain(inputs))
    for masked in (
        MaskedLSTM(5, return_sequences=True),
        MaskedLSTM(5, input_mask=np.ones((3, 5)), recurrent_mask=np.ones((4, 5, 5)),
                   return_sequences=True),
    ):
        model = keras.Model(inputs, masked(inputs))
        masked.set_weights(plain.get_weights())
        np.testing.assert_array_equal(model.predict(x, verbose=0), reference.predict(x, verbose=0))


def test_the_forward_pass_is_keras_own_so_the_fused_kernel_stays_eligible():
    layer = MaskedLSTM(8, input_mask=np.eye(3, 8), recurrent_mask=np.eye(8))
    assert MaskedLSTM.call is keras.layers.LSTM.call
    assert MaskedLSTM.inner_loop is keras.layers.LSTM.inner_loop
    assert layer.use_cudnn == "auto"
    from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

    assert _do_lstm_arguments_support_cudnn(
        layer.cell.activation, layer.cell.recurrent_activation, layer.unroll, layer.cell.use_bias
    )


@pytest.mark.parametrize("strategy", MASKED_LAYERS)
def test_saved_model_loads_safely_predicts_identically_and_keeps_masking(strategy, tmp_path):
    design = presets.random(3, 6, density=0.5, seed=4)
    head = limconn.Head("regression", 1)
    model = limconn.build_model(strategy, design, (TIMESTEPS, 3), head)
    x, y = _sequences(3), np.ones((24, 1), "float32")
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.compile(keras.optimizers.Adam(0.05), "mse")
    loaded.fit(x, y, epochs=2, verbose=0)
    kernel, recurrent = _lstm_weights(loaded)
    assert np.all(kernel[~design.kernel_mask()] == 0)
    assert np.all(recurrent[~design.recurrent_kernel_mask()] == 0)
    assert not np.array_equal(kernel, _lstm_weights(model)[0])


def test_per_gate_mask_zeroes_only_its_own_gate_block():
    units = 4
    input_mask = np.ones((4, 3, units), bool)
    input_mask[1, 0, :] = False  # forget gate ignores input 0
    recurrent_mask = np.ones((4, units, units), bool)
    recurrent_mask[3, :, 2] = False  # output gate of unit 2 ignores every unit
    design = limconn.Connectivity(input_mask, recurrent_mask)
    model = _sequence_model("kernel", design)
    _train(model, _sequences(3), epochs=2)
    kernel, recurrent = _lstm_weights(model)
    forget = slice(units, 2 * units)
    assert np.all(kernel[0, forget] == 0)
    assert np.all(kernel[0, :units] != 0) and np.all(kernel[0, 2 * units :] != 0)
    assert np.all(recurrent[:, 3 * units + 2] == 0)
    assert np.count_nonzero(recurrent == 0) == units


def test_user_constraint_is_composed_with_the_mask_and_survives_config():
    design = presets.random(3, 4, density=0.5, seed=0)
    layer = MaskedLSTM(4, input_mask=design.input_mask, kernel_constraint="non_neg")
    inputs = keras.Input((TIMESTEPS, 3))
    model = keras.Model(inputs, layer(inputs))
    _train(model, _sequences(3), epochs=2)
    kernel = keras.ops.convert_to_numpy(layer.cell.kernel)
    assert kernel.min() >= 0 and np.all(kernel[~design.kernel_mask()] == 0)
    clone = MaskedLSTM.from_config(layer.get_config())
    assert isinstance(clone.user_kernel_constraint, keras.constraints.NonNeg)
    assert np.array_equal(clone.input_mask, design.input_mask)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: MaskedLSTM(4, input_mask=np.ones((3, 5))), r"units=4.*\(3, 5\)"),
        (lambda: MaskedLSTM(4, recurrent_mask=np.ones((4, 3))), r"\(4, 4\).*\(4, 3\)"),
        (lambda: MaskedLSTM(4, input_mask=np.ones((2, 3, 4))), r"per-gate.*\(2, 3, 4\)"),
        (lambda: MaskedLSTM(4, input_mask=[[0.5] * 4]), r"only 0 and 1.*0.5"),
        (lambda: MaskedLSTM(0), r"units=0"),
        (lambda: MaskedLSTMCell(3, input_mask=np.ones((2, 4))), r"\(2, 4\)"),
        (lambda: MaskedLSTM(4, input_mask=np.ones((3, 4)))(keras.Input((5, 2))), r"3 rows.*2"),
    ],
)
def test_bad_layer_arguments_raise_value_error_with_the_received_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()
