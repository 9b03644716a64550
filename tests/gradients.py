"""Gradients on whichever Keras backend the tests run on (`KERAS_BACKEND`).

TensorFlow records them on a `GradientTape`; JAX differentiates a function of the variables'
values, which the computation reads through a `keras.StatelessScope` (as Keras's own JAX
training step does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras


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
