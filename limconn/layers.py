"""Keras layers that enforce a connectivity mask exactly. This is where masks are enforced.

Two mechanisms, for two needs:

* `MaskedLSTM` (strategy `kernel`) keeps the masked entries of Keras's own `kernel` and
  `recurrent_kernel` at exactly 0: once right after `build` (so they are 0 before the first
  step) and after every optimizer step, through a `MaskConstraint` that Keras's optimizer
  applies as `variable.assign(constraint(variable))`. Nothing in the forward pass changes, so
  the layer keeps Keras's fused cuDNN kernel on GPU, which reads the variables directly.
* `MaskedLSTMCell` (strategy `custom_cell`) multiplies the masks into the kernels inside the
  step. It must run under `keras.layers.RNN(cell)`: inside `keras.layers.LSTM` the fused GPU
  kernel would skip `cell.call` and with it the masks.

Every layer here is registered for Keras serialization and holds its masks in `get_config`,
so a saved `.keras` model loads with the default `safe_mode=True` after `import limconn`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from limconn.connectivity import NUM_GATES, as_bool_mask, expand_gates

_PACKAGE = "limconn"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskConstraint(keras.constraints.Constraint):
    """Zeroes the masked entries of a weight, after an optional constraint of the user's.

    Keras's optimizers apply a variable's constraint after every update, so masked entries
    stay exactly 0 whatever the gradient, momentum or weight decay did.

    Args:
        mask: bool or 0/1 array of the weight's shape; True keeps an entry.
        constraint: a Keras constraint (object, name or config) applied first, or `None`.

    Example:

    >>> constraint = MaskConstraint([[1, 0], [0, 1]])
    >>> keras.ops.convert_to_numpy(constraint(keras.ops.ones((2, 2))))
    array([[1., 0.],
           [0., 1.]], dtype=float32)
    """

    def __init__(self, mask, constraint=None):
        self.mask = as_bool_mask(mask, "mask", ndims=(1, 2))
        self.constraint = keras.constraints.get(constraint)
        self._multiplier = self.mask.astype("float32")

    def __call__(self, w):
        if self.constraint is not None:
            w = self.constraint(w)
        return ops.multiply(w, ops.cast(self._multiplier, w.dtype))

    def get_config(self):
        return {
            "mask": self.mask.tolist(),
            "constraint": keras.constraints.serialize(self.constraint),
        }


def _mask_weights_now(*variables) -> None:
    """Applies each variable's `MaskConstraint` once, so masked entries start at 0."""
    for variable in variables:
        if isinstance(variable.constraint, MaskConstraint):
            variable.assign(variable.constraint(variable))


def _checked_mask(value, name: str, units: int, rows: int | None = None) -> np.ndarray | None:
    """Validates a 2-D or per-gate mask whose last axis is `units` (and rows, if known)."""
    if value is None:
        return None
    mask = as_bool_mask(value, name)
    if mask.ndim == 3 and mask.shape[0] != NUM_GATES:
        raise ValueError(
            f"A per-gate {name} must have shape (4, rows, units), gates i, f, c, o. "
            f"Received: {name}.shape={mask.shape}"
        )
    if mask.shape[-1] != units or (rows is not None and mask.shape[-2] != rows):
        expected = f"({rows if rows is not None else 'rows'}, {units})"
        raise ValueError(
            f"{name} must have shape {expected} or (4, *{expected}) for units={units}. "
            f"Received: {name}.shape={mask.shape}"
        )
    return mask


def _check_input_rows(mask: np.ndarray | None, input_shape) -> None:
    if mask is not None and input_shape[-1] != mask.shape[-2]:
        raise ValueError(
            f"input_mask has {mask.shape[-2]} rows (one per input feature) but the layer "
            f"received {input_shape[-1]} features. Received: input_shape={tuple(input_shape)}"
        )


def _multiplier(mask: np.ndarray | None, dense_shape: tuple[int, int]) -> np.ndarray:
    """The float32 `(rows, 4 * units)` multiplier of a mask; all ones for `None`."""
    if mask is None:
        mask = np.ones(dense_shape, bool)
    return expand_gates(mask).astype("float32")


