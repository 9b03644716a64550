"""Keras layers that enforce a connectivity mask (and signs) exactly. Masks are enforced here.

Every layer here computes with an **effective weight**: its stored variable where the mask
is 1 and 0 where it is 0, with the sign rule applied where the design has signs
(`|w| * sign`, Dale's law). A 0 in the mask is therefore a 0 in the weight the computation
uses, whatever the stored variable holds, so it has no influence at any time: before the
first step, after every optimizer step, after save and load, and whatever the optimizer does
(EMA written back at the end of `fit`, weight decay, clipping, gradient accumulation, loss
scaling). Because the mask is part of the forward pass, the gradient at a masked position is
exactly 0, so Keras's optimizers leave the stored value there at the 0 it was given at build
(all of them except Muon, whose orthogonalised update moves it, and Adafactor, which can
write NaN there; neither has any influence). `effective_weights()` reads what counts.

Two places to apply the rule, for two needs:

* `MaskedLSTM` (strategies `kernel`, `random_dynamic`) computes the effective kernels once per
  call and runs Keras's own LSTM loop on them: the fused cuDNN kernel on GPU (it reads
  `cell.kernel` and `cell.recurrent_kernel`, which for the duration of the call are the
  effective tensors) or the step loop on CPU. No per-step work, no constraint to assign after
  each step: the cost is one multiply of each kernel per batch.
* `MaskedLSTMCell` (strategy `custom_cell`) applies the rule inside the step. It must run under
  `keras.layers.RNN(cell)`: inside `keras.layers.LSTM` the fused GPU kernel would skip
  `cell.call` and with it the masks.

Every layer is registered for Keras serialization and holds its masks and signs in
`get_config`, so a saved `.keras` model loads with the default `safe_mode=True` once
`limconn.layers` is imported (`limconn.load_model` does that for you).
"""

from __future__ import annotations

import numpy as np

from limconn._tf import keras
from limconn.connectivity import NUM_GATES, as_bool_mask, as_sign, expand_gates, sign_layout
from limconn.grouped import (
    EXECUTIONS,
    GroupLayout,
    grouped_is_faster,
    grouped_lstm,
    recurrent_groups,
)

ops = keras.ops

_PACKAGE = "limconn"


class WeightRule:
    """Turns a stored kernel into the weight a layer computes with: mask, then signs.

    `effective = w` at connected positions without a sign, `|w| * sign` at connected
    positions with one, and 0 at masked positions. A selection, not a multiplication: a
    masked position is 0 even if the stored value there were NaN or infinite (an optimizer
    such as Adafactor can divide 0 by 0 where a whole block of gradients is 0), and its
    gradient is exactly 0. Not a layer: a plain value the layers share.

    Args:
        mask: bool `(rows, cols)` in the kernel's layout; True keeps an entry.
        sign: int8 `(rows, cols)` in {-1, 0, +1}, or `None` for no sign constraints.
    """

    def __init__(self, mask: np.ndarray, sign: np.ndarray | None = None):
        self.mask = mask
        self.sign = sign
        self._signed = None if sign is None else (mask & (sign != 0))
        self._sign = None if sign is None else sign.astype("float32")

    def __call__(self, w):
        # A Keras variable is read as a tensor first: JAX's `where` takes no variables, and
        # inside Keras's traced JAX step the read gives the step's value, not the stored one.
        w = ops.convert_to_tensor(w)
        effective = ops.where(self.mask, w, ops.zeros_like(w))
        if self._signed is not None:
            signed = ops.multiply(ops.abs(w), ops.cast(self._sign, w.dtype))
            effective = ops.where(self._signed, signed, effective)
        return effective

    def numpy(self, w) -> np.ndarray:
        """The effective weight of `w` (a variable or array) as a NumPy array."""
        return keras.ops.convert_to_numpy(self(ops.convert_to_tensor(w)))

    def masked_values(self, w) -> np.ndarray:
        """The stored values of `w` at masked positions (all 0 when nothing leaked)."""
        return keras.ops.convert_to_numpy(w)[~self.mask]


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


def _check_input_rows(mask: np.ndarray | None, input_shape, what: str = "input_mask") -> None:
    if mask is not None and input_shape[-1] != mask.shape[-2]:
        raise ValueError(
            f"{what} has {mask.shape[-2]} rows (one per input feature) but the layer "
            f"received {input_shape[-1]} features. Received: input_shape={tuple(input_shape)}"
        )


def _as_list(array: np.ndarray | None):
    return None if array is None else array.tolist()


