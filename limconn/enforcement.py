"""What each strategy enforces, as data, and what a trained model holds, read back.

A strategy states which of a design's masks it honours, at which granularity and on which
weights (`Enforcement`); every view reads that statement: the Design and Compare pages'
numbers, Compare's heatmaps, `run.json`, the CLI and the tests. A view never blanks or counts
as "masked" a weight that the strategy leaves dense.

`trained_connectivity(enforcement, design)` is the connectivity a model trained with that
strategy really has: which inputs can act on which units' gates, which units on which, which
units the readout reads. Its `stats()` are the densities and effective parameters Compare
shows for a run (`trained_summary`).

`trained_weights(model)` and `max_masked_weight(model)` read a built model back; they import
Keras when called, the declarations themselves do not.

Example:

>>> from limconn import presets
>>> from limconn.strategies import enforcement_of
>>> design = presets.random(2, 8, density=0.5, seed=0)
>>> enforcement_of("output").honours("input_mask")
False
>>> trained_summary(enforcement_of("output"), design)["input_density"]
1.0
"""

from __future__ import annotations

import dataclasses

import numpy as np

from limconn.connectivity import NUM_GATES, Connectivity, any_gate

INPUT_MODES = {
    "connections": "per input→unit connection and gate: masked weights of the LSTM's kernel "
                   "are 0",
    "features": "per feature: a feature whose row has any connection reaches every unit, "
                "one whose row is empty reaches none",
    "projection": "per input→channel connection of a sparse projection before a dense LSTM",
    "none": "not used: every input reaches every unit",
}
RECURRENT_MODES = {
    "connections": "per unit→unit connection and gate: masked weights of the LSTM's recurrent "
                   "kernel are 0",
    "none": "not used: every unit feeds every unit",
}


@dataclasses.dataclass(frozen=True)
class Enforcement:
    """Which of a design's masks a strategy honours, how, and what it leaves dense.

    Args:
        input: how the input mask acts, one of `INPUT_MODES`.
        recurrent: how the recurrent mask acts, one of `RECURRENT_MODES`.
        signs: whether the design's signs (Dale's law) are enforced.
        skips_steps: whether the model skips time steps (then no `torch.nn.LSTM` computes
            what it computes, so it has no PyTorch export).
        note: anything else a reader must know (what is random, what is not connectivity).

    Every strategy honours the output mask the same way: the readout reads only the units it
    keeps. Units outside it still compute and, through recurrent connections, still act on
    the units the readout reads.

    Raises:
        ValueError: for an unknown mode, naming it.
    """

    input: str
    recurrent: str
    signs: bool
    skips_steps: bool = False
    note: str = ""

    def __post_init__(self):
        if self.input not in INPUT_MODES:
            raise ValueError(f"input must be one of {list(INPUT_MODES)}. Received: {self.input!r}")
        if self.recurrent not in RECURRENT_MODES:
            raise ValueError(
                f"recurrent must be one of {list(RECURRENT_MODES)}. Received: {self.recurrent!r}"
            )

    def honours(self, mask: str) -> bool:
        """Whether a 0 in `mask` ("input_mask", "recurrent_mask", "output_mask") is enforced."""
        return {
            "input_mask": self.input != "none",
            "recurrent_mask": self.recurrent != "none",
            "output_mask": True,
        }[mask]

    @property
    def masked_weights(self) -> tuple[str, ...]:
        """The weights held to a mask, as `layer.weight` names of the strategy's model."""
        masked = []
        if self.input == "connections":
            masked.append("lstm.kernel")
        if self.input == "projection":
            masked.append("projection.kernel")
        if self.recurrent == "connections":
            masked.append("lstm.recurrent_kernel")
        return tuple(masked)

    @property
    def dense_weights(self) -> tuple[str, ...]:
        """The LSTM weights the strategy leaves dense (not limited by any mask)."""
        return tuple(
            name for name in ("lstm.kernel", "lstm.recurrent_kernel")
            if name not in self.masked_weights
        )

    def describe(self) -> list[str]:
        """One line per mask (and for signs), in plain words."""
        lines = [
            f"input mask: {INPUT_MODES[self.input]}",
            f"recurrent mask: {RECURRENT_MODES[self.recurrent]}",
            "output mask: the readout reads only the units it keeps; units outside it still "
            "act on the others through recurrent connections",
            "signs: " + ("enforced on every live weight (|w| × sign)" if self.signs
                         else "not enforced"),
        ]
        if self.dense_weights:
            lines.append(f"left dense: {', '.join(self.dense_weights)}")
        if self.note:
            lines.append(self.note)
        return lines

    def record(self) -> dict:
        """The statement as plain JSON values, for `run.json`."""
        return {
            "input": self.input,
            "recurrent": self.recurrent,
            "output": "readout",
            "signs": self.signs,
            "skips_steps": self.skips_steps,
            "masked_weights": list(self.masked_weights),
            "dense_weights": list(self.dense_weights),
            "note": self.note,
        }


