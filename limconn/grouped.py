"""Grouped execution of a masked LSTM: G small recurrent products instead of one large one.

When the recurrent mask splits the units into groups with no connection between them (the
connected components of the recurrent graph, in any unit order), the recurrent product
`h @ W` of a `(units, 4 * units)` kernel is G independent products of `(u, 4u)` blocks: one
batched matmul per step on weights gathered into `(G, u, 4u)`, which on CPU costs about 1/G
of the dense product (Kuchaiev & Ginsburg, "Factorization tricks for LSTM networks", 2017).

`GroupLayout` lays the units out in blocks and `grouped_lstm` runs the LSTM recurrence on that
layout with `keras.ops` and Keras's own backend loop (`keras.src.backend.rnn`: a `while_loop`
on TensorFlow, `lax.scan` on JAX), so it is backend-neutral. The weights it is handed are
the layer's effective kernels in Keras's standard layout; it gathers them into blocks once
per call, and puts the outputs and states back in the original unit order, so nothing
outside the call sees the block order.

Groups of unequal size are **padded** to the largest one: a padded slot has zero input
projection, zero recurrent weights in and out and zero bias, so its state stays exactly 0
and it influences nothing. Padding keeps one batched matmul per step; bucketing by size
would need one matmul per distinct size per step, and with the presets' groups (sizes that
differ by at most one unit) padding wastes at most `G * (2u - 1)` of `G * u * u` products.
"""

from __future__ import annotations

import numpy as np

from limconn._tf import keras
from limconn.connectivity import NUM_GATES

ops = keras.ops

EXECUTIONS = ("auto", "grouped", "dense")


def grouped_is_faster(layout: GroupLayout, layer) -> bool:
    """`MaskedLSTM(execution="auto")`'s rule: run grouped where it trains faster than dense.

    Measured on CPU with TensorFlow (`python -m benchmarks.grouped_lstm --rule`, fit()
    epochs, dense / grouped time of the same `MaskedLSTM` on `presets.block_diagonal`,
    inputs/units/groups/steps, best-of-rounds and median; a shared 2-core machine, noisy):
    4/32/4/50 0.57x 0.57x; 16/64/2/50 0.65x 0.65x; 16/64/4/50 0.71x 0.64x;
    16/128/2/50 1.78x 0.96x; 16/128/4/50 0.88x 1.07x; 64/256/2/100 1.10x 1.50x;
    64/256/4/100 1.67x 1.59x and 64/512/4/100 3.00x 2.03x against `keras.layers.LSTM`.
    Below 128 units the per-step work is too small for the saved products to pay for the
    extra ops; at 128 it is a wash; from 256 units grouping wins once it at least halves
    the recurrent products. On JAX, whose grouped loop projects in the step
    (`projects_in_step`), the same command on another 2-core machine gave: 2/32/2/50 0.69x
    0.72x; 4/32/4/50 0.79x 0.78x; 16/64/2/50 1.34x 1.33x; 16/64/4/50 1.04x 0.98x;
    16/128/2/50 1.69x 1.66x; 16/128/4/50 2.32x 2.30x; 64/256/2/100 1.43x 1.38x: there
    grouping wins from 128 units. On a GPU the dense path runs the fused cuDNN kernel,
    which the grouped loop cannot, so `auto` stays dense there (not measured here: no GPU).
    """
    if layout.count < 2 or layer.recurrent_dropout or layer.cell.implementation != 2:
        return False
    if any(device.startswith("gpu") for device in keras.distribution.list_devices()):
        return False
    halves_the_products = 2 * layout.count * layout.size**2 <= layout.units**2
    return layout.units >= (128 if projects_in_step() else 256) and halves_the_products


def recurrent_groups(recurrent_mask: np.ndarray | None, units: int) -> list[np.ndarray]:
    """The units in groups with no recurrent connection between groups, in any gate.

    The connected components of the recurrent graph (an edge i-j where `recurrent_mask` is
    True at `[i, j]` or `[j, i]` in some gate), each sorted, ordered by their first unit.

    Args:
        recurrent_mask: bool `(units, units)` or per gate `(4, units, units)`; `None` is
            fully connected (one group).
        units: the number of units.
    """
    if recurrent_mask is None:
        return [np.arange(units)]
    connected = recurrent_mask if recurrent_mask.ndim == 2 else recurrent_mask.any(axis=0)
    connected = connected | connected.T
    group_of = np.full(units, -1)
    groups = []
    for start in range(units):
        if group_of[start] >= 0:
            continue
        group_of[start] = len(groups)
        frontier = [start]
        while frontier:
            reached = np.flatnonzero(connected[frontier].any(axis=0) & (group_of < 0))
            group_of[reached] = len(groups)
            frontier = list(reached)
        groups.append(np.flatnonzero(group_of == len(groups)))
    return groups


