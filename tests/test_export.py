"""Export to PyTorch: real trained runs, written to .safetensors, run by PyTorch's LSTM equations.

Each exportable strategy is trained for a few epochs, saved as a run folder and exported; the
exported tensors then go through PyTorch's documented `nn.LSTM` equations written in NumPy
(and through `torch.nn.LSTM` itself when torch is installed), and must give the Keras model's
predictions.
"""

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import safetensors
import safetensors.numpy

from limconn import Connectivity, data, export, presets, runs
from limconn.cli import main
from limconn.connectivity import any_gate
from limconn.training import TrainConfig, train

TOLERANCE = 1e-5
UNITS = 6
LSTM_KEYS = ("lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0")


def _per_gate_design(input_dim: int, seed: int) -> Connectivity:
    """A design with its own input and recurrent mask per gate, and some units off the readout."""
    rng = np.random.default_rng(seed)
    return Connectivity(
        rng.random((4, input_dim, UNITS)) < 0.6,
        rng.random((4, UNITS, UNITS)) < 0.6,
        np.arange(UNITS) % 3 != 1,
        metadata={"name": "per-gate"},
    )


def _one_feature_off() -> Connectivity:
    """Input 0 reaches some units, input 1 none: input_features drops it, the projection too."""
    input_mask = np.array([[1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0]], bool)
    return Connectivity(input_mask, output_mask=np.arange(UNITS) != 2, metadata={"name": "one"})


ADDING = {"name": "adding", "num_samples": 96, "timesteps": 8}
CASES = {
    "kernel": (
        "kernel",
        presets.random(2, UNITS, density=0.5, seed=1).replace(output_mask=np.arange(UNITS) > 0),
        ADDING,
    ),
    "kernel-per-gate": ("kernel", _per_gate_design(2, seed=2), ADDING),
    "custom_cell-per-gate": ("custom_cell", _per_gate_design(2, seed=3), ADDING),
    "input_features": ("input_features", _one_feature_off(), ADDING),
    "output": ("output", _per_gate_design(2, seed=4), ADDING),
    "sparse_projection": ("sparse_projection", _one_feature_off(), ADDING),
    "random_dynamic": ("random_dynamic", _per_gate_design(2, seed=5), ADDING),
    "classification": (
        "kernel",
        _per_gate_design(3, seed=6),
        {"name": "largest_sum", "num_samples": 96, "timesteps": 8, "num_channels": 3},
    ),
}


@dataclasses.dataclass
class Exported:
    result: object
    run: runs.Run
    dataset: data.Dataset
    path: Path
    state: dict
    metadata: dict


def _train_run(strategy, design, task, folder: Path):
    dataset = data.make_task(**task)
    config = TrainConfig(strategy=strategy, epochs=3, batch_size=32, learning_rate=0.05)
    result = train(config, design, dataset)
    run_folder = runs.write_run_folder(
        result, folder / "run", run_id="run-1", name=f"{strategy} run", workspace="default"
    )
    return result, runs.read_run_folder(run_folder), dataset


def _export(result, run, dataset, folder: Path) -> Exported:
    path = export.write_torch_safetensors(run, folder / "model.safetensors")
    with safetensors.safe_open(path, "np") as opened:
        metadata = opened.metadata()
    return Exported(result, run, dataset, path, safetensors.numpy.load_file(path), metadata)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`exported(case)`: the case's run, trained and exported once per module."""
    done = {}

    def get(case: str) -> Exported:
        if case not in done:
            folder = tmp_path_factory.mktemp(case)
            done[case] = _export(*_train_run(*CASES[case], folder), folder)
        return done[case]

    return get


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _pytorch_lstm_equations(state: dict, x: np.ndarray) -> np.ndarray:
    """`readout(h_T)` by the equations of PyTorch's `nn.LSTM` docs, in float64 NumPy.

    i = σ(W_ii x + b_ii + W_hi h + b_hi), f and o alike, g = tanh(W_ig x + b_ig + W_hg h + b_hg),
    c' = f * c + i * g, h' = o * tanh(c'); the weights' row blocks are gates i, f, g, o.
    """
    w_ih, w_hh, b_ih, b_hh = (state[key].astype(np.float64) for key in LSTM_KEYS)
    units = w_hh.shape[1]
    h = np.zeros((len(x), units))
    c = np.zeros((len(x), units))
    for step in range(x.shape[1]):
        z = x[:, step] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return h @ state["readout.weight"].T.astype(np.float64) + state["readout.bias"]


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _keras_predictions(found: Exported) -> tuple[np.ndarray, np.ndarray]:
    x = found.dataset.x[:16]
    return x, keras.ops.convert_to_numpy(found.run.load_model()(x, training=False))


