"""Export a trained run to PyTorch: an `nn.LSTM` + `nn.Linear` state dict as `.safetensors`.

Every limconn model is a chain: optional input layers, one LSTM, the output mask, a `Dense`
readout. All but one strategy fold exactly into PyTorch's standard modules, so a run can be
used where PyTorch is, without limconn, Keras or a custom cell; writing the file needs only
NumPy and the `safetensors` package, not torch.

What the file holds (`torch_state_dict`), for `D` input features, `U` units, `outputs`:

* `lstm.weight_ih_l0` `(4U, D)`, `lstm.weight_hh_l0` `(4U, U)`, `lstm.bias_ih_l0` `(4U,)`,
  `lstm.bias_hh_l0` `(4U,)`: `nn.LSTM(input_size=D, hidden_size=U, batch_first=True)`.
  Rows `g*U:(g+1)*U` belong to gate `g`; PyTorch's order i, f, g, o is Keras's i, f, c, o, so
  the blocks keep their order and each Keras kernel is transposed. Keras has one bias: it is
  `bias_ih_l0`, and `bias_hh_l0` is zeros (PyTorch adds the two).
* `readout.weight` `(outputs, U)`, `readout.bias` `(outputs,)`: `nn.Linear(U, outputs)` on the
  last step's hidden state, with the output mask folded in. A classification readout gives
  logits: softmax over the last axis follows, as in the Keras model.
* `mask.input` `(4U, D)`, `mask.recurrent` `(4U, U)`, `mask.readout` `(outputs, U)`, bool, in
  the layout of the weight each one masks (`lstm.weight_ih_l0 * mask.input` works in torch;
  per gate when the design is). True where the strategy lets a weight be non-zero; the
  weights are already exactly 0 where a mask is False. They are not module parameters: leave
  the `mask.` keys out before `load_state_dict`.

How each strategy folds: `kernel`, `custom_cell` and `random_dynamic` (its `Dropout` is the
identity at inference) map directly; `input_features` zeroes the columns of `weight_ih_l0` of
the features it switches off; `output` zeroes the readout's columns; `sparse_projection`'s
map `P` `(D, U)` followed by the LSTM's kernel `K` `(U, 4U)` is one input kernel `P @ K`
(equal up to float rounding). `timestep` is refused: its `Masking` skips time steps, which
`nn.LSTM` cannot do from the weights alone.

The header's metadata says all this in string values: `format`, `strategy`, `kind`
(regression or classification), `input_size`, `hidden_size`, `outputs`,
`readout_activation`, and notes on the modules, gate order, bias and masks.

Example:

>>> from limconn import runs
>>> run = runs.read_run_folder("runs/first")  # doctest: +SKIP
>>> write_torch_safetensors(run, "model.safetensors")  # doctest: +SKIP

and, in PyTorch:

```
from safetensors.torch import load_file
tensors = load_file("model.safetensors")
lstm = torch.nn.LSTM(D, U, batch_first=True)
readout = torch.nn.Linear(U, outputs)
lstm.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("lstm.")})
readout.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("readout.")})
prediction = readout(lstm(x)[0][:, -1])     # then softmax for a classification run
```
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import safetensors.numpy

import limconn
from limconn._tf import keras
from limconn.connectivity import NUM_GATES
from limconn.enforcement import trained_weights
from limconn.layers import FixedMask, MaskedLSTM, MaskedLSTMCell
from limconn.runs import Run

"""The formats `python -m limconn export --format` writes."""

FORMAT_TAG = "limconn.torch_lstm.v1"
"""The `format` value in the header's metadata, for readers that check what they load."""

READOUT_ACTIVATIONS = ("linear", "softmax")


def torch_state_dict(run: Run) -> dict[str, np.ndarray]:
    """The run's model as a PyTorch state dict of NumPy arrays; see the module docstring.

    The LSTM's weights are the effective ones (what the step uses), multiplied by the
    layer's own masks, with the layers around the LSTM folded in.

    Args:
        run: a run read back with `limconn.runs.read_run_folder` or `RunStore.load`.

    Returns:
        `lstm.*` and `readout.*` float32 arrays, `mask.*` bool arrays, keyed as above.

    Raises:
        ValueError: if the model has no `nn.LSTM` equivalent (the `timestep` strategy, or a
            layer structure limconn did not build); the message names the layer.
    """
    return _fold(run.load_model())[0]


