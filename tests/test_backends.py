"""Which Keras backend limconn trains on: `KERAS_BACKEND`, else limconn's default; each
process loads only its own, and a model saved on one backend loads on the other."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import limconn
from limconn._tf import BACKENDS, DEFAULT_BACKEND, backend_name
from limconn.settings import ServerSettings

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "jax", "keras", "torch")


def _python(code: str, backend: str | None, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    environment.pop("KERAS_BACKEND", None)
    if backend is not None:
        environment["KERAS_BACKEND"] = backend
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=200)


def test_the_backend_is_keras_backend_or_limconns_default():
    assert backend_name({}) == backend_name({"KERAS_BACKEND": " "}) == DEFAULT_BACKEND
    assert [backend_name({"KERAS_BACKEND": name}) for name in BACKENDS] == list(BACKENDS)
    with pytest.raises(ValueError, match="Received: KERAS_BACKEND='numpy'"):
        backend_name({"KERAS_BACKEND": "numpy"})


def test_a_backend_limconn_does_not_run_on_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="Received: KERAS_BACKEND='torch'"):
        ServerSettings.from_env({"KERAS_BACKEND": "torch"})
    environment = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "numpy"}
    done = subprocess.run(
        [sys.executable, "-m", "limconn", "train", "--task", "adding", "--task-param",
         "num_samples=40", "--epochs", "1", "--out", str(tmp_path / "run")],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=200)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "limconn: error: KERAS_BACKEND must be one of tensorflow, jax (or unset: "
        f"{DEFAULT_BACKEND}). Received: KERAS_BACKEND='numpy'")


@pytest.mark.parametrize("backend", [None, "jax"])
def test_importing_limconn_loads_no_backend(tmp_path, backend):
    done = _python(f"""
        import sys
        import limconn
        from limconn import data, presets, trainconfig
        from limconn._tf import backend_name
        backend_name()
        print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))
    """, backend, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_run_on_jax_keeps_a_disconnected_input_out_and_loads_on_this_backend(tmp_path):
    """A JAX process trains a masked run without loading TensorFlow; perturbing the input
    the design disconnects leaves its predictions bit-identical; the model it saved loads
    here (on the backend this test runs on) and predicts the same to float rounding."""
    done = _python("""
        import sys
        import numpy as np
        from limconn import data, presets
        from limconn.training import TrainConfig, train

        dataset = data.make_task("adding", num_samples=96, timesteps=6)
        design = presets.random(2, 5, density=0.6, seed=3)
        input_mask = design.input_mask.copy()
        input_mask[1] = False
        design = design.replace(input_mask=input_mask)
        result = train(TrainConfig(epochs=2, batch_size=32), design, dataset)
        model = result.model
        changed = dataset.x.copy()
        changed[:, :, 1] = np.random.default_rng(0).normal(scale=10, size=changed.shape[:2])
        predictions = model.predict(dataset.x, verbose=0)
        np.testing.assert_array_equal(model.predict(changed, verbose=0), predictions)
        assert result.max_masked_weight == 0.0
        assert result.history[-1]["loss"] != result.history[0]["loss"]
        model.save("model.keras")
        np.save("x.npy", dataset.x)
        np.save("predictions.npy", predictions)
        import keras
        print(keras.config.backend(), "tensorflow" in sys.modules)
    """, "jax", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["jax", "False"]
    model = limconn.load_model(tmp_path / "model.keras")
    x = np.load(tmp_path / "x.npy", allow_pickle=False)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               np.load(tmp_path / "predictions.npy", allow_pickle=False),
                               rtol=0, atol=1e-5)
