"""The masked layers themselves: masks and signs from build on, per gate, after save and load,
composed with user constraints, the fused kernel offered the masked weights, bad arguments.

What every strategy's model does with a design is tested in test_enforcement.py."""

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


def _sequence_model(strategy, design, execution="auto"):
    """A model whose output is the LSTM's hidden state at every step."""
    inputs = keras.Input((TIMESTEPS, design.input_dim))
    if strategy == "kernel":
        layer = MaskedLSTM(
            design.units,
            input_mask=design.input_mask,
            recurrent_mask=design.recurrent_mask,
            return_sequences=True,
            execution=execution,
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


@pytest.mark.parametrize("execution", ["dense", "grouped"])
def test_masked_weights_are_zero_from_build_and_after_every_step(execution):
    design = presets.random(5, 7, density=0.3, seed=0)
    blocks = presets.block_diagonal(5, 7, groups=2).recurrent_mask
    design = design.replace(recurrent_mask=design.recurrent_mask & blocks)
    model = _sequence_model("kernel", design, execution)
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


def test_the_fused_kernel_is_offered_the_masked_kernels(monkeypatch):
    """Keras's LSTM tries the fused cuDNN kernel first (`keras.src.backend.lstm`), which on
    CPU declines and on GPU runs. The masked layer must offer it the effective kernels, with
    arguments Keras's cuDNN check accepts; a GPU run of the benchmark confirms the rest."""
    from keras.src import backend
    from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

    offered = []
    fused = backend.lstm

    def recording_fused(*args, **kwargs):
        offered.append(kwargs)
        return fused(*args, **kwargs)

    monkeypatch.setattr(backend, "lstm", recording_fused)
    design = presets.random(3, 8, density=0.5, seed=0)
    layer = MaskedLSTM(8, input_mask=design.input_mask, recurrent_mask=design.recurrent_mask)
    layer(_sequences(3))
    assert layer.use_cudnn == "auto" and len(offered) == 1
    kernel = keras.ops.convert_to_numpy(offered[0]["kernel"])
    recurrent = keras.ops.convert_to_numpy(offered[0]["recurrent_kernel"])
    assert np.all(kernel[~design.kernel_mask()] == 0) and np.all(kernel[design.kernel_mask()] != 0)
    assert np.all(recurrent[~design.recurrent_kernel_mask()] == 0)
    np.testing.assert_array_equal(kernel, layer.effective_weights()["kernel"])
    assert isinstance(layer.cell.kernel, keras.Variable)  # the variable is back after the call
    assert _do_lstm_arguments_support_cudnn(
        offered[0]["activation"], offered[0]["recurrent_activation"], offered[0]["unroll"],
        layer.cell.use_bias,
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
    assert isinstance(clone.cell.kernel_constraint, keras.constraints.NonNeg)
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
        (lambda: MaskedLSTM(4, recurrent_sign=[1, 2, 0, 0]), r"-1, 0 and \+1.*2"),
        (lambda: MaskedLSTM(4, input_sign=[1, -1])(keras.Input((5, 3))), r"input_sign.*\(2,\)"),
    ],
)
def test_bad_layer_arguments_raise_value_error_with_the_received_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_signs_hold_from_build_and_the_initial_weights_take_them():
    input_sign = np.array([1, -1, 0])
    recurrent_sign = np.array([1, -1, 1, -1, 0, 0])
    layer = MaskedLSTM(6, input_sign=input_sign, recurrent_sign=recurrent_sign)
    layer(_sequences(3))
    stored = keras.ops.convert_to_numpy(layer.cell.kernel)
    assert np.all(stored[0] > 0) and np.all(stored[1] < 0)
    assert (stored[2] > 0).any() and (stored[2] < 0).any()  # free
    recurrent = layer.effective_weights()["recurrent_kernel"]
    assert np.all(recurrent[[0, 2]] >= 0) and np.all(recurrent[[1, 3]] <= 0)


@pytest.mark.parametrize("strategy", MASKED_LAYERS)
def test_per_connection_signs_and_masks_survive_save_and_load(strategy, tmp_path):
    design = presets.random(3, 5, density=0.6, seed=1)
    rng = np.random.default_rng(0)
    design = design.replace(
        input_sign=rng.choice([-1, 1], size=(3, 5)), recurrent_sign=rng.choice([-1, 0, 1], 5)
    )
    model = limconn.build_model(strategy, design, (TIMESTEPS, 3), limconn.Head("regression", 1))
    x, y = _sequences(3), np.ones((24, 1), "float32")
    model.compile(keras.optimizers.Adam(0.1), "mse")
    model.fit(x, y, epochs=3, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = limconn.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.compile(keras.optimizers.Adam(0.1), "mse")
    loaded.fit(x, y, epochs=2, verbose=0)
    weights = limconn.enforcement.trained_weights(loaded)
    kernel_sign = np.broadcast_to(design.input_sign, weights["kernel"].shape)
    assert np.all(weights["kernel"] * kernel_sign >= 0)
    assert np.all(weights["kernel"][:, ~design.input_mask] == 0)
    recurrent_sign = np.broadcast_to(design.recurrent_sign[:, None], (5, 5))
    assert np.all(weights["recurrent_kernel"] * recurrent_sign >= 0)
