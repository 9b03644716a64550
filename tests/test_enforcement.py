"""Every strategy's statement (`limconn.enforcement.Enforcement`) is what its model does.

Each claim is tested for each strategy that makes it, on the strategy's own model:
a disconnected input has no influence (bit-identical predictions) before and after training,
for a readout of the last step and one of every step;
disjoint recurrent groups never see each other at any step; masked weights are 0 after
*every* optimizer step, whatever the optimizer setting; the trained model's counted
parameters are exactly the ones that can act; the `output` strategy's caveat holds as stated.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import limconn
from limconn import presets, strategies
from limconn.connectivity import Connectivity
from limconn.enforcement import (
    Enforcement,
    max_masked_weight,
    trained_connectivity,
    trained_summary,
    trained_weights,
)
from limconn.strategies import STRATEGIES, enforcement_of
from tests.gradients import value_and_gradients

TIMESTEPS = 10
NAMES = STRATEGIES.names()
HONOUR_INPUT = [n for n in NAMES if enforcement_of(n).honours("input_mask")]
HONOUR_RECURRENT = [n for n in NAMES if enforcement_of(n).honours("recurrent_mask")]
MASKING = [n for n in NAMES if enforcement_of(n).masked_weights]
# `kernel` runs on both of MaskedLSTM's paths (`random_dynamic` is the same layer behind a
# Dropout; left on its default path to keep the suite's time down).
ON_MASKED_LSTM = ("kernel",)


def _on_both_paths(names, grouped=ON_MASKED_LSTM):
    """`(name, execution)` cases: a MaskedLSTM strategy on its dense and its grouped path,
    any other once (`None`)."""
    return [(name, execution) for name in names
            for execution in (("dense", "grouped") if name in grouped else (None,))]


def _build(monkeypatch, execution, *args):
    """`limconn.build_model(*args)` with its MaskedLSTM on `execution` (`None`: as it is)."""
    if execution is not None:
        masked_lstm = strategies._masked_lstm
        monkeypatch.setattr(strategies, "_masked_lstm",
                            lambda design, head: masked_lstm(design, head, execution))
    return limconn.build_model(*args)


BLOCKS = presets.block_diagonal(2, 8, groups=2).recurrent_mask  # units 0-3 and 4-7


def _sequences(input_dim, samples=24, seed=0, timesteps=TIMESTEPS):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(samples, timesteps, input_dim)).astype("float32")


def _perturbed(x, features):
    changed = x.copy()
    noise = np.random.default_rng(99).normal(scale=10.0, size=changed[:, :, features].shape)
    changed[:, :, features] += noise
    return changed


def _fit(model, x, epochs=3, optimizer=None, callbacks=()):
    targets = np.random.default_rng(1).normal(size=(len(x), *model.output_shape[1:]))
    model.compile(optimizer or keras.optimizers.Adam(0.05), "mse")
    model.fit(x, targets.astype("float32"), epochs=epochs, batch_size=8, verbose=0,
              callbacks=list(callbacks))


def test_the_statements_name_what_each_strategy_enforces():
    assert HONOUR_INPUT == ["kernel", "custom_cell", "input_features", "sparse_projection",
                            "random_dynamic"]
    assert HONOUR_RECURRENT == ["kernel", "custom_cell", "random_dynamic"]
    assert enforcement_of("sparse_projection").masked_weights == ("projection.kernel",)
    assert enforcement_of("sparse_projection").dense_weights == ("lstm.kernel",
                                                               "lstm.recurrent_kernel")
    assert enforcement_of("kernel").masked_weights == ("lstm.kernel", "lstm.recurrent_kernel")
    for name in ("output", "timestep", "input_features"):
        assert enforcement_of(name).masked_weights == ()
    record = enforcement_of("random_dynamic").record()
    assert record["signs"] is True and "random" in record["note"]
    with pytest.raises(ValueError, match="Received: 'sometimes'"):
        Enforcement(input="sometimes", recurrent="none", signs=False)


PER_STEP = pytest.mark.parametrize("per_step", [False, True], ids=["last_step", "every_step"])


@PER_STEP
@pytest.mark.parametrize(("name", "execution"), _on_both_paths(HONOUR_INPUT))
def test_an_input_whose_row_is_all_zero_has_no_influence_before_and_after_training(
    name, execution, per_step, monkeypatch
):
    input_mask = presets.random(4, 8, density=0.6, seed=3).input_mask.copy()
    input_mask[2] = False
    input_mask[[0, 1, 3], 0] = True  # the other features stay connected
    design = Connectivity(input_mask, BLOCKS)
    model = _build(monkeypatch, execution, name, design, (TIMESTEPS, 4),
                   limconn.Head("regression", 2, per_step))
    x = _sequences(4)
    for stage in ("before", "after"):
        if stage == "after":
            _fit(model, x)
        reference = model.predict(x, verbose=0)
        np.testing.assert_array_equal(model.predict(_perturbed(x, [2]), verbose=0), reference)
        assert not np.array_equal(model.predict(_perturbed(x, [0, 1, 3]), verbose=0), reference)


@PER_STEP
@pytest.mark.parametrize("name", sorted(set(NAMES) - set(HONOUR_INPUT)))
def test_strategies_that_do_not_honour_the_input_mask_say_so_and_indeed_do_not(name, per_step):
    input_mask = np.ones((3, 4), bool)
    input_mask[1] = False
    model = limconn.build_model(name, Connectivity(input_mask), (TIMESTEPS, 3),
                                limconn.Head("regression", 1, per_step))
    x = _sequences(3)
    assert not np.array_equal(model.predict(_perturbed(x, [1]), verbose=0),
                              model.predict(x, verbose=0))


@pytest.mark.parametrize(("name", "execution"), _on_both_paths(HONOUR_RECURRENT))
def test_disjoint_groups_never_see_each_other_at_any_step(name, execution, monkeypatch):
    """Checked on the many-to-one model at every sequence length; the per-step model's
    outputs are these same states (test below)."""
    design = presets.block_diagonal(4, 6, groups=2)  # inputs 0-1 -> units 0-2, 2-3 -> 3-5
    model = _build(monkeypatch, execution, name, design, (None, 4),
                   limconn.Head("regression", 1))
    hidden = keras.Model(model.inputs, model.get_layer("lstm").output)
    x = _sequences(4)
    for stage in ("before", "after"):
        if stage == "after":
            _fit(model, x)
        for step in range(1, TIMESTEPS + 1):  # the LSTM's state after `step` steps
            reference = hidden.predict(x[:, :step], verbose=0)
            changed = hidden.predict(_perturbed(x, [2, 3])[:, :step], verbose=0)
            np.testing.assert_array_equal(changed[:, :3], reference[:, :3])
            assert not np.array_equal(changed[:, 3:], reference[:, 3:])


@pytest.mark.parametrize(("name", "execution"), _on_both_paths(HONOUR_RECURRENT))
def test_disjoint_groups_never_see_each_other_in_a_per_step_readout(name, execution, monkeypatch):
    """Per step: the readout of group 0's units at every step ignores group 1's inputs."""
    design = presets.block_diagonal(4, 6, groups=2).replace(output_mask=[1, 1, 1, 0, 0, 0])
    model = _build(monkeypatch, execution, name, design, (TIMESTEPS, 4),
                   limconn.Head("regression", 2, per_step=True))
    x = _sequences(4)
    for stage in ("before", "after"):
        if stage == "after":
            _fit(model, x)
        reference = model.predict(x, verbose=0)
        assert reference.shape == (24, TIMESTEPS, 2)
        np.testing.assert_array_equal(model.predict(_perturbed(x, [2, 3]), verbose=0),
                                      reference)
        assert not np.array_equal(model.predict(_perturbed(x, [0]), verbose=0), reference)


class _CheckEveryStep(keras.callbacks.Callback):
    """After every optimizer step: stored masked weights 0, effective weights masked and
    signed as the design says."""

    def __init__(self, design: Connectivity, enforced: Enforcement, stored_must_be_zero=True):
        super().__init__()
        self.trained = trained_connectivity(enforced, design)
        self.stored_must_be_zero = stored_must_be_zero
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.stored_must_be_zero:
            assert max_masked_weight(self.model) == 0.0, f"step {self.steps}"
        _assert_weights_follow(trained_weights(self.model), self.trained, self.steps)

    def on_train_end(self, logs=None):  # after Keras wrote an EMA back, if it keeps one
        self.on_train_batch_end(None)


def _assert_weights_follow(weights, trained: Connectivity, step):
    if "projection_kernel" in weights:
        return  # a projection's own mask is checked by max_masked_weight
    for name, mask, sign in (
        ("kernel", trained.input_mask, trained.input_sign),
        ("recurrent_kernel", trained.recurrent_mask, trained.recurrent_sign),
    ):
        per_gate = np.broadcast_to(mask, weights[name].shape)
        assert np.all(weights[name][~per_gate] == 0), f"{name} leaked at step {step}"
        if sign is not None:
            signs = np.broadcast_to(sign[:, None] if sign.ndim == 1 else sign,
                                    weights[name].shape)
            assert np.all(weights[name] * signs >= 0), f"{name} sign broken at step {step}"


OPTIMIZER_SETTINGS = {
    "ema": lambda: keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9),
    "ema_overwrite": lambda: keras.optimizers.Adam(0.05, use_ema=True,
                                                   ema_overwrite_frequency=2),
    "weight_decay": lambda: keras.optimizers.AdamW(0.05, weight_decay=0.5),
    "clipnorm": lambda: keras.optimizers.SGD(0.1, momentum=0.9, clipnorm=0.01),
    "global_clipnorm": lambda: keras.optimizers.RMSprop(0.01, global_clipnorm=0.01),
    "clipvalue": lambda: keras.optimizers.Adam(0.05, clipvalue=1e-3),
    "accumulation": lambda: keras.optimizers.Adam(0.05, gradient_accumulation_steps=3),
    "loss_scaling": lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.05)),
    "lion": lambda: keras.optimizers.Lion(0.01),
    "nadam": lambda: keras.optimizers.Nadam(0.05),
    "ftrl": lambda: keras.optimizers.Ftrl(0.05, l1_regularization_strength=0.1),
}


@pytest.mark.parametrize("setting", sorted(OPTIMIZER_SETTINGS))
@pytest.mark.parametrize(("name", "execution"), _on_both_paths(MASKING))
def test_no_optimizer_setting_leaks_a_masked_weight_at_any_step(
    name, execution, setting, monkeypatch
):
    design = presets.random(3, 8, density=0.4, seed=0)
    design = design.replace(recurrent_mask=design.recurrent_mask & BLOCKS)
    if enforcement_of(name).signs:
        design = design.replace(input_sign=[1, -1, 0],
                                recurrent_sign=[1, 1, -1, 0, -1, 1, 1, -1])
    model = _build(monkeypatch, execution, name, design, (TIMESTEPS, 3),
                   limconn.Head("regression", 1))
    check = _CheckEveryStep(design, enforcement_of(name))
    _fit(model, _sequences(3), epochs=2, optimizer=OPTIMIZER_SETTINGS[setting](),
         callbacks=[check])
    assert check.steps == 2 * 3 + 1


def test_an_optimizer_that_moves_stored_zeros_still_cannot_give_them_influence():
    """Muon orthogonalises whole update matrices, so it moves the stored values at masked
    positions; the layers compute with the mask applied, so those values never act."""
    design = presets.random(3, 6, density=0.4, seed=0)
    input_mask = design.input_mask.copy()
    input_mask[1] = False
    design = design.replace(input_mask=input_mask)
    model = limconn.build_model("kernel", design, (TIMESTEPS, 3), limconn.Head("regression", 1))
    check = _CheckEveryStep(design, enforcement_of("kernel"), stored_must_be_zero=False)
    x = _sequences(3)
    _fit(model, x, epochs=2, optimizer=keras.optimizers.Muon(0.05), callbacks=[check])
    assert max_masked_weight(model) > 0  # the stored values moved ...
    np.testing.assert_array_equal(  # ... and still have no influence
        model.predict(_perturbed(x, [1]), verbose=0), model.predict(x, verbose=0))


def test_the_output_strategy_does_exactly_what_it_says():
    """Units outside the output mask are not read by the readout, but through the dense
    recurrent weights they still act on the units that are."""
    design = presets.dense(3, 4).replace(output_mask=[1, 1, 0, 0])
    model = limconn.build_model("output", design, (TIMESTEPS, 3), limconn.Head("regression", 1))
    x = _sequences(3)
    reference = model.predict(x, verbose=0)
    readout = model.get_layer("readout")
    kernel, bias = readout.get_weights()
    kernel[2:] = 1e3  # the readout's weights from cut units are never read
    readout.set_weights([kernel, bias])
    np.testing.assert_array_equal(model.predict(x, verbose=0), reference)
    cell = model.get_layer("lstm").cell
    recurrent = keras.ops.convert_to_numpy(cell.recurrent_kernel).copy()
    recurrent[2:, :] *= 3.0  # what cut units feed the read units through recurrence
    cell.recurrent_kernel.assign(recurrent)
    assert not np.allclose(model.predict(x, verbose=0), reference)


@pytest.mark.parametrize("name", NAMES)
def test_the_counted_parameters_are_exactly_the_ones_that_can_act(name):
    """`trained_summary`'s effective parameters = the recurrent part's weights with a
    non-zero gradient (every unit reaches the readout here, so none is dead for lack of a
    path), and its densities are those of the trained connectivity."""
    design = presets.random(4, 5, density=0.5, seed=2)
    input_mask = design.input_mask.copy()
    input_mask[3] = False  # a switched-off feature
    design = design.replace(input_mask=input_mask)
    model = limconn.build_model(name, design, (TIMESTEPS, 4), limconn.Head("regression", 2))
    x = keras.ops.convert_to_tensor(_sequences(4, samples=16))
    weights = np.random.default_rng(5).normal(size=(1, 2)).astype("float32")
    recurrent_part = [v for v in model.trainable_variables if not v.path.startswith("readout")]
    _, gradients = value_and_gradients(
        lambda: (keras.ops.sum(model(x) * weights), ()), recurrent_part)
    acting = sum(int(np.count_nonzero(g)) for g in gradients)
    summary = trained_summary(enforcement_of(name), design)
    assert summary["effective_parameters"] == acting
    assert summary["dense_parameters"] == sum(int(np.prod(v.shape)) for v in recurrent_part)
    trained = trained_connectivity(enforcement_of(name), design).stats()
    assert summary["input_density"] == trained.input_density
    if enforcement_of(name).input == "connections":
        assert summary == {**summary, "input_density": design.stats().input_density,
                           "effective_parameters": design.stats().effective_parameters}


def test_trained_summary_reports_the_models_connectivity_not_the_designs():
    design = presets.random(3, 6, density=0.3, seed=1)
    dense = trained_summary(enforcement_of("output"), design)
    assert (dense["input_density"], dense["recurrent_density"]) == (1.0, 1.0)
    assert dense["effective_parameters"] == dense["dense_parameters"]
    masked = trained_summary(enforcement_of("kernel"), design)
    assert masked["recurrent_density"] == design.stats().recurrent_density < 1.0