class _LSTMConnectivity:
    """The masks and signs of one LSTM, validated at construction and laid out at build.

    Shared by `MaskedLSTM` and `MaskedLSTMCell`, so both read and check their arguments the
    same way.
    """

    def __init__(self, units, input_mask, recurrent_mask, input_sign, recurrent_sign):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        self.units = units
        self.input_mask = _checked_mask(input_mask, "input_mask", units)
        self.recurrent_mask = _checked_mask(recurrent_mask, "recurrent_mask", units, rows=units)
        self.recurrent_sign = as_sign(
            recurrent_sign, "recurrent_sign",
            (units, units) if self.recurrent_mask is None else self.recurrent_mask.shape,
        )
        # Without an input mask, the input signs are checked at build, once the number of
        # input features is known.
        self.input_sign = None if input_sign is None else np.asarray(input_sign)
        if self.input_mask is not None:
            self.input_sign = as_sign(input_sign, "input_sign", self.input_mask.shape)

    def rules(self, sequences_shape) -> tuple[WeightRule, WeightRule]:
        """The kernel's and the recurrent kernel's rules for inputs of `sequences_shape`."""
        _check_input_rows(self.input_mask, sequences_shape)
        input_dim = sequences_shape[-1]
        input_shape = (input_dim, self.units) if self.input_mask is None else self.input_mask.shape
        self.input_sign = as_sign(self.input_sign, "input_sign", input_shape)
        recurrent_shape = (
            (self.units, self.units) if self.recurrent_mask is None else self.recurrent_mask.shape
        )
        return (
            WeightRule(_kernel_mask(self.input_mask, input_shape),
                       sign_layout(self.input_sign, input_shape)),
            WeightRule(_kernel_mask(self.recurrent_mask, recurrent_shape),
                       sign_layout(self.recurrent_sign, recurrent_shape)),
        )

    def config(self) -> dict:
        return {
            "input_mask": _as_list(self.input_mask),
            "recurrent_mask": _as_list(self.recurrent_mask),
            "input_sign": _as_list(self.input_sign),
            "recurrent_sign": _as_list(self.recurrent_sign),
        }


def _kernel_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """A mask in the `(rows, 4 * units)` kernel layout; all True for `None`."""
    return expand_gates(np.ones(shape, bool) if mask is None else mask)