class GroupLayout:
    """Where each unit and input feature sits when the groups are laid out as `G` blocks.

    Slot `g * size + k` holds unit `groups[g][k]`, or nothing (a padded slot) when group `g`
    has fewer than `size` units. Group `g` reads its own input features (those with a
    connection to one of its units, in any gate), `features` of them, padded with a zero
    feature, so the input projection is grouped too: `(G, features, 4 size)` blocks. Not a
    layer: plain index arrays that `grouped_lstm` uses.

    Args:
        groups: the units of each group (from `recurrent_groups`).
        input_reach: bool `(input_dim, units)`: feature i reaches unit j in some gate.
    """

    def __init__(self, groups: list[np.ndarray], input_reach: np.ndarray):
        self.input_dim, self.units = input_reach.shape
        self.count = len(groups)
        self.size = max(len(group) for group in groups)
        self.padded = any(len(group) < self.size for group in groups)
        unit_slots = _padded([*groups], self.size, fill=self.units)
        self.slot_units = unit_slots.reshape(-1)
        self.unit_slots = np.argsort(self.slot_units, kind="stable")[: self.units]
        # Units already in block order: the unit axes need no gathering.
        self.in_order = bool(np.array_equal(self.slot_units, np.arange(self.units)))
        feature_groups = [np.flatnonzero(input_reach[:, group].any(axis=1)) for group in groups]
        self.features = max(1, *(len(features) for features in feature_groups))
        self.features_padded = any(len(f) < self.features for f in feature_groups)
        self.slot_features = _padded(feature_groups, self.features, fill=self.input_dim)
        self.recurrent_index = _block_index(unit_slots, self.units + self.padded,
                                            unit_slots, self.units + self.padded)
        self.input_index = _block_index(self.slot_features, self.input_dim + self.features_padded,
                                        unit_slots, self.units + self.padded)

    def _blocks(self, kernel, index, rows, rows_padded):
        """`(rows, 4 * units)` -> `(G, len(index[1]), 4 * size)` through a flat gather."""
        w = ops.reshape(kernel, (rows, NUM_GATES, self.units))
        w = _with_zero_entry(_with_zero_entry(w, 0, rows_padded), 2, self.padded)
        blocks = ops.take(ops.reshape(w, (-1,)), index.reshape(-1))
        return ops.reshape(blocks, (self.count, index.shape[1], NUM_GATES * self.size))

    def recurrent_blocks(self, recurrent_kernel):
        """`(units, 4 * units)` -> `(G, size, 4 * size)`: each group's own recurrent weights."""
        return self._blocks(recurrent_kernel, self.recurrent_index, self.units, self.padded)

    def input_blocks(self, kernel):
        """`(input_dim, 4 * units)` -> `(G, features, 4 * size)`: each group's input weights."""
        return self._blocks(kernel, self.input_index, self.input_dim, self.features_padded)

    def bias_blocks(self, bias):
        """`(4 * units,)` -> `(G, 1, 4 * size)`."""
        bias = self.to_slots(ops.reshape(bias, (NUM_GATES, self.units)))
        bias = ops.swapaxes(ops.reshape(bias, (NUM_GATES, self.count, self.size)), 0, 1)
        return ops.reshape(bias, (self.count, 1, NUM_GATES * self.size))

    def group_inputs(self, sequences):
        """`(batch, timesteps, input_dim)` -> `(G, timesteps * batch, features)`, time-major."""
        x = _with_zero_entry(ops.transpose(sequences, (1, 0, 2)), 2, self.features_padded)
        x = ops.take(x, self.slot_features.reshape(-1), axis=-1)
        x = ops.reshape(x, (-1, self.count, self.features))
        return ops.transpose(x, (1, 0, 2))

    def to_slots(self, x):
        """`(..., units)` -> `(..., G * size)`, padded slots 0."""
        if self.in_order:
            return x
        return ops.take(_with_zero_entry(x, -1, self.padded), self.slot_units, axis=-1)

    def to_units(self, x):
        """`(..., G * size)` -> `(..., units)` in the original unit order."""
        if self.in_order:
            return x
        return ops.take(x, self.unit_slots, axis=-1)