def _expected_masks(strategy: str, design: Connectivity, outputs: int) -> dict[str, np.ndarray]:
    """Where each strategy lets the exported weights be non-zero, in PyTorch's layout."""
    units, inputs = design.units, design.input_dim
    if strategy in ("kernel", "custom_cell", "random_dynamic"):
        input_mask, recurrent_mask = design.kernel_mask().T, design.recurrent_kernel_mask().T
    else:
        recurrent_mask = np.ones((4 * units, units), bool)
        kept = np.ones(inputs, bool)
        if strategy in ("input_features", "sparse_projection"):
            kept = any_gate(design.input_mask).any(axis=1)
        input_mask = np.tile(kept, (4 * units, 1))
    return {
        "mask.input": input_mask,
        "mask.recurrent": recurrent_mask,
        "mask.readout": np.tile(design.output_mask, (outputs, 1)),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_pytorch_lstm_equations_on_the_export_give_the_keras_predictions(exported, case):
    found = exported(case)
    x, expected = _keras_predictions(found)
    predictions = _pytorch_lstm_equations(found.state, x)
    if found.metadata["readout_activation"] == "softmax":
        predictions = _softmax(predictions)
    assert predictions.shape == expected.shape
    np.testing.assert_allclose(predictions, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("case", list(CASES))
def test_masks_are_in_the_layout_of_the_weights_and_masked_weights_are_exactly_zero(
    exported, case
):
    found = exported(case)
    strategy, design, _ = CASES[case]
    state = found.state
    outputs = state["readout.weight"].shape[0]
    expected = _expected_masks(strategy, design, outputs)
    for name, weight in (
        ("mask.input", "lstm.weight_ih_l0"),
        ("mask.recurrent", "lstm.weight_hh_l0"),
        ("mask.readout", "readout.weight"),
    ):
        assert state[name].dtype == bool and state[name].shape == state[weight].shape
        np.testing.assert_array_equal(state[name], expected[name])
        assert np.all(state[weight][~state[name]] == 0), name
        assert np.all(state[weight][state[name]] != 0), f"{name}: a kept weight is 0"
    assert (~state["mask.readout"]).any()
    if strategy != "output":
        assert (~state["mask.input"]).any()
    if design.per_gate and strategy != "output":
        blocks = state["mask.input"].reshape(4, design.units, design.input_dim)
        assert any((blocks[g] != blocks[0]).any() for g in range(1, 4)), "not per gate"


def test_kernel_blocks_are_keras_gates_in_order_transposed_and_the_bias_is_in_bias_ih(exported):
    found = exported("kernel-per-gate")
    weights, state = found.run.weights, found.state
    for gate in range(4):
        rows = slice(gate * UNITS, (gate + 1) * UNITS)
        np.testing.assert_array_equal(state["lstm.weight_ih_l0"][rows], weights["kernel"][gate].T)
        np.testing.assert_array_equal(
            state["lstm.weight_hh_l0"][rows], weights["recurrent_kernel"][gate].T
        )
        np.testing.assert_array_equal(state["lstm.bias_ih_l0"][rows], weights["bias"][gate])
    assert np.all(state["lstm.bias_hh_l0"] == 0)
    assert all(state[key].dtype == np.float32 for key in (*LSTM_KEYS, "readout.weight"))


@pytest.mark.parametrize("case", ["kernel-per-gate", "sparse_projection", "classification"])
def test_torch_nn_lstm_loaded_with_load_state_dict_gives_the_keras_predictions(exported, case):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    found = exported(case)
    tensors = load_file(found.path)
    meta = found.metadata
    lstm = torch.nn.LSTM(int(meta["input_size"]), int(meta["hidden_size"]), batch_first=True)
    readout = torch.nn.Linear(int(meta["hidden_size"]), int(meta["outputs"]))
    lstm.load_state_dict({k.removeprefix("lstm."): v for k, v in tensors.items()
                          if k.startswith("lstm.")})
    readout.load_state_dict({k.removeprefix("readout."): v for k, v in tensors.items()
                             if k.startswith("readout.")})
    x, expected = _keras_predictions(found)
    with torch.no_grad():
        sequence, _ = lstm(torch.from_numpy(x))
        predictions = readout(sequence[:, -1])
        if meta["readout_activation"] == "softmax":
            predictions = torch.softmax(predictions, dim=-1)
    np.testing.assert_allclose(predictions.numpy(), expected, rtol=0, atol=TOLERANCE)
    masked = tensors["lstm.weight_ih_l0"] * tensors["mask.input"]
    assert torch.equal(masked, tensors["lstm.weight_ih_l0"])


def test_header_metadata_says_what_the_file_holds(exported):
    found = exported("classification")
    meta = found.metadata
    assert meta["format"] == export.FORMAT_TAG
    assert meta["strategy"] == "kernel" and meta["kind"] == "classification"
    assert (meta["input_size"], meta["hidden_size"], meta["outputs"]) == ("3", "6", "3")
    assert meta["readout_activation"] == "softmax" and "softmax" in meta["modules"]
    assert "i, f, g, o" in meta["gate_order"] and "i, f, c, o" in meta["gate_order"]
    assert "bias_hh_l0 is zeros" in meta["bias"]
    assert "layout of lstm.weight_ih_l0" in meta["masks"]
    assert all(isinstance(value, str) for value in meta.values())
    regression = exported("kernel").metadata
    assert regression["kind"] == "regression" and regression["readout_activation"] == "linear"


def test_bytes_for_a_download_hold_the_same_tensors_and_metadata_as_the_file(exported):
    found = exported("kernel")
    payload = export.torch_safetensors_bytes(found.run)
    loaded = safetensors.numpy.load(payload)
    assert loaded.keys() == found.state.keys()
    for key, value in found.state.items():
        np.testing.assert_array_equal(loaded[key], value)
    header_size = int.from_bytes(payload[:8], "little")
    header = json.loads(payload[8 : 8 + header_size])
    assert header["__metadata__"] == found.metadata
    in_memory = export.torch_state_dict(found.run)
    assert all(np.array_equal(in_memory[key], value) for key, value in found.state.items())


def test_masked_positions_of_the_stored_weights_do_not_leak_into_the_export(exported):
    """The export multiplies by the design's masks itself, whatever `weights.npz` holds there.

    Non-zero values at the masked positions of the stored kernels (put there by hand) must
    read as 0 in the export, and the stored values everywhere else must stay as they were.
    """
    found = exported("kernel-per-gate")
    design, weights = found.run.connectivity, found.run.weights
    noisy = {
        **weights,
        "kernel": weights["kernel"] + 5.0 * ~design.input_mask,
        "recurrent_kernel": weights["recurrent_kernel"] + 5.0 * ~design.recurrent_mask,
    }
    state = export.torch_state_dict(dataclasses.replace(found.run, weights=noisy))
    for key in ("lstm.weight_ih_l0", "lstm.weight_hh_l0"):
        np.testing.assert_array_equal(state[key], found.state[key])
    assert (~found.state["mask.input"]).any() and (~found.state["mask.recurrent"]).any()


def test_exporting_loads_neither_keras_nor_tensorflow(exported):
    """The app's server builds downloads with this module: it must stay NumPy-only."""
    found = exported("sparse_projection")
    script = (
        "import sys; from limconn import export, runs; "
        f"export.torch_safetensors_bytes(runs.read_run_folder({str(found.run.info.path)!r})); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_cli_export_writes_the_safetensors_file(exported, tmp_path, capsys):
    found = exported("kernel")
    out = tmp_path / "model.safetensors"
    status = main(["export", "--run", str(found.run.info.path), "--format", "torch",
                   "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    assert f"Wrote {out}" in capsys.readouterr().out
    written = safetensors.numpy.load_file(out)
    assert all(np.array_equal(written[key], value) for key, value in found.state.items())


def test_timestep_is_refused_with_one_line_that_says_why(tmp_path, capsys):
    _, run, _ = _train_run("timestep", presets.dense(2, 4), ADDING, tmp_path)
    with pytest.raises(ValueError, match="timestep.*skips time steps.*Masking"):
        export.torch_state_dict(run)
    out = tmp_path / "model.safetensors"
    status = main(["export", "--run", str(run.info.path), "--out", str(out)])
    error = capsys.readouterr().err
    assert status == 1 and not out.exists()
    assert error.startswith("limconn: error: Cannot export to torch.nn.LSTM")
    assert error.count("\n") == 1 and "'timestep'" in error


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda weights: weights.pop("recurrent_kernel"), "no recurrent_kernel"),
        (lambda weights: weights.update(kernel=weights["kernel"][:, :, :-1]), "(4, 2, 5)"),
        (lambda weights: weights.update(readout_kernel=weights["readout_kernel"][:-1]),
         "readout_kernel"),
    ],
)
def test_stored_weights_that_do_not_fit_the_design_are_refused_by_name(exported, change, named):
    found = exported("kernel")
    weights = dict(found.run.weights)
    change(weights)
    with pytest.raises(ValueError, match=f"Cannot export run.*weights.npz.*{re.escape(named)}"):
        export.torch_state_dict(dataclasses.replace(found.run, weights=weights))
