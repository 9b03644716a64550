"""Every strategy builds, trains and does what its explanation says it does."""

import keras
import numpy as np
import pytest

import limconn
from limconn import presets

NAMES = limconn.STRATEGIES.names()


def _data(input_dim=3, samples=20, timesteps=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(samples, timesteps, input_dim)).astype("float32")


def test_the_seven_strategies_of_the_table_are_registered_with_explanations():
    assert NAMES == [
        "kernel", "custom_cell", "input_features", "output",
        "sparse_projection", "random_dynamic", "timestep",
    ]
    for entry in limconn.STRATEGIES.entries():
        assert entry.summary and len(entry.description) > 80
    assert "not connectivity" in limconn.STRATEGIES.get("timestep").summary.lower()


@pytest.mark.parametrize("per_step", [False, True], ids=["last_step", "every_step"])
@pytest.mark.parametrize("name", NAMES)
def test_every_strategy_trains_for_both_heads(name, per_step):
    design = presets.random(3, 6, density=0.5, seed=0)
    x = _data()
    steps = (8,) if per_step else ()
    for head, y in (
        (limconn.Head("regression", 2, per_step), np.zeros((20, *steps, 2), "float32")),
        (limconn.Head("classification", 3, per_step),
         np.arange(20 * (8 if per_step else 1)).reshape(20, *steps) % 3),
    ):
        model = limconn.build_model(name, design, (8, 3), head)
        loss = "mse" if head.kind == "regression" else "sparse_categorical_crossentropy"
        model.compile("adam", loss)
        history = model.fit(x, y, epochs=2, batch_size=5, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        assert model.predict(x, verbose=0).shape == (20, *steps, head.outputs)


@pytest.mark.parametrize("per_step", [False, True], ids=["last_step", "every_step"])
@pytest.mark.parametrize("name", NAMES)
def test_units_outside_the_output_mask_never_reach_the_prediction(name, per_step):
    design = presets.dense(3, 4).replace(output_mask=[1, 1, 0, 0])
    model = limconn.build_model(name, design, (8, 3), limconn.Head("regression", 1, per_step))
    readout = model.get_layer("readout")
    kernel, bias = readout.get_weights()
    kernel[2:] = 1e3
    readout.set_weights([kernel, bias])
    reference = model.predict(_data(), verbose=0)
    kernel[2:] = -1e3
    readout.set_weights([kernel, bias])
    np.testing.assert_array_equal(model.predict(_data(), verbose=0), reference)


def test_input_features_switches_whole_features_off():
    input_mask = np.ones((3, 4), bool)
    input_mask[1] = False
    design = limconn.Connectivity(input_mask)
    model = limconn.build_model("input_features", design, (8, 3), limconn.Head("regression", 1))
    x = _data()
    changed = x.copy()
    changed[:, :, 1] = 5.0
    np.testing.assert_array_equal(model.predict(changed, verbose=0), model.predict(x, verbose=0))


def test_sparse_projection_limits_inputs_to_embedding_channels():
    design = presets.block_diagonal(4, 4, groups=2)
    model = limconn.build_model("sparse_projection", design, (8, 4), limconn.Head("regression", 1))
    kernel = model.get_layer("projection").get_weights()[0]
    assert np.all(kernel[~design.input_mask] == 0) and np.all(kernel[design.input_mask] != 0)


def test_random_dynamic_works_for_any_batch_size_and_only_in_training():
    design = presets.random(3, 5, density=0.7, seed=0)
    model = limconn.build_model(
        "random_dynamic", design, (8, 3), limconn.Head("regression", 1), rate=0.5
    )
    model.compile("adam", "mse")
    x = _data(samples=23)
    for batch_size in (4, 7, 23):
        model.fit(x, np.zeros((23, 1), "float32"), batch_size=batch_size, epochs=1, verbose=0)
    inference = model.predict(x, batch_size=23, verbose=0)
    np.testing.assert_array_equal(model.predict(x, batch_size=23, verbose=0), inference)
    for batch_size in (1, 5):
        np.testing.assert_allclose(
            model.predict(x, batch_size=batch_size, verbose=0), inference, rtol=1e-4, atol=1e-7
        )
    dropped = model.get_layer("random_inputs")
    first = keras.ops.convert_to_numpy(dropped(x, training=True))
    second = keras.ops.convert_to_numpy(dropped(x, training=True))
    assert not np.array_equal(first, second)


def test_timestep_masking_skips_padding_steps_not_connections():
    design = presets.dense(3, 4)
    model = limconn.build_model("timestep", design, (None, 3), limconn.Head("regression", 1))
    x = _data(samples=4)
    padded = np.concatenate([x, np.zeros((4, 5, 3), "float32")], axis=1)
    np.testing.assert_allclose(model.predict(padded, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_timestep_masking_keeps_skipped_steps_out_of_a_per_step_loss():
    """As Keras does with a mask: a skipped step's prediction and target are not counted."""
    model = limconn.build_model("timestep", presets.dense(3, 4), (8, 3),
                                limconn.Head("regression", 1, per_step=True))
    model.compile("sgd", "mse", weighted_metrics=["mae"])
    x = _data(samples=6)
    x[:, 5:] = 0.0  # padding: skipped
    y = np.random.default_rng(1).normal(size=(6, 8, 1)).astype("float32")
    other = y.copy()
    other[:, 5:] += 100.0
    evaluated = [model.evaluate(x, t, verbose=0, return_dict=True) for t in (y, other)]
    assert evaluated[0] == evaluated[1]


def test_build_model_rejects_a_shape_that_disagrees_with_the_design():
    design = presets.dense(3, 4)
    with pytest.raises(ValueError, match=r"\(timesteps, 3\).*\(8, 2\)"):
        limconn.build_model("kernel", design, (8, 2), limconn.Head("regression", 1))
    with pytest.raises(ValueError, match=r"Unknown strategy 'fused'"):
        limconn.build_model("fused", design, (8, 3), limconn.Head("regression", 1))
    with pytest.raises(ValueError, match=r"kind='ranking'"):
        limconn.Head("ranking", 1)