def _padded(groups: list[np.ndarray], width: int, fill: int) -> np.ndarray:
    """`(len(groups), width)` indices: each group's, then `fill` (the zero entry)."""
    slots = np.full((len(groups), width), fill)
    for g, group in enumerate(groups):
        slots[g, : len(group)] = group
    return slots


def _block_index(row_slots, row_width, column_slots, column_width) -> np.ndarray:
    """Flat index of `w[row_slots[g, k], gate, column_slots[g, l]]` in `w` shaped
    `(row_width, 4, column_width)`, laid out `(G, rows, 4, columns)`."""
    gates = np.arange(NUM_GATES)[None, None, :, None]
    rows = row_slots[:, :, None, None]
    return (rows * NUM_GATES + gates) * column_width + column_slots[:, None, None, :]


def _with_zero_entry(x, axis: int, needed: bool):
    """`x` with a zero entry appended along `axis` when `needed` (padded slots read it)."""
    if not needed:
        return x
    pad = [(0, 0)] * len(x.shape)
    pad[axis] = (0, 1)
    return ops.pad(x, pad)


def grouped_lstm(
    layout: GroupLayout, sequences, initial_state, mask, kernel, recurrent_kernel, bias, *,
    activation, recurrent_activation, go_backwards=False, unroll=False,
    zero_output_for_mask=False, return_sequences=False,
):
    """The LSTM recurrence on `layout`'s blocks; returns `(last_output, outputs, [h, c])`
    as Keras's `RNN.inner_loop` does, in the original unit order.

    Each group's own features meet its own input weights in one batched matmul, before
    the loop or in each step (`projects_in_step`). The state is group-major,
    `(G, batch, size)`, so each step is one batched matmul with the blocks
    `(G, size, 4 size)`, no transposes.
    A time-step mask is applied in the step, as Keras's loop applies it: a masked step
    keeps the states and repeats the previous output (or gives 0 with `zero_output_for_mask`).

    Args:
        layout: the groups' layout.
        sequences: `(batch, timesteps, input_dim)`.
        initial_state: `[h, c]`, each `(batch, units)`.
        mask: a `(batch, timesteps)` time-step mask or `None`.
        kernel, recurrent_kernel, bias: the weights to compute with (effective, Keras's
            layout); `bias` may be `None`.
        activation, recurrent_activation: the cell's activations.
        go_backwards, unroll, zero_output_for_mask, return_sequences: as Keras's `RNN`.
    """
    count, size = layout.count, layout.size
    batch = ops.shape(sequences)[0]
    # (G, timesteps, batch, features): the loop takes axis 1 as time, and each step gets
    # (G, batch, features). One tensor, so that the loop reads the number of steps from it.
    features = layout.group_inputs(sequences)
    features = ops.reshape(features, (count, -1, batch, features.shape[-1]))
    biases = (layout.bias_blocks(bias) if bias is not None
              else ops.zeros((count, 1, NUM_GATES * size), features.dtype))
    blocks = layout.recurrent_blocks(recurrent_kernel)
    states = [ops.transpose(ops.reshape(layout.to_slots(state), (batch, count, size)), (1, 0, 2))
              for state in initial_state]
    last_output, outputs, states = grouped_recurrence(
        features, (layout.input_blocks(kernel), biases), blocks, states, mask,
        activation=activation, recurrent_activation=recurrent_activation,
        go_backwards=go_backwards, unroll=unroll,
        zero_output_for_mask=zero_output_for_mask, return_sequences=return_sequences,
        input_length=sequences.shape[1],
    )

    def to_units(x, order):  # group-major (G, ..., batch, size) -> (batch, ..., units)
        x = ops.transpose(x, order)
        return layout.to_units(ops.reshape(x, (*ops.shape(x)[:-2], count * size)))

    last_output, *states = (to_units(x, (1, 0, 2)) for x in (last_output, *states))
    return last_output, to_units(outputs, (2, 1, 0, 3)), states