def _mask_list(mask: np.ndarray | None):
    return None if mask is None else mask.tolist()


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedLSTM(keras.layers.LSTM):
    """Long Short-Term Memory layer whose connections follow a mask, exactly.

    A drop-in for `keras.layers.LSTM`: with no masks it is the dense layer. With masks, an
    entry that is False has no influence at any time: its weight is 0 from `build` on and
    after every optimizer step (a `MaskConstraint`, composed with any `kernel_constraint` or
    `recurrent_constraint` you pass). The forward pass is Keras's own, so the layer stays
    eligible for the fused cuDNN kernel and costs nothing extra per step.

    Args:
        units: positive integer, dimensionality of the output space.
        input_mask: `(input_dim, units)` for all gates, or `(4, input_dim, units)` per gate
            (order i, f, c, o); bool or 0/1. `input_mask[i, j]`: input feature `i` may reach
            unit `j`. `None` (default) connects every input.
        recurrent_mask: `(units, units)` or `(4, units, units)`. `recurrent_mask[i, j]`:
            unit `i`'s previous hidden state may reach unit `j`. `None` connects every unit.
            It limits `h_{t-1} -> gates`; each unit's own cell state `c` still carries over
            time, as in every LSTM.
        kernel_constraint: a constraint applied before the mask. Default `None`.
        recurrent_constraint: a constraint applied before the mask. Default `None`.
        **kwargs: every other `keras.layers.LSTM` argument.

    Call arguments: as `keras.layers.LSTM`.

    Example:

    >>> inputs = keras.Input((50, 3))
    >>> layer = MaskedLSTM(4, input_mask=np.eye(3, 4), recurrent_mask=np.eye(4))
    >>> outputs = layer(inputs)
    >>> keras.ops.convert_to_numpy(layer.cell.kernel)[0, 1]
    0.0

    Raises:
        ValueError: if a mask is not 0/1 or its shape disagrees with `units` or, at build,
            with the number of input features; the message prints the received shape.
    """

    def __init__(
        self,
        units,
        input_mask=None,
        recurrent_mask=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        **kwargs,
    ):
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        input_mask = _checked_mask(input_mask, "input_mask", units)
        recurrent_mask = _checked_mask(recurrent_mask, "recurrent_mask", units, rows=units)
        user_kernel_constraint = keras.constraints.get(kernel_constraint)
        user_recurrent_constraint = keras.constraints.get(recurrent_constraint)
        super().__init__(
            units,
            kernel_constraint=_masked(input_mask, user_kernel_constraint),
            recurrent_constraint=_masked(recurrent_mask, user_recurrent_constraint),
            **kwargs,
        )
        self.input_mask = input_mask
        self.recurrent_mask = recurrent_mask
        self.user_kernel_constraint = user_kernel_constraint
        self.user_recurrent_constraint = user_recurrent_constraint

    def build(self, sequences_shape, initial_state_shape=None):
        _check_input_rows(self.input_mask, sequences_shape)
        super().build(sequences_shape, initial_state_shape)
        _mask_weights_now(self.cell.kernel, self.cell.recurrent_kernel)

    def get_config(self):
        config = super().get_config()
        config["kernel_constraint"] = keras.constraints.serialize(self.user_kernel_constraint)
        config["recurrent_constraint"] = keras.constraints.serialize(
            self.user_recurrent_constraint
        )
        config["input_mask"] = _mask_list(self.input_mask)
        config["recurrent_mask"] = _mask_list(self.recurrent_mask)
        return config


