"""Gradients on whichever Keras backend the tests run on (`KERAS_BACKEND`).

TensorFlow records them on a `GradientTape`; JAX differentiates a function of the variables'
values, which the computation reads through a `keras.StatelessScope` (as Keras's own JAX
training step does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np


def value_and_gradients(compute: Callable[[], tuple], variables: Sequence) -> tuple:
    """Runs `compute()`, which returns `(loss, aux)`; returns `aux` (as NumPy) and the loss's
    gradients with respect to `variables` (NumPy arrays, in order)."""
    if keras.config.backend() == "jax":
        import jax

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
                return compute()

        (_, aux), gradients = jax.value_and_grad(loss_of, has_aux=True)(
            [variable.value for variable in variables])
    else:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, aux = compute()
        gradients = tape.gradient(loss, list(variables))
    return (keras.tree.map_structure(keras.ops.convert_to_numpy, aux),
            [keras.ops.convert_to_numpy(gradient) for gradient in gradients])


def assert_branches_independent(group, a, b, input_shape, rng: np.random.Generator) -> None:
    """Perturbing branch `a` of `group` (a model whose outputs are named after its branches)
    changes neither branch `b`'s predictions nor `b`'s gradients, bit for bit, while it
    does change `a`'s. `input_shape`: `(timesteps, features)`."""
    from limconn.enforcement import max_masked_weight, zero_masked_weights

    x = rng.normal(size=(16, *input_shape)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")

    def outputs_and_gradients():
        def compute():
            outputs = group(x, training=True)
            return sum(keras.ops.mean(keras.losses.mean_squared_error(y, out))
                       for out in outputs.values()), outputs

        outputs, gradients = value_and_gradients(
            compute, a.trainable_variables + b.trainable_variables)
        split = len(a.trainable_variables)
        return outputs, gradients[:split], gradients[split:]

    outputs, a_gradients, b_gradients = outputs_and_gradients()
    a.set_weights([w + rng.normal(size=w.shape).astype("float32") for w in a.get_weights()])
    zero_masked_weights(a)
    assert max_masked_weight(a) == 0.0
    outputs_after, a_gradients_after, b_gradients_after = outputs_and_gradients()

    np.testing.assert_array_equal(outputs_after["b"], outputs["b"])
    for before, after in zip(b_gradients, b_gradients_after, strict=True):
        np.testing.assert_array_equal(after, before)
    assert not np.array_equal(outputs_after["a"], outputs["a"])
    assert not np.array_equal(a_gradients_after[0], a_gradients[0])