def trained_connectivity(enforcement: Enforcement, design: Connectivity) -> Connectivity:
    """The connectivity a model built by the strategy from `design` really has.

    Input→unit (any path of one weight, through the projection for `projection`),
    unit→unit and unit→readout, with the design's signs only where they are enforced.
    """
    if enforcement.input == "connections":
        input_mask = design.input_mask
    elif enforcement.input == "none":
        input_mask = np.ones((design.input_dim, design.units), bool)
    else:
        kept = any_gate(design.input_mask).any(axis=1)
        input_mask = np.repeat(kept[:, None], design.units, axis=1)
    recurrent_mask = design.recurrent_mask if enforcement.recurrent == "connections" else None
    signs = {}
    if enforcement.signs:
        signs = {"input_sign": design.input_sign, "recurrent_sign": design.recurrent_sign}
    return Connectivity(
        input_mask, recurrent_mask, design.output_mask, metadata=design.metadata, **signs
    )


def trained_summary(enforcement: Enforcement, design: Connectivity) -> dict:
    """Densities and parameter counts of the trained model, for Compare and `run.json`.

    `effective_parameters` counts the weights of the recurrent part (LSTM, and the
    projection for `projection`) that are neither held at 0 by a mask nor multiplied by an
    input that is always 0 (a switched-off feature, a projection channel no input reaches),
    biases included; `dense_parameters` counts all of them. The readout is not counted, as
    on the Design page.
    """
    stats = trained_connectivity(enforcement, design).stats()
    effective, dense = stats.effective_parameters, stats.dense_parameters
    if enforcement.input == "projection":
        units = design.units
        projection = any_gate(design.input_mask)
        live_channels = int(projection.any(axis=0).sum())
        recurrent_and_bias = NUM_GATES * (units * units + units)
        effective = int(projection.sum()) + NUM_GATES * live_channels * units + recurrent_and_bias
        dense = projection.size + NUM_GATES * units * units + recurrent_and_bias
    return {
        "input_density": stats.input_density,
        "recurrent_density": stats.recurrent_density,
        "output_density": stats.output_density,
        "effective_parameters": int(effective),
        "dense_parameters": int(dense),
    }


def trained_weights(model) -> dict[str, np.ndarray]:
    """The weights a strategy's model computes with, as `weights.npz` stores them.

    Returns `kernel` `(4, input_dim_of_lstm, units)`, `recurrent_kernel` `(4, units, units)`
    and `bias` `(4, units)` of the `lstm` layer (effective: masked and signed where the layer
    masks), `projection_kernel` `(input_dim, units)` when the model has a projection,
    `readout_kernel` `(units, outputs)` and `readout_bias` `(outputs,)`. float32 throughout.
    """
    from limconn._tf import keras

    lstm = model.get_layer("lstm")
    cell = lstm.cell
    if hasattr(lstm, "effective_weights"):
        weights = lstm.effective_weights()
    elif hasattr(cell, "effective_weights"):
        weights = cell.effective_weights()
    else:
        weights = {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel}
        if cell.use_bias:
            weights["bias"] = cell.bias
        weights = {name: keras.ops.convert_to_numpy(value) for name, value in weights.items()}
    arrays = {
        name: weights[name].reshape(weights[name].shape[0], NUM_GATES, -1).transpose(1, 0, 2)
        for name in ("kernel", "recurrent_kernel")
    }
    if "bias" in weights:
        arrays["bias"] = weights["bias"].reshape(NUM_GATES, -1)
    layer_names = {layer.name for layer in model.layers}
    if "projection" in layer_names:
        arrays["projection_kernel"] = model.get_layer("projection").effective_weights()["kernel"]
    readout = model.get_layer("readout")
    arrays["readout_kernel"] = keras.ops.convert_to_numpy(readout.kernel)
    arrays["readout_bias"] = keras.ops.convert_to_numpy(readout.bias)
    return {name: np.asarray(value, dtype="float32") for name, value in arrays.items()}


def max_masked_weight(model) -> float | None:
    """The largest |stored value| of any weight at a position its mask switches off.

    The layers compute with `variable * mask`, so a masked position has no influence
    whatever it holds; this checks that the optimizer also left the stored value at the 0 it
    was given at build. Returns `None` if the model masks no weights. A correct run returns
    exactly 0.0.
    """
    found = []
    for layer in model.layers:
        for candidate in (layer, getattr(layer, "cell", None)):
            if hasattr(candidate, "masked_values"):
                found.append(candidate.masked_values())
    if not found:
        return None
    return float(np.abs(np.concatenate(found)).max(initial=0.0))


def zero_masked_weights(model) -> None:
    """Writes the effective weights into the variables of every masked layer: masked
    positions exactly 0, signed ones `|w| * sign`.

    The layers do this themselves at build, and their gradients keep it so; call it after
    writing weights into a model by other means (`load_weights`, `set_weights`), e.g. a
    parent run's initial weights into a model with a sparser design.
    """
    for layer in model.layers:
        for candidate in (layer, getattr(layer, "cell", None)):
            if hasattr(candidate, "settle_variables"):
                candidate.settle_variables()