class _MaskedKernels:
    """What `MaskedLSTM` and `MaskedLSTMCell` share: a `_LSTMConnectivity`, the two rules
    built from it, and reading or settling the kernels they apply to (the cell's own, or the
    LSTM layer's cell's: `_kernel_owner()`)."""

    def _attach(self, connectivity: _LSTMConnectivity) -> None:
        self.connectivity = connectivity
        self.kernel_rule: WeightRule | None = None
        self.recurrent_rule: WeightRule | None = None

    def _kernel_owner(self):
        """The layer holding `kernel` and `recurrent_kernel` (a method, not a property:
        Keras's saving walks a layer's attributes, and the cell's owner is itself)."""
        raise NotImplementedError

    @property
    def input_mask(self) -> np.ndarray | None:
        return self.connectivity.input_mask

    @property
    def recurrent_mask(self) -> np.ndarray | None:
        return self.connectivity.recurrent_mask

    def effective_weights(self) -> dict[str, np.ndarray]:
        """The weights the layer computes with: `kernel` `(input_dim, 4 * units)`,
        `recurrent_kernel` `(units, 4 * units)` and `bias` `(4 * units,)` if it has one."""
        owner = self._kernel_owner()
        weights = {
            "kernel": self.kernel_rule.numpy(owner.kernel),
            "recurrent_kernel": self.recurrent_rule.numpy(owner.recurrent_kernel),
        }
        if owner.use_bias:
            weights["bias"] = keras.ops.convert_to_numpy(owner.bias)
        return weights

    def masked_values(self) -> np.ndarray:
        """The stored variables' values at masked positions; all 0 when nothing leaked."""
        owner = self._kernel_owner()
        return np.concatenate([
            self.kernel_rule.masked_values(owner.kernel),
            self.recurrent_rule.masked_values(owner.recurrent_kernel),
        ])

    def settle_variables(self) -> None:
        """Writes the effective kernels into the variables (after `set_weights` and the like)."""
        owner = self._kernel_owner()
        owner.kernel.assign(self.kernel_rule(owner.kernel))
        owner.recurrent_kernel.assign(self.recurrent_rule(owner.recurrent_kernel))

    def get_config(self):
        return {**super().get_config(), **self.connectivity.config()}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedLSTM(_MaskedKernels, keras.layers.LSTM):
    """Long Short-Term Memory layer whose connections follow a mask (and signs), exactly.

    A drop-in for `keras.layers.LSTM`: with no masks it is the dense layer. With masks, an
    entry that is False has no influence at any time, because the layer computes with
    `kernel * mask` (see the module docstring): its weight is 0 in every forward pass and its
    gradient is 0, so the stored variable keeps the 0 it gets at build under every Keras
    optimizer setting. With signs, a source's outgoing weights are `|w| * sign`: never of the
    wrong sign, from the initial weights on. The loop is Keras's own, so the layer keeps the
    fused cuDNN kernel on GPU; the extra cost is one multiply per kernel per batch.

    Args:
        units: positive integer, dimensionality of the output space.
        input_mask: `(input_dim, units)` for all gates, or `(4, input_dim, units)` per gate
            (order i, f, c, o); bool or 0/1. `input_mask[i, j]`: input feature `i` may reach
            unit `j`. `None` (default) connects every input.
        recurrent_mask: `(units, units)` or `(4, units, units)`. `recurrent_mask[i, j]`:
            unit `i`'s previous hidden state may reach unit `j`. `None` connects every unit.
            It limits `h_{t-1} -> gates`; each unit's own cell state `c` still carries over
            time, as in every LSTM.
        input_sign: `None` (default, free), or -1/0/+1 per input feature `(input_dim,)` or
            per connection (shaped like `input_mask`): +1 keeps the weights >= 0 in every
            gate, -1 keeps them <= 0, 0 leaves them free.
        recurrent_sign: `None`, or -1/0/+1 per unit `(units,)` (Dale's law: excitatory and
            inhibitory units) or per connection.
        execution: `"auto"` (default), `"grouped"` or `"dense"`: how the recurrence is
            computed; the results agree to float rounding. `"dense"` is Keras's own LSTM loop
            (the fused cuDNN kernel on GPU). `"grouped"` splits the units into the groups the
            recurrent mask leaves unconnected and computes G small recurrent products per
            step (`limconn.grouped`; never cuDNN); with one group it is one block.
            `"auto"` groups when `grouped_is_faster` says so, else runs dense.
        **kwargs: every other `keras.layers.LSTM` argument. A `kernel_constraint` or
            `recurrent_constraint` acts on the stored variable, as in Keras; the mask and the
            signs then apply to what it leaves.

    Call arguments: as `keras.layers.LSTM`.

    Example:

    >>> inputs = keras.Input((50, 3))
    >>> layer = MaskedLSTM(4, input_mask=np.eye(3, 4), recurrent_mask=np.eye(4))
    >>> outputs = layer(inputs)
    >>> float(layer.effective_weights()["kernel"][0, 1])
    0.0

    Raises:
        ValueError: if a mask is not 0/1, a sign not -1/0/+1, or a shape disagrees with
            `units` or, at build, with the number of input features; the message prints the
            received shape.
    """

    def __init__(
        self, units, input_mask=None, recurrent_mask=None, input_sign=None, recurrent_sign=None,
        execution="auto", **kwargs,
    ):
        connectivity = _LSTMConnectivity(
            units, input_mask, recurrent_mask, input_sign, recurrent_sign
        )
        if execution not in EXECUTIONS:
            raise ValueError(
                f"execution must be one of {EXECUTIONS}. Received: execution={execution!r}"
            )
        super().__init__(units, **kwargs)
        if execution == "grouped" and (self.recurrent_dropout or self.cell.implementation != 2):
            raise ValueError(
                "execution='grouped' needs recurrent_dropout=0 and implementation=2. Received: "
                f"recurrent_dropout={self.recurrent_dropout}, "
                f"implementation={self.cell.implementation}"
            )
        self.execution = execution
        self._attach(connectivity)
        self.group_layout: GroupLayout | None = None

    def build(self, sequences_shape, initial_state_shape=None):
        self.kernel_rule, self.recurrent_rule = self.connectivity.rules(sequences_shape)
        super().build(sequences_shape, initial_state_shape)
        self.settle_variables()
        input_reach = self.kernel_rule.mask.reshape(-1, NUM_GATES, self.units).any(axis=1)
        layout = GroupLayout(recurrent_groups(self.recurrent_mask, self.units), input_reach)
        if self.execution == "grouped" or (
            self.execution == "auto" and grouped_is_faster(layout, self)
        ):
            self.group_layout = layout

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """Keras's own loop, run on the effective kernels, or the grouped loop.

        With a `group_layout`, `limconn.grouped.grouped_lstm` computes the recurrence on the
        effective kernels, gathered into blocks once per call.

        Both of Keras's paths (the fused cuDNN kernel and the step loop) read
        `cell.kernel` and `cell.recurrent_kernel`. For the duration of this call those
        attributes hold the effective tensors, computed once here, then the variables are
        put back; nothing else about the loop changes.
        """
        cell = self.cell
        if self.group_layout is not None:
            return self._grouped_loop(sequences, initial_state, mask, training)
        kernel, recurrent_kernel = cell.kernel, cell.recurrent_kernel
        # object.__setattr__: a plain swap, kept out of Keras's variable tracking.
        object.__setattr__(cell, "kernel", self.kernel_rule(kernel))
        object.__setattr__(cell, "recurrent_kernel", self.recurrent_rule(recurrent_kernel))
        try:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        finally:
            object.__setattr__(cell, "kernel", kernel)
            object.__setattr__(cell, "recurrent_kernel", recurrent_kernel)

    def _grouped_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if training and 0.0 < self.dropout < 1.0:  # one mask for every step, as in the cell
            sequences = sequences * ops.expand_dims(cell.get_dropout_mask(sequences[:, 0]), 1)
        return grouped_lstm(
            self.group_layout, sequences, initial_state, mask,
            self.kernel_rule(cell.kernel), self.recurrent_rule(cell.recurrent_kernel),
            cell.bias if self.use_bias else None,
            activation=cell.activation, recurrent_activation=cell.recurrent_activation,
            go_backwards=self.go_backwards, unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences,
        )

    def _kernel_owner(self):
        return self.cell

    def get_config(self):
        return {**super().get_config(), "execution": self.execution}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedLSTMCell(_MaskedKernels, keras.layers.LSTMCell):
    """An LSTM cell that applies connectivity masks (and signs) to its kernels in every step.

    Use it under `keras.layers.RNN(cell)`, never inside `keras.layers.LSTM`, whose fused GPU
    kernel would bypass `call` and the masks with it. Slower than `MaskedLSTM` (the RNN step
    loop, no cuDNN, the rule applied at every step) and more flexible: the masks act on the
    computation itself, so the cell is the place to try connectivity that changes per step.
    The stored weights are given the rule once at build, so they read 0 where the mask is 0
    (and their gradient there is 0).

    Args:
        units: positive integer, dimensionality of the output space.
        input_mask: `(input_dim, units)` or `(4, input_dim, units)`; see `MaskedLSTM`.
        recurrent_mask: `(units, units)` or `(4, units, units)`; see `MaskedLSTM`.
        input_sign: see `MaskedLSTM`.
        recurrent_sign: see `MaskedLSTM`.
        **kwargs: every other `keras.layers.LSTMCell` argument.

    Example:

    >>> cell = MaskedLSTMCell(4, input_mask=np.eye(3, 4))
    >>> outputs = keras.layers.RNN(cell)(keras.Input((50, 3)))

    Raises:
        ValueError: as `MaskedLSTM`.
    """

    def __init__(
        self, units, input_mask=None, recurrent_mask=None, input_sign=None, recurrent_sign=None,
        **kwargs,
    ):
        connectivity = _LSTMConnectivity(
            units, input_mask, recurrent_mask, input_sign, recurrent_sign
        )
        super().__init__(units, **kwargs)
        self._attach(connectivity)

    def build(self, input_shape):
        self.kernel_rule, self.recurrent_rule = self.connectivity.rules(input_shape)
        super().build(input_shape)
        self.settle_variables()

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_tm1 = h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        z = ops.matmul(inputs, self.kernel_rule(self.kernel))
        z = z + ops.matmul(h_tm1, self.recurrent_rule(self.recurrent_kernel))
        if self.use_bias:
            z = z + self.bias
        c, o = self._compute_carry_and_output_fused(ops.split(z, 4, axis=1), c_tm1)
        h = o * self.activation(c)
        return h, [h, c]

    def _kernel_owner(self):
        return self