def torch_safetensors_bytes(run: Run) -> bytes:
    """The `.safetensors` file of `torch_state_dict(run)`, header metadata included.

    For a download button (the app's Compare page); `write_torch_safetensors` writes a file.

    Raises:
        ValueError: as `torch_state_dict`.
    """
    state, readout_activation = _fold(run.load_model())
    return safetensors.numpy.save(state, metadata=_metadata(run, state, readout_activation))


def write_torch_safetensors(run: Run, path: str | os.PathLike) -> Path:
    """Writes `torch_state_dict(run)` and its header metadata to a `.safetensors` file.

    Args:
        run: as `torch_state_dict`.
        path: the file to write (replaced if it exists).

    Returns:
        The path written.

    Raises:
        ValueError: as `torch_state_dict`.
        OSError: if the file cannot be written.
    """
    path = Path(path)
    state, readout_activation = _fold(run.load_model())
    safetensors.numpy.save_file(
        state, path, metadata=_metadata(run, state, readout_activation)
    )
    return path


def _metadata(run: Run, state: dict[str, np.ndarray], readout_activation: str) -> dict[str, str]:
    """The header's metadata: string values only, as the safetensors format allows.

    What the file is, the run it came from, the sizes, the modules, the gate order, the bias
    split, the masks' layout and what follows the readout.
    """
    units, inputs = state["lstm.weight_hh_l0"].shape[1], state["lstm.weight_ih_l0"].shape[1]
    outputs = state["readout.weight"].shape[0]
    after = (
        "softmax over the last axis follows (readout gives logits)"
        if readout_activation == "softmax"
        else "nothing follows (readout gives the predictions)"
    )
    return {
        "format": FORMAT_TAG,
        "limconn_version": limconn.__version__,
        "run_id": run.info.id,
        "run_name": run.info.name,
        "strategy": run.info.strategy,
        "kind": str(run.record.get("dataset", {}).get("kind", "")),
        "input_size": str(inputs),
        "hidden_size": str(units),
        "outputs": str(outputs),
        "readout_activation": readout_activation,
        "modules": f"lstm = nn.LSTM(input_size={inputs}, hidden_size={units}, "
        f"batch_first=True); readout = nn.Linear({units}, {outputs}) on lstm's last step; "
        f"{after}",
        "gate_order": "i, f, g, o (PyTorch) = i, f, c, o (Keras): rows g*hidden_size to "
        "(g+1)*hidden_size of lstm.weight_ih_l0, lstm.weight_hh_l0 and both biases are gate g",
        "bias": "Keras's single LSTM bias is lstm.bias_ih_l0; lstm.bias_hh_l0 is zeros",
        "masks": "mask.input (4*hidden_size, input_size), mask.recurrent "
        "(4*hidden_size, hidden_size) and mask.readout (outputs, hidden_size) are bool, in the "
        "layout of lstm.weight_ih_l0, lstm.weight_hh_l0 and readout.weight (per gate when the "
        "design is); the weights are already 0 where a mask is False; they are not module "
        "parameters: drop the mask.* keys before load_state_dict",
    }


