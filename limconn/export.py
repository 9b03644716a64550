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

How each strategy folds, by what it states it enforces (`limconn.enforcement`): `kernel`,
`custom_cell` and `random_dynamic` (its `Dropout` is the identity at inference) map directly;
`input_features` zeroes the columns of `weight_ih_l0` of the features it switches off;
`output` zeroes the readout's columns; `sparse_projection`'s map `P` `(D, U)` followed by the
LSTM's kernel `K` `(U, 4U)` is one input kernel `P @ K` (equal up to float rounding).
`timestep` is refused: its `Masking` skips time steps, which `nn.LSTM` cannot do from the
weights alone.

The file is built from the run folder alone, with NumPy: the weights the model computes with
(`weights.npz`), the design (`masks.npz`) and the strategy's statement of what it enforces.
Exporting never loads Keras or TensorFlow, so the app's server process builds downloads
itself, and the CLI's `export --format torch` takes the same path.

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

import os
from pathlib import Path

import numpy as np
import safetensors.numpy

import limconn
from limconn.connectivity import NUM_GATES
from limconn.enforcement import trained_connectivity
from limconn.runs import WEIGHTS_FILE, Run
from limconn.strategies import enforcement_of

FORMAT_TAG = "limconn.torch_lstm.v1"
"""The `format` value in the header's metadata, for readers that check what they load."""


def torch_state_dict(run: Run) -> dict[str, np.ndarray]:
    """The run's model as a PyTorch state dict of NumPy arrays; see the module docstring.

    The LSTM's weights are the effective ones the run stored (what the step uses),
    multiplied by the masks its strategy enforces, with the layers around the LSTM folded in.

    Args:
        run: a run read back with `limconn.runs.read_run_folder` or `RunStore.load`.

    Returns:
        `lstm.*` and `readout.*` float32 arrays, `mask.*` bool arrays, keyed as above.

    Raises:
        ValueError: if the strategy has no `nn.LSTM` equivalent (`timestep`), or the stored
            weights do not fit the run's design; the message names the strategy or array.
    """
    if enforcement_of(run.info.strategy).skips_steps:
        raise ValueError(
            f"Cannot export to torch.nn.LSTM: strategy {run.info.strategy!r} skips time steps "
            "(a Masking layer skips every step whose features all equal its mask_value), "
            "which nn.LSTM's weights cannot express (PyTorch needs each sequence's length in "
            "a PackedSequence)."
        )
    return folded_state_dict(run.info.strategy, run.connectivity, run.weights,
                             f"export run {run.info.id!r}")


def folded_state_dict(strategy: str, design, weights: dict[str, np.ndarray],
                      action: str = "use the run") -> dict[str, np.ndarray]:
    """`torch_state_dict` of any strategy's weights: the layers around the LSTM folded in.

    The one fold that `torch_state_dict` and `limconn.analysis` share. A `timestep` run
    folds too (it has no input layer), but its step skipping is not in any weight: the
    caller must skip the steps itself.

    Args:
        strategy: the run's strategy.
        design: the run's `Connectivity`.
        weights: as `weights.npz` holds them (`limconn.enforcement.trained_weights`).
        action: what is being done, for error messages (`"Cannot {action}: ..."`).

    Raises:
        ValueError: if the weights do not fit the design, naming the array.
    """
    enforcement = enforcement_of(strategy)
    trained = trained_connectivity(enforcement, design)
    units, inputs = design.units, design.input_dim
    projected = enforcement.input == "projection"
    weights = _stored_weights(weights, design, strategy, projected, action)
    input_mask = np.broadcast_to(trained.input_mask, (NUM_GATES, inputs, units))
    recurrent_mask = np.broadcast_to(trained.recurrent_mask, (NUM_GATES, units, units))
    kernel = weights["kernel"].astype(np.float64)
    if projected:
        kernel = weights["projection_kernel"].astype(np.float64) @ kernel
    kept = trained.output_mask
    outputs = weights["readout_bias"].shape[0]
    bias = weights["bias"].reshape(-1)
    return {
        "lstm.weight_ih_l0": _torch_layout(kernel * input_mask).astype(np.float32),
        "lstm.weight_hh_l0": _torch_layout(weights["recurrent_kernel"] * recurrent_mask),
        "lstm.bias_ih_l0": bias,
        "lstm.bias_hh_l0": np.zeros_like(bias),
        "readout.weight": np.ascontiguousarray((weights["readout_kernel"] * kept[:, None]).T),
        "readout.bias": weights["readout_bias"],
        "mask.input": _torch_layout(input_mask),
        "mask.recurrent": _torch_layout(recurrent_mask),
        "mask.readout": np.broadcast_to(kept, (outputs, units)).copy(),
    }


def torch_safetensors_bytes(run: Run) -> bytes:
    """The `.safetensors` file of `torch_state_dict(run)`, header metadata included.

    For a download button (the app's Compare page) and for `write_torch_safetensors`.

    Raises:
        ValueError: as `torch_state_dict`.
    """
    state = torch_state_dict(run)
    return safetensors.numpy.save(state, metadata=_metadata(run, state))


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
    path.write_bytes(torch_safetensors_bytes(run))
    return path


def _stored_weights(weights: dict[str, np.ndarray], design, strategy: str, projected: bool,
                    action: str) -> dict[str, np.ndarray]:
    """The arrays of a run's `weights.npz` the export reads, as float32, checked against
    the design (with `projected`, the LSTM reads the projection's `units` channels).

    Raises:
        ValueError: naming an array that is missing or whose shape does not fit.
    """
    units, inputs = design.units, design.input_dim
    outputs = weights["readout_bias"].shape[:1] if "readout_bias" in weights else (None,)
    expected = {
        "kernel": (NUM_GATES, units if projected else inputs, units),
        "recurrent_kernel": (NUM_GATES, units, units),
        "bias": (NUM_GATES, units),
        "readout_bias": outputs,
        "readout_kernel": (units, *outputs),
    }
    if projected:
        expected["projection_kernel"] = (inputs, units)
    for name, shape in expected.items():
        found = weights[name].shape if name in weights else None
        if found != shape:
            raise ValueError(
                f"Cannot {action}: its {WEIGHTS_FILE} must hold {name} of "
                f"shape {shape} for a {strategy} design of {inputs} inputs and "
                f"{units} units. Received: {'no ' + name if found is None else found}"
            )
    return {name: np.asarray(weights[name], np.float32) for name in expected}


def _torch_layout(per_gate: np.ndarray) -> np.ndarray:
    """Keras's per-gate `(4, rows, U)` as PyTorch's `(4U, rows)`: gate blocks of rows."""
    gates, rows, units = per_gate.shape
    return np.ascontiguousarray(per_gate.transpose(0, 2, 1).reshape(gates * units, rows))


def _metadata(run: Run, state: dict[str, np.ndarray]) -> dict[str, str]:
    """The header's metadata: string values only, as the safetensors format allows.

    What the file is, the run it came from, the sizes, the modules, the gate order, the bias
    split, the masks' layout and what follows the readout (softmax for a classification run).
    """
    units, inputs = state["lstm.weight_hh_l0"].shape[1], state["lstm.weight_ih_l0"].shape[1]
    outputs = state["readout.weight"].shape[0]
    kind = str(run.record.get("dataset", {}).get("kind", ""))
    readout_activation = "softmax" if kind == "classification" else "linear"
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
        "kind": kind,
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
