"""The designs of a group as the groups of one grouped LSTM: one recurrence for K designs.

`limconn.training.train_group` trains K designs with one seed as one model. Run as K
separate LSTMs, each step is K small loops one after the other; laid out as the K groups of
one grouped layer (`limconn.grouped.grouped_recurrence`), each step is one batched product
for all of them. `FusedBranches` does that while keeping the K branch models as they are:
it reads each branch's own variables and applies each branch's own layers before and after
its LSTM (a `random_dynamic` branch's dropout too) to its own slice, so saving,
early-stopping restores, checkpoints and each run's model are those of a branch alone.

Designs of different unit counts are padded to the largest: a padded unit has zero weights
in and out and zero bias, so its state stays exactly 0 and it influences nothing (as in
`limconn.grouped`). Only branches whose LSTM is a plain `MaskedLSTM` in a chain of layers
fuse (strategies `kernel` and `random_dynamic`); `fused_group` says `None` otherwise.

Example:

>>> from limconn import presets
>>> from limconn.strategies import Head, build_model
>>> head = Head("regression", 1)
>>> a, b = (build_model("kernel", presets.dense(2, n), (5, 2), head) for n in (3, 4))
>>> group = fused_group({"a": a, "b": b}, (5, 2))
>>> sorted(group(keras.ops.zeros((1, 5, 2))))
['a', 'b']
"""

from __future__ import annotations

from limconn._tf import keras
from limconn.connectivity import NUM_GATES
from limconn.grouped import grouped_recurrence
from limconn.layers import FixedMask, MaskedLSTM

ops = keras.ops

_DEFAULT_LSTM = {"dropout": 0.0, "recurrent_dropout": 0.0, "go_backwards": False,
                 "stateful": False, "unroll": False, "use_bias": True,
                 "activation": "tanh", "recurrent_activation": "sigmoid"}
"""The `MaskedLSTM` settings the fused loop reproduces; a branch with others does not fuse."""


def fused_group(branches: dict[str, keras.Model], input_shape) -> keras.Model | None:
    """One model that runs the branches' LSTMs as the groups of one grouped LSTM, or `None`
    when they cannot fuse (fewer than 2 branches, or a branch `FusedBranches` cannot run).

    Its outputs are a dict keyed by the branches' names, as `join_branches`'s.

    Args:
        branches: name -> model, as `build_model` builds them for `kernel` or
            `random_dynamic`; the models take `input_shape`.
        input_shape: `(timesteps, features)`.
    """
    if len(branches) < 2 or not all(_chain(model) for model in branches.values()):
        return None
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, FusedBranches(branches, name="branches")(inputs))


