"""The designs of a group as the groups of one grouped LSTM (`limconn.fused`)."""

import keras
import numpy as np
import pytest

from limconn import presets
from limconn.fused import FusedBranches, fused_group
from limconn.strategies import Head, build_model
from tests.gradients import assert_branches_independent, value_and_gradients


def _branches(strategy, head):
    """Three designs of different sizes (padded to 8 units in the fused layer)."""
    designs = [presets.random(2, 6, density=0.5, seed=1), presets.banded(2, 8, width=1),
               presets.dense(2, 4)]
    return {name: build_model(strategy, design, (10, 2), head)
            for name, design in zip("abc", designs, strict=True)}


@pytest.mark.parametrize("per_step", [False, True])
def test_fused_outputs_equal_each_branch_alone(per_step):
    branches = _branches("kernel", Head("regression", 2, per_step=per_step))
    group = fused_group(branches, (10, 2))
    x = np.random.default_rng(0).normal(size=(5, 10, 2)).astype("float32")
    outputs = group(x)
    for name, model in branches.items():
        np.testing.assert_allclose(outputs[name], model(x), rtol=1e-5, atol=1e-6)


def test_fused_gradients_equal_each_branch_alone():
    """The fused loop projects each step's inputs inside the step and recomputes the gates
    in the backward pass (`keras.remat`); each branch's gradients are still its own."""
    branches = _branches("kernel", Head("regression", 2, per_step=True))
    group = fused_group(branches, (10, 2))
    x = np.random.default_rng(1).normal(size=(5, 10, 2)).astype("float32")
    ramp = np.linspace(-1, 1, 10 * 2).reshape(10, 2).astype("float32")

    def loss(outputs):
        return sum(keras.ops.sum(output * ramp) for output in outputs), ()

    variables = [v for model in branches.values() for v in model.trainable_variables]
    _, fused = value_and_gradients(lambda: loss(group(x).values()), variables)
    alone = [gradient for model in branches.values()
             for gradient in value_and_gradients(lambda model=model: loss([model(x)]),
                                                 model.trainable_variables)[1]]
    assert len(fused) == len(alone) == 3 * len(branches["a"].trainable_variables)
    for expected, actual in zip(alone, fused, strict=True):
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_fused_branches_share_nothing_but_the_inputs():
    """Perturbing branch a changes neither b's predictions nor b's gradients, bit for bit,
    while it does change a's. (random_dynamic's dropout per branch: tests/test_training.py's
    group equality.)"""
    branches = _branches("kernel", Head("regression", 1))
    assert_branches_independent(fused_group(branches, (10, 2)), branches["a"], branches["b"],
                                (10, 2), np.random.default_rng(0))


def test_only_masked_lstm_chains_of_two_or_more_fuse():
    head = Head("regression", 1)
    kernel = _branches("kernel", head)
    assert fused_group({"a": kernel["a"]}, (10, 2)) is None
    cell = build_model("custom_cell", presets.dense(2, 4), (10, 2), head)
    assert fused_group({**kernel, "cell": cell}, (10, 2)) is None
    with pytest.raises(ValueError, match="Branch 'cell' is not a chain"):
        FusedBranches({**kernel, "cell": cell})