def projects_in_step() -> bool:
    """Whether `grouped_recurrence` projects each step's features inside the step and
    recomputes the step's gates in the backward pass (`keras.remat`), rather than projecting
    every step before the loop and keeping the gates.

    On JAX it does: the `(G, timesteps, batch, 4 size)` projection, its gradient and the
    kept gates are memory traffic that costs more on CPU than the products saved
    (`python -m benchmarks.grouped_lstm`, medians of 3 rounds, block_diagonal(64, units, 4),
    speed-up over `keras.layers.LSTM`: 512 units 1.23x -> 1.70x, 256 units 1.00x -> 1.77x;
    one fused step of 32 designs of 32 units 0.21 s -> 0.11 s). On TensorFlow it does not:
    there the evidence was mixed and noisy (5 rounds each, medians: 512 units 1.63x with
    the projection before the loop, 1.43x in the step; 256 units 1.11x and 1.41x, whose
    best rounds were 1.09x and 0.97x), so TensorFlow keeps the loop it had.
    """
    return keras.config.backend() == "jax"


def grouped_recurrence(
    features, input_kernels, blocks, states, mask=None, *, activation, recurrent_activation,
    go_backwards=False, unroll=False, zero_output_for_mask=False, return_sequences=False,
    input_length=None,
):
    """The LSTM recurrence of G groups at once, group-major; the loop `grouped_lstm` runs
    (and `limconn.fused` for the designs of a group).

    Args:
        features: each group's input features at each step, `(G, timesteps, batch, F)`.
        input_kernels: `(kernels, biases)`, each group's input weights `(G, F, 4 size)` and
            bias `(G, 1, 4 size)`; applied where `projects_in_step` says.
        blocks: each group's recurrent weights, `(G, size, 4 size)`.
        states: `[h, c]`, each `(G, batch, size)`.
        mask: a `(batch, timesteps)` time-step mask or `None`: a masked step keeps the
            states and repeats the previous output (0 with `zero_output_for_mask`), as
            Keras's loop does.
        activation, recurrent_activation, go_backwards, unroll, return_sequences: as
            Keras's `LSTM`.
        input_length: the number of steps, where the shapes do not say it (for `unroll`).

    Returns:
        `(last_output, outputs, [h, c])`: `(G, batch, size)`, `(G, timesteps, batch, size)`
        (the last step only unless `return_sequences`) and the final states.
    """
    in_step = projects_in_step()
    kernels, biases = input_kernels
    inputs = features
    if not in_step:  # every step's projection at once: (G, timesteps, batch, 4 size)
        shape = ops.shape(features)
        flat = ops.reshape(features, (shape[0], -1, shape[-1]))
        inputs = ops.reshape(ops.matmul(flat, kernels) + biases, (*shape[:-1], -1))
    width = ops.shape(inputs)[-1]
    states = list(states)
    if mask is not None:  # one more channel, 1 where the step counts; the previous output
        keep = ops.cast(ops.transpose(mask), inputs.dtype)[None, :, :, None]
        inputs = ops.concatenate(
            [inputs, ops.broadcast_to(keep, (ops.shape(inputs)[0], *ops.shape(keep)[1:]))],
            axis=-1)
        states.append(ops.zeros_like(states[0]))

    def cell(projected, h_tm1, c_tm1, blocks, *input_kernels):
        # The weights are arguments, not closures: `keras.remat` on TensorFlow
        # (`tf.recompute_grad`) differentiates only with respect to its arguments.
        if input_kernels:
            kernels, biases = input_kernels
            projected = ops.matmul(projected, kernels) + biases
        z = projected + ops.matmul(h_tm1, blocks)
        z_i, z_f, z_c, z_o = ops.split(z, NUM_GATES, axis=-1)
        c = recurrent_activation(z_f) * c_tm1 + recurrent_activation(z_i) * activation(z_c)
        return recurrent_activation(z_o) * activation(c), c

    weights = (blocks, kernels, biases) if in_step else (blocks,)
    if in_step:
        cell = keras.remat(cell)

    def step(inputs_t, states_t):
        h_tm1, c_tm1 = states_t[:2]
        h, c = cell(inputs_t[..., :width], h_tm1, c_tm1, *weights)
        if mask is None:
            return h, [h, c]
        keep = inputs_t[..., width:] > 0
        output = ops.where(keep, h, ops.zeros_like(h) if zero_output_for_mask else states_t[2])
        return output, [ops.where(keep, h, h_tm1), ops.where(keep, c, c_tm1), output]

    last_output, outputs, states = keras.src.backend.rnn(
        step, inputs, states, go_backwards=go_backwards, unroll=unroll,
        input_length=input_length, return_all_outputs=return_sequences,
    )
    return last_output, outputs, states[:2]