def _fold(model: keras.Model) -> tuple[dict[str, np.ndarray], str]:
    """Folds the model's chain of layers into `lstm.*`, `readout.*` and `mask.*` arrays.

    Returns:
        The state dict and the readout's activation (`"linear"` or `"softmax"`).
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers:
        if isinstance(layer, keras.layers.Masking):
            raise ValueError(
                f"Cannot export to torch.nn.LSTM: layer {layer.name!r} (Masking, as in strategy "
                "timestep) skips every time step whose features all equal its mask_value, "
                "which nn.LSTM's weights cannot express (PyTorch needs each sequence's length "
                "in a PackedSequence)."
            )
    _check_chain(model, layers)
    lstm_at = [i for i, layer in enumerate(layers) if layer.name == "lstm"]
    if len(lstm_at) != 1 or not isinstance(layers[-1], keras.layers.Dense):
        raise ValueError(
            "Cannot export to torch.nn.LSTM: expected one layer named 'lstm' and a Dense "
            f"readout last. Received: {_describe(layers)}"
        )
    lstm = layers[lstm_at[0]]
    _check_lstm(lstm)
    projection, reached = _input_map(layers[: lstm_at[0]], model.inputs[0].shape[-1])
    weight_ih, weight_hh, bias, mask_input, mask_recurrent = _lstm_tensors(
        model, lstm, projection, reached
    )
    readout, readout_bias, mask_readout = _readout(layers[lstm_at[0] + 1 :])
    state = {
        "lstm.weight_ih_l0": weight_ih,
        "lstm.weight_hh_l0": weight_hh,
        "lstm.bias_ih_l0": bias,
        "lstm.bias_hh_l0": np.zeros_like(bias),
        "readout.weight": readout,
        "readout.bias": readout_bias,
        "mask.input": mask_input,
        "mask.recurrent": mask_recurrent,
        "mask.readout": mask_readout,
    }
    return state, _readout_activation(layers[-1])


def _check_chain(model: keras.Model, layers: list) -> None:
    """Refuses a model that is not one input through each layer in turn to one output."""
    chained = (
        len(model.inputs) == 1
        and len(model.outputs) == 1
        and bool(layers)
        and layers[0].input is model.inputs[0]
        and all(later.input is earlier.output for earlier, later in itertools.pairwise(layers))
        and model.outputs[0] is layers[-1].output
    )
    if not chained:
        raise ValueError(
            "Cannot export to torch.nn.LSTM: the model is not a single chain of layers from "
            f"one input to one output. Received: {_describe(layers)}"
        )


def _check_lstm(layer) -> None:
    """Refuses an LSTM whose forward pass differs from `nn.LSTM`'s."""
    cell = getattr(layer, "cell", None)
    if not isinstance(layer, keras.layers.RNN) or not isinstance(cell, keras.layers.LSTMCell):
        raise ValueError(
            "Cannot export to torch.nn.LSTM: layer 'lstm' must be a Keras LSTM (or an RNN of "
            f"an LSTMCell). Received: {type(layer).__name__} of {type(cell).__name__}"
        )
    settings = {
        "activation": keras.activations.serialize(cell.activation),
        "recurrent_activation": keras.activations.serialize(cell.recurrent_activation),
        "go_backwards": layer.go_backwards,
        "return_sequences": layer.return_sequences,
        "stateful": layer.stateful,
    }
    expected = {
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "go_backwards": False,
        "return_sequences": False,
        "stateful": False,
    }
    if settings != expected:
        raise ValueError(
            f"Cannot export to torch.nn.LSTM: layer 'lstm' must have {expected}. "
            f"Received: {settings}"
        )