def _chain(model: keras.Model) -> tuple[list, MaskedLSTM, list] | None:
    """A branch's layers before its `MaskedLSTM`, the LSTM, and the layers after it, when
    the model is what `kernel` or `random_dynamic` builds (optional `Dropout`, one
    `MaskedLSTM` with the settings the fused loop reproduces, `FixedMask`, `Dense`); else
    `None`."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    lstms = [index for index, layer in enumerate(layers) if type(layer) is MaskedLSTM]
    if len(lstms) != 1:
        return None
    before, lstm, after = layers[: lstms[0]], layers[lstms[0]], layers[lstms[0] + 1:]
    if not (all(type(layer) is keras.layers.Dropout for layer in before)
            and [type(layer) for layer in after] == [FixedMask, keras.layers.Dense]):
        return None
    settings = {key: getattr(lstm, key) for key in _DEFAULT_LSTM}
    for key in ("activation", "recurrent_activation"):
        settings[key] = keras.activations.serialize(getattr(lstm.cell, key))
    return (before, lstm, after) if settings == _DEFAULT_LSTM else None


class FusedBranches(keras.layers.Layer):
    """Runs K branch models, each `(pre-layers, MaskedLSTM, post-layers)`, with their K
    LSTMs as the K groups of one grouped recurrence.

    Each branch's effective kernels (mask and signs applied: `kernel_rule`,
    `recurrent_rule`) are padded to the largest branch's units and stacked into blocks;
    each branch's pre-layers read the inputs, and its post-layers (output mask, readout)
    read its own units of the result. The weights are the branches' own variables, so a
    branch's output and gradients depend on its weights alone, and it computes what it
    computes alone, to float rounding. Not saved: it exists for training; each branch is
    saved as its own model.

    On JAX each step projects its own inputs and the backward pass recomputes the gates
    (`limconn.grouped.projects_in_step`): with a sweep's few inputs, writing a
    `(K, timesteps, batch, 4 size)` projection and every step's gates, and reading them
    back, cost more on CPU than the small products (`python -m benchmarks.sweep_throughput`:
    32 designs 5.5x -> 3.9x a lone run, medians).

    Args:
        branches: name -> model; every one a chain around one `MaskedLSTM` (see
            `fused_group`).

    Raises:
        ValueError: if a branch is not such a chain, naming it.
    """

    def __init__(self, branches: dict[str, keras.Model], **kwargs):
        super().__init__(**kwargs)
        self.names = list(branches)
        self.branches = list(branches.values())
        chains = [_chain(model) for model in self.branches]
        for name, chain in zip(self.names, chains, strict=True):
            if chain is None:
                raise ValueError(f"Branch {name!r} is not a chain of layers around one "
                                 "MaskedLSTM with Keras's default settings; it cannot fuse.")
        self.chains = chains
        self.size = max(lstm.units for _, lstm, _ in chains)
        return_sequences = {lstm.return_sequences for _, lstm, _ in chains}
        if len(return_sequences) != 1:
            raise ValueError("Fused branches must all read the last step or all every step. "
                             f"Received: return_sequences {sorted(return_sequences)}")
        [self.return_sequences] = return_sequences

    def _padded(self, weights, rows: int, units: int, pad_rows: bool = False):
        """`(rows, 4 * units)` -> `(rows, 4 * size)`: each gate's columns padded with zeros
        to `size`; with `pad_rows`, the rows too (a recurrent kernel: `(size, 4 * size)`)."""
        weights = ops.reshape(weights, (rows, NUM_GATES, units))
        extra = self.size - units
        row_pad = extra if pad_rows else 0
        weights = ops.pad(weights, [(0, row_pad), (0, 0), (0, extra)])
        return ops.reshape(weights, (rows + row_pad, NUM_GATES * self.size))

    def call(self, inputs, training=None):
        sequences, kernels, recurrent, biases = [], [], [], []
        for before, lstm, _ in self.chains:
            x = inputs
            for layer in before:
                x = layer(x, training=training)
            sequences.append(x)
            cell, units = lstm.cell, lstm.units
            kernels.append(self._padded(lstm.kernel_rule(cell.kernel), x.shape[-1], units))
            recurrent.append(self._padded(lstm.recurrent_rule(cell.recurrent_kernel), units,
                                          units, pad_rows=True))
            biases.append(self._padded(ops.reshape(cell.bias, (1, -1)), 1, units))
        # (K, timesteps, batch, features): `grouped_recurrence` projects them.
        x = ops.transpose(ops.stack(sequences), (0, 2, 1, 3))
        zeros = ops.zeros((len(self.branches), ops.shape(inputs)[0], self.size), x.dtype)
        cell = self.chains[0][1].cell
        last_output, outputs, _ = grouped_recurrence(
            x, (ops.stack(kernels), ops.stack(biases)), ops.stack(recurrent), [zeros, zeros],
            activation=cell.activation, recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences, input_length=inputs.shape[1],
        )
        results = {}
        for index, (name, (_, lstm, after)) in enumerate(zip(self.names, self.chains,
                                                             strict=True)):
            if self.return_sequences:  # (K, timesteps, batch, size) -> (batch, ...)
                hidden = ops.transpose(outputs[index], (1, 0, 2))[..., : lstm.units]
            else:
                hidden = last_output[index, :, : lstm.units]
            for layer in after:
                hidden = layer(hidden, training=training)
            results[name] = hidden
        return results

    def compute_output_spec(self, inputs, training=None):
        return {name: model.compute_output_spec(inputs)
                for name, model in zip(self.names, self.branches, strict=True)}

