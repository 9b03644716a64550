"""A run's network as plain arrays: one LSTM step, its Jacobian, and the readout, in NumPy.

Every analysis works on `Dynamics`: the run's LSTM with the layers around it folded in (the
fold `limconn.export.folded_state_dict` makes for PyTorch: `input_features`' switched-off
features and `sparse_projection`'s map become part of the input kernel, the output mask part
of the readout), so every strategy is one LSTM

    z = x_t @ input_kernel + h @ recurrent_kernel + bias      (gate blocks i, f, c, o)
    c' = sigmoid(z_f) * c + sigmoid(z_i) * tanh(z_c)
    h' = sigmoid(z_o) * tanh(c')
    y = h' @ readout_kernel + readout_bias                   (softmax for classification)

computed in float64 from the weights the run stored (`weights.npz`, the effective ones: masks
and signs applied). No Keras, no TensorFlow, no gradient library: the Jacobian of a step and
the backward pass (`limconn.analysis.attributions`) are written out, so the analyses run the
same whatever Keras backend trained the run. `random_dynamic` is `kernel` at inference (its
dropout is off). `timestep` skips every step whose features all equal its `mask_value`, as
its `Masking` layer does: the state carries over unchanged.

Example:

>>> dynamics = as_dynamics("runs/flipflop")  # doctest: +SKIP
>>> hidden, cell = dynamics.states(x)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from limconn.connectivity import NUM_GATES, Connectivity
from limconn.enforcement import trained_connectivity
from limconn.runs import MODEL_FILE, Run, read_run_folder
from limconn.strategies import enforcement_of

LSTM_LAYER = "lstm"
"""The name every strategy gives its LSTM layer (`limconn.strategies`)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dynamics:
    """One run's LSTM and readout as float64 arrays (see the module docstring).

    Attributes:
        strategy: the run's strategy.
        kind: `"regression"` or `"classification"` (softmax readout).
        per_step: whether the run reads out at every step (else the last step only).
        input_kernel: `(features, 4 * units)`: input features to gates, input layers folded in.
        recurrent_kernel: `(units, 4 * units)`, rows sources, columns gate blocks i, f, c, o.
        bias: `(4 * units,)`.
        readout_kernel: `(units, outputs)`, the output mask folded in.
        readout_bias: `(outputs,)`.
        connectivity: the connectivity the trained model has (`trained_connectivity`):
            its masks, and its signs only where the strategy enforces them.
        skip_value: `timestep`'s `mask_value` (a step whose features all equal it is
            skipped), else `None`.
        run_id, run_name: where the weights came from (`""` for a run not yet saved).
    """

    strategy: str
    kind: str
    per_step: bool
    input_kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    readout_kernel: np.ndarray
    readout_bias: np.ndarray
    connectivity: Connectivity
    skip_value: float | None = None
    run_id: str = ""
    run_name: str = ""

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]

    @property
    def input_dim(self) -> int:
        return self.input_kernel.shape[0]

    @property
    def outputs(self) -> int:
        return self.readout_bias.shape[0]

    def gate_recurrent_kernels(self) -> np.ndarray:
        """`(4, units, units)`: each gate's recurrent weight, rows sources, in order i, f, c, o."""
        return self.recurrent_kernel.reshape(self.units, NUM_GATES, self.units).transpose(1, 0, 2)

    def drive(self, x: np.ndarray) -> np.ndarray:
        """`x @ input_kernel + bias`: what the inputs add to the gates, `(..., 4 * units)`."""
        return np.asarray(x, np.float64) @ self.input_kernel + self.bias

    def gates(self, drive: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, ...]:
        """The activated gates `i, f, g, o` for a drive and the previous hidden state."""
        # One 2-D product for any leading axes (a 3-D `@` would be one small product each).
        z = drive + (h.reshape(-1, self.units) @ self.recurrent_kernel).reshape(
            *h.shape[:-1], NUM_GATES * self.units)
        i, f, g, o = np.split(z, NUM_GATES, axis=-1)
        return _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)

    def step(self, drive: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, ...]:
        """One LSTM step: the next `(h, c)`."""
        i, f, g, o = self.gates(drive, h)
        c = f * c + i * g
        return o * np.tanh(c), c

    def unroll(self, x: np.ndarray, keep: np.ndarray | None = None) -> Iterator[tuple]:
        """Runs the LSTM over `x` `(samples, steps, features)` from a zero state; yields
        `(h, c)` after each step.

        Args:
            x: the sequences.
            keep: `None`, or `(lesions, units)` multipliers of the hidden state at every step
                (0 silences a unit: its hidden state is held at 0); then every lesion runs on
                every sequence at once and `h`, `c` are `(lesions, samples, units)`.
        """
        x = np.asarray(x, np.float64)
        drive = self.drive(x)
        samples, steps = x.shape[:2]
        shape = (samples, self.units) if keep is None else (len(keep), samples, self.units)
        h, c = np.zeros(shape), np.zeros(shape)
        kept = None if keep is None else np.asarray(keep, np.float64)[:, None, :]
        skipped = None if self.skip_value is None else np.all(x == self.skip_value, axis=-1)
        for t in range(steps):
            h_next, c_next = self.step(drive[:, t], h, c)
            if kept is not None:
                h_next = h_next * kept
            if skipped is not None:
                carried = skipped[:, t, None]
                h_next, c_next = np.where(carried, h, h_next), np.where(carried, c, c_next)
            h, c = h_next, c_next
            yield h, c

    def states(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden and cell states `(samples, steps, units)` over the sequences `x`."""
        hidden, cell = zip(*self.unroll(x), strict=True)
        return np.stack(hidden, axis=1), np.stack(cell, axis=1)

    def readout(self, h: np.ndarray) -> np.ndarray:
        """The model's output for hidden states `(..., units)`: values, or class
        probabilities for a classification run."""
        logits = h @ self.readout_kernel + self.readout_bias
        if self.kind != "classification":
            return logits
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def jacobian(self, drive: np.ndarray, h: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The Jacobian of one step `F(h, c) = (h', c')` at the states `(batch, units)`.

        Returns `(batch, 2 * units, 2 * units)`: rows `(h', c')`, columns `(h, c)`, so
        `J @ (dh, dc)` is the change of the next state. Written out from the step:
        `dc'/dc = f`, `dc'/dh = diag(c f(1-f)) Wf^T + diag(g i(1-i)) Wi^T + diag(i(1-g^2)) Wg^T`,
        `dh'/dh = diag(tanh(c') o(1-o)) Wo^T + diag(o(1-tanh^2 c')) dc'/dh`,
        `dh'/dc = diag(o(1-tanh^2 c') f)`, with `W*` the gates' recurrent weights.
        """
        i, f, g, o = self.gates(drive, h)
        c_next = f * c + i * g
        tanh_c = np.tanh(c_next)
        w_i, w_f, w_g, w_o = (w.T for w in self.gate_recurrent_kernels())  # (target, source)
        dc_dh = ((c * f * (1 - f))[..., None] * w_f + (g * i * (1 - i))[..., None] * w_i
                 + (i * (1 - g * g))[..., None] * w_g)
        through_c = o * (1 - tanh_c * tanh_c)
        dh_dh = (tanh_c * o * (1 - o))[..., None] * w_o + through_c[..., None] * dc_dh
        units = self.units
        jacobian = np.zeros((*h.shape[:-1], 2 * units, 2 * units))
        jacobian[..., :units, :units] = dh_dh
        jacobian[..., units:, :units] = dc_dh
        diagonal = np.arange(units)
        jacobian[..., diagonal, units + diagonal] = through_c * f
        jacobian[..., units + diagonal, units + diagonal] = f
        return jacobian

    def refuse(self, analysis: str, strategies: tuple[str, ...] = ("timestep",)) -> None:
        """Raises a `ValueError` naming the strategy if `analysis` means nothing for it."""
        if self.strategy in strategies:
            raise ValueError(
                f"{analysis} mean nothing for a {self.strategy!r} run: its Masking layer "
                f"skips every step whose features all equal {self.skip_value!r}, so there is "
                "no single step function to analyse. Received: strategy "
                f"{self.strategy!r} ({self.run_name or 'unsaved run'})"
            )

    def check_inputs(self, x: np.ndarray) -> np.ndarray:
        """`x` as float64 `(samples, steps, features)`, or a `ValueError` naming its shape."""
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[-1] != self.input_dim or not x.shape[0] or not x.shape[1]:
            raise ValueError(
                f"x must be (samples, steps, {self.input_dim}) for this run's "
                f"{self.input_dim} input features. Received: shape {x.shape}"
            )
        return x.astype(np.float64)


def as_dynamics(run) -> Dynamics:
    """The `Dynamics` of a run folder (path), a `limconn.runs.Run`, a
    `limconn.training.RunResult`, or a `Dynamics` (returned as it is).

    Reads only NumPy and JSON files: no Keras, no TensorFlow.

    Raises:
        ValueError: if the folder is not a readable run, or its weights do not fit its
            design.
    """
    if isinstance(run, Dynamics):
        return run
    if isinstance(run, (str, os.PathLike)):
        run = read_run_folder(run)
    if isinstance(run, Run):
        return _build(run.info.strategy, run.config.strategy_options, run.connectivity,
                      run.weights, run.record.get("dataset", {}).get("kind", "regression"),
                      _saved_per_step(run.info.path), run.info.id, run.info.name)
    if hasattr(run, "model") and hasattr(run, "config"):  # a RunResult (training loads Keras)
        from limconn.runs import default_name

        return _build(run.config.strategy, run.config.strategy_options, run.connectivity,
                      run.weights, run.kind, len(run.model.output_shape) == 3, "",
                      default_name(run))
    raise ValueError(
        "run must be a run folder, a limconn.runs.Run, a limconn.training.RunResult or a "
        f"Dynamics. Received: {type(run).__name__}"
    )


def _build(strategy: str, options: dict, design: Connectivity, weights: dict, kind: str,
           per_step: bool, run_id: str, run_name: str) -> Dynamics:
    from limconn.export import folded_state_dict

    state = folded_state_dict(strategy, design, weights, f"analyse run {run_name!r}")
    enforcement = enforcement_of(strategy)
    return Dynamics(
        strategy=strategy,
        kind=kind,
        per_step=per_step,
        input_kernel=state["lstm.weight_ih_l0"].T.astype(np.float64),
        recurrent_kernel=state["lstm.weight_hh_l0"].T.astype(np.float64),
        bias=state["lstm.bias_ih_l0"].astype(np.float64),
        readout_kernel=state["readout.weight"].T.astype(np.float64),
        readout_bias=state["readout.bias"].astype(np.float64),
        connectivity=trained_connectivity(enforcement, design),
        skip_value=float(options.get("mask_value", 0.0)) if enforcement.skips_steps else None,
        run_id=run_id,
        run_name=run_name,
    )


def _saved_per_step(folder: Path) -> bool:
    """Whether a run folder's model reads out at every step: its LSTM's
    `return_sequences`, read from the `.keras` file's JSON config (no Keras needed).

    Raises:
        ValueError: if the model file has no readable config with an LSTM layer.
    """
    try:
        with zipfile.ZipFile(folder / MODEL_FILE) as archive:
            config = json.loads(archive.read("config.json"))
        for layer in config["config"]["layers"]:
            if layer["config"].get("name") == LSTM_LAYER:
                return bool(layer["config"]["return_sequences"])
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"The run {folder.name} is broken: its {MODEL_FILE} has no readable "
                         f"config ({type(error).__name__}: {error})") from error
    raise ValueError(f"The run {folder.name} is broken: its {MODEL_FILE} has no layer "
                     f"named {LSTM_LAYER!r}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow: `(1 + tanh(z / 2)) / 2`."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))