class _OnEffectiveWeight:
    """A Keras regularizer applied to the weight a layer computes with, not to the stored
    variable: `regularizer(rule(w))`, so a masked entry adds nothing, whatever it stores."""

    def __init__(self, regularizer, rule: WeightRule | None):
        self.regularizer = regularizer
        self.rule = rule

    def __call__(self, w):
        return self.regularizer(w if self.rule is None else self.rule(w))


def penalize_lstm_weights(model, l1: float = 0.0, l2: float = 0.0) -> None:
    """Adds `l1 * sum|w| + l2 * sum w**2` over every LSTM's effective input and recurrent
    weights to the model's losses (`model.losses`, which `fit` adds to the loss).

    For `MaskedLSTM` and `MaskedLSTMCell` the penalty reads the effective kernels (mask and
    signs applied), so a masked weight contributes nothing to it; for a dense LSTM the
    effective kernels are the stored ones. The penalty is a training setting, set on the
    built model's variables: it is not part of the layers' config, so a saved model is
    unchanged by it and loads with `safe_mode=True` as before.

    Args:
        model: a built model; its top-level LSTM layers (`keras.layers.RNN` and
            subclasses) are penalised, biases and other layers are not.
        l1: the L1 factor, >= 0.
        l2: the L2 factor, >= 0.

    Example:

    >>> inputs = keras.Input((5, 2))
    >>> layer = MaskedLSTM(3, input_mask=np.eye(2, 3))
    >>> model = keras.Model(inputs, layer(inputs))
    >>> penalize_lstm_weights(model, l1=0.01)
    >>> len(model.losses)
    2

    Raises:
        ValueError: if `l1` or `l2` is negative.
    """
    if l1 < 0 or l2 < 0:
        raise ValueError(f"l1 and l2 must be >= 0. Received: l1={l1!r}, l2={l2!r}")
    regularizer = keras.regularizers.L1L2(l1=l1, l2=l2)
    for layer in model.layers:
        if not isinstance(layer, keras.layers.RNN):
            continue
        cell = layer.cell
        masked = layer if isinstance(layer, _MaskedKernels) else cell
        rules = ((masked.kernel_rule, masked.recurrent_rule)
                 if isinstance(masked, _MaskedKernels) else (None, None))
        for variable, rule in zip((cell.kernel, cell.recurrent_kernel), rules, strict=True):
            variable.regularizer = _OnEffectiveWeight(regularizer, rule)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MaskedDense(keras.layers.Dense):
    """A `Dense` layer whose kernel `(input_dim, units)` follows a mask, exactly.

    It computes with `kernel * mask`, as `MaskedLSTM` does, and masked entries of the stored
    kernel are 0 from `build` on. Applied to a sequence it maps every time step through the
    same sparse map. Quantization and LoRA, which rewrite the kernel, are not supported.

    Args:
        units: positive integer, dimensionality of the output space.
        kernel_mask: `(input_dim, units)`, bool or 0/1; True keeps a connection.
        **kwargs: every other `keras.layers.Dense` argument.

    Example:

    >>> layer = MaskedDense(4, kernel_mask=np.eye(3, 4))
    >>> outputs = layer(keras.Input((50, 3)))
    """

    def __init__(self, units, kernel_mask, **kwargs):
        mask = _checked_mask(kernel_mask, "kernel_mask", units)
        if mask.ndim != 2:
            raise ValueError(
                f"kernel_mask must be 2-D (input_dim, units). Received: shape {mask.shape}"
            )
        super().__init__(units, **kwargs)
        self.kernel_mask = mask
        self.kernel_rule = WeightRule(mask)

    def build(self, input_shape):
        _check_input_rows(self.kernel_mask, input_shape, "kernel_mask")
        super().build(input_shape)
        self.settle_variables()

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self.kernel_rule(self._kernel))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def quantize(self, mode, **kwargs):
        raise NotImplementedError(
            f"MaskedDense computes with kernel * mask and cannot be quantized. Received: {mode!r}"
        )

    def effective_weights(self) -> dict[str, np.ndarray]:
        """The kernel the layer computes with (and its bias, if any)."""
        weights = {"kernel": self.kernel_rule.numpy(self._kernel)}
        if self.bias is not None:
            weights["bias"] = keras.ops.convert_to_numpy(self.bias)
        return weights

    def masked_values(self) -> np.ndarray:
        """The stored kernel's values at masked positions; all 0 when nothing leaked."""
        return self.kernel_rule.masked_values(self._kernel)

    def settle_variables(self) -> None:
        """Writes the effective kernel into the variable (after `set_weights` and the like)."""
        self._kernel.assign(self.kernel_rule(self._kernel))

    def get_config(self):
        return {**super().get_config(), "kernel_mask": self.kernel_mask.tolist()}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FixedMask(keras.layers.Layer):
    """Multiplies the last axis by a fixed 0/1 vector: switches features or units off.

    Used before an LSTM to turn whole input features off (`input_features` strategy) and
    after it to choose which units the readout reads (`output` masks). It passes a Keras
    time-step mask on unchanged (`supports_masking`), so steps a `Masking` layer skips stay
    out of a per-step loss.

    Args:
        mask: `(features,)`, bool or 0/1.

    Example:

    >>> keras.ops.convert_to_numpy(FixedMask([1, 0])(np.ones((1, 2))))
    array([[1., 0.]], dtype=float32)
    """

    def __init__(self, mask, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
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