def _masked(mask: np.ndarray | None, constraint):
    return constraint if mask is None else MaskConstraint(expand_gates(mask), constraint)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedLSTMCell(keras.layers.LSTMCell):
    """An LSTM cell that multiplies connectivity masks into its kernels at every step.

    Use it under `keras.layers.RNN(cell)`, never inside `keras.layers.LSTM`, whose fused GPU
    kernel would bypass `call` and the masks with it. Slower than `MaskedLSTM` (the RNN step
    loop, no cuDNN) and more flexible: the masks act on the computation itself, so the cell
    is the place to try connectivity that changes per step. The stored weights are also
    masked once at build, so they read 0 where the mask is 0 (their gradient there is 0).

    Args:
        units: positive integer, dimensionality of the output space.
        input_mask: `(input_dim, units)` or `(4, input_dim, units)`; see `MaskedLSTM`.
        recurrent_mask: `(units, units)` or `(4, units, units)`; see `MaskedLSTM`.
        **kwargs: every other `keras.layers.LSTMCell` argument.

    Example:

    >>> cell = MaskedLSTMCell(4, input_mask=np.eye(3, 4))
    >>> outputs = keras.layers.RNN(cell)(keras.Input((50, 3)))

    Raises:
        ValueError: as `MaskedLSTM`.
    """

    def __init__(self, units, input_mask=None, recurrent_mask=None, **kwargs):
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        input_mask = _checked_mask(input_mask, "input_mask", units)
        recurrent_mask = _checked_mask(recurrent_mask, "recurrent_mask", units, rows=units)
        super().__init__(units, **kwargs)
        self.input_mask = input_mask
        self.recurrent_mask = recurrent_mask

    def build(self, input_shape):
        _check_input_rows(self.input_mask, input_shape)
        super().build(input_shape)
        self.kernel_multiplier = _multiplier(self.input_mask, (input_shape[-1], self.units))
        self.recurrent_multiplier = _multiplier(self.recurrent_mask, (self.units, self.units))
        self.kernel.assign(self.kernel * self.kernel_multiplier)
        self.recurrent_kernel.assign(self.recurrent_kernel * self.recurrent_multiplier)

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        kernel = self.kernel * ops.cast(self.kernel_multiplier, self.kernel.dtype)
        recurrent_kernel = self.recurrent_kernel * ops.cast(
            self.recurrent_multiplier, self.recurrent_kernel.dtype
        )
        z = ops.matmul(inputs, kernel) + ops.matmul(h_tm1, recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        c, o = self._compute_carry_and_output_fused(ops.split(z, 4, axis=1), c_tm1)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["input_mask"] = _mask_list(self.input_mask)
        config["recurrent_mask"] = _mask_list(self.recurrent_mask)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedDense(keras.layers.Dense):
    """A `Dense` layer whose kernel `(input_dim, units)` follows a mask, exactly.

    Masked entries are 0 from `build` on and after every optimizer step, as in `MaskedLSTM`.
    Applied to a sequence it maps every time step through the same sparse map.

    Args:
        units: positive integer, dimensionality of the output space.
        kernel_mask: `(input_dim, units)`, bool or 0/1; True keeps a connection.
        kernel_constraint: a constraint applied before the mask. Default `None`.
        **kwargs: every other `keras.layers.Dense` argument.

    Example:

    >>> layer = MaskedDense(4, kernel_mask=np.eye(3, 4))
    >>> outputs = layer(keras.Input((50, 3)))
    """

    def __init__(self, units, kernel_mask, kernel_constraint=None, **kwargs):
        mask = _checked_mask(kernel_mask, "kernel_mask", units)
        if mask.ndim != 2:
            raise ValueError(
                f"kernel_mask must be 2-D (input_dim, units). Received: shape {mask.shape}"
            )
        user_constraint = keras.constraints.get(kernel_constraint)
        super().__init__(units, kernel_constraint=MaskConstraint(mask, user_constraint), **kwargs)
        self.kernel_mask = mask
        self.user_kernel_constraint = user_constraint

    def build(self, input_shape):
        _check_input_rows(self.kernel_mask, input_shape)
        super().build(input_shape)
        _mask_weights_now(self.kernel)

    def get_config(self):
        config = super().get_config()
        config["kernel_constraint"] = keras.constraints.serialize(self.user_kernel_constraint)
        config["kernel_mask"] = self.kernel_mask.tolist()
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FixedMask(keras.layers.Layer):
    """Multiplies the last axis by a fixed 0/1 vector: switches features or units off.

    Used before an LSTM to turn whole input features off (`input_features` strategy) and
    after it to choose which units reach the readout (`output` masks).

    Args:
        mask: `(features,)`, bool or 0/1.

    Example:

    >>> keras.ops.convert_to_numpy(FixedMask([1, 0])(np.ones((1, 2))))
    array([[1., 0.]], dtype=float32)
    """

    def __init__(self, mask, **kwargs):
        super().__init__(**kwargs)
        self.mask = as_bool_mask(mask, "mask", ndims=(1,))
        self._multiplier = self.mask.astype("float32")

    def build(self, input_shape):
        if input_shape[-1] != self.mask.shape[0]:
            raise ValueError(
                f"FixedMask has {self.mask.shape[0]} entries but its input has "
                f"{input_shape[-1]} features. Received: input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        return inputs * ops.cast(self._multiplier, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mask": self.mask.tolist()}