def _input_map(layers: list, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The linear map the layers before the LSTM apply to each step, and where it can reach.

    Returns:
        `projection` `(input_dim, lstm_inputs)` float64, and `reached`, bool, of the same
        shape: True where the layers' masks let input `i` reach the LSTM's input `j`.
    """
    projection = np.eye(input_dim)
    reached = np.eye(input_dim, dtype=bool)
    for layer in layers:
        if isinstance(layer, keras.layers.Dropout):
            continue  # the identity at inference, whatever its rate
        if isinstance(layer, FixedMask):
            projection = projection * layer.mask
            reached = reached & layer.mask
        elif _is_linear_map(layer):
            mask = getattr(layer, "kernel_mask", np.ones(layer.kernel.shape, bool))
            projection = projection @ (keras.ops.convert_to_numpy(layer.kernel) * mask)
            reached = _reaches(reached, mask)
        else:
            raise ValueError(
                f"Cannot export to torch.nn.LSTM: layer {layer.name!r} "
                f"({type(layer).__name__}) before the LSTM has no nn.LSTM equivalent; "
                "exportable are Dropout, FixedMask and a Dense without bias or activation."
            )
    return projection, reached


def _is_linear_map(layer) -> bool:
    return (
        isinstance(layer, keras.layers.Dense)
        and not layer.use_bias
        and keras.activations.serialize(layer.activation) == "linear"
    )


def _lstm_tensors(model, lstm, projection: np.ndarray, reached: np.ndarray) -> tuple:
    """`weight_ih` `(4U, D)`, `weight_hh` `(4U, U)`, `bias` `(4U,)` and the two masks.

    The per-gate weights `(4, rows, U)` are multiplied by the layer's masks explicitly (so
    the export is right whether or not the variables hold the masked values), the input map
    is folded into the input kernel, and each gate's `(rows, U)` block becomes PyTorch's
    `(U, rows)` rows of that gate.
    """
    per_gate = trained_weights(model)
    units = lstm.cell.units
    input_mask, recurrent_mask = _lstm_masks(lstm)
    lstm_inputs = per_gate["kernel"].shape[1]
    input_mask = np.broadcast_to(
        np.ones((lstm_inputs, units), bool) if input_mask is None else input_mask,
        (NUM_GATES, lstm_inputs, units),
    )
    recurrent_mask = np.broadcast_to(
        np.ones((units, units), bool) if recurrent_mask is None else recurrent_mask,
        (NUM_GATES, units, units),
    )
    kernel = projection @ (per_gate["kernel"].astype(np.float64) * input_mask)
    mask_input = _reaches(reached, input_mask)
    recurrent_kernel = per_gate["recurrent_kernel"] * recurrent_mask
    bias = per_gate.get("bias", np.zeros((NUM_GATES, units), np.float32))
    return (
        _torch_layout(kernel * mask_input).astype(np.float32),
        _torch_layout(recurrent_kernel).astype(np.float32),
        bias.reshape(-1).astype(np.float32),
        _torch_layout(mask_input),
        _torch_layout(recurrent_mask),
    )


def _lstm_masks(lstm) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The input and recurrent masks a limconn LSTM holds, 2-D or per gate; `None` if dense."""
    if isinstance(lstm, MaskedLSTM):
        return lstm.input_mask, lstm.recurrent_mask
    if isinstance(lstm.cell, MaskedLSTMCell):
        return lstm.cell.input_mask, lstm.cell.recurrent_mask
    return None, None


def _reaches(reached: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Where a chain of masks connects: `reached` `(a, b)` then `mask` `(..., b, c)`."""
    return (reached.astype(np.int64) @ mask.astype(np.int64)) > 0


def _torch_layout(per_gate: np.ndarray) -> np.ndarray:
    """Keras's per-gate `(4, rows, U)` as PyTorch's `(4U, rows)`: gate blocks of rows."""
    gates, rows, units = per_gate.shape
    return np.ascontiguousarray(per_gate.transpose(0, 2, 1).reshape(gates * units, rows))


def _readout(layers: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`readout.weight` `(outputs, U)` with the output masks folded in, its bias and mask."""
    *between, dense = layers
    kept = np.ones(dense.kernel.shape[0], bool)
    for layer in between:
        if isinstance(layer, FixedMask):
            kept = kept & layer.mask
        elif not isinstance(layer, keras.layers.Dropout):
            raise ValueError(
                f"Cannot export to torch.nn.Linear: layer {layer.name!r} "
                f"({type(layer).__name__}) between the LSTM and the readout has no "
                "equivalent; exportable are FixedMask and Dropout."
            )
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    outputs = kernel.shape[1]
    mask = np.broadcast_to(kept, (outputs, kept.shape[0])).copy()
    bias = (
        keras.ops.convert_to_numpy(dense.bias) if dense.use_bias else np.zeros(outputs)
    )
    return (
        np.ascontiguousarray((kernel * kept[:, None]).T).astype(np.float32),
        bias.astype(np.float32),
        mask,
    )


def _readout_activation(dense) -> str:
    activation = keras.activations.serialize(dense.activation)
    if activation not in READOUT_ACTIVATIONS:
        raise ValueError(
            f"Cannot export the readout: its activation must be one of {READOUT_ACTIVATIONS}. "
            f"Received: activation={activation!r}"
        )
    return activation


def _describe(layers: list) -> str:
    return ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in layers) or "no layers"
