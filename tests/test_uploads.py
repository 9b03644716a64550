"""load_upload picks the loader by the file's extension."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from limconn.data import load_upload
from limconn.settings import Limits
from tests.files import declared_npy, named_bytes, npy_bytes, npz_bytes, refusal, zip_bytes

X = np.random.default_rng(0).normal(size=(12, 5, 3))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("data.txt", "unsupported file type '.txt'"),
        ("data", "no extension"),
        ("X.npy", "two .npy files"),
    ],
)
def test_load_upload_dispatches_on_the_extension(name, message):
    with pytest.raises(ValueError, match=message):
        load_upload(named_bytes(b"1,2\n", name))
    assert load_upload(named_bytes(npz_bytes(X=X, y=np.zeros(12)), "ok.NPZ")).num_samples == 12


def test_an_npz_with_per_step_targets_and_weights_loads_as_a_per_step_dataset():
    weights = np.zeros((12, 5))
    weights[:, 3:] = 1
    regression = load_upload(named_bytes(
        npz_bytes(X=X, y=np.ones((12, 5, 2)), weights=weights), "steps.npz"))
    assert regression.per_step and regression.output_dim == 2
    np.testing.assert_array_equal(regression.weights, weights)
    assert regression.weights.dtype == np.float32
    labels = np.arange(60).reshape(12, 5) % 3  # integers, one per step: class labels
    classification = load_upload(named_bytes(npz_bytes(X=X, y=labels), "labels.npz"))
    assert classification.kind == "classification" and classification.per_step
    assert classification.num_classes == 3 and classification.weights is None


def test_per_step_weights_are_checked_before_they_are_read():
    declared = zip_bytes({"X.npy": npy_bytes(X), "y.npy": npy_bytes(np.ones((12, 5, 1))),
                          "weights.npy": declared_npy((10**9, 5))}, zipfile.ZIP_STORED)
    message = refusal(lambda: load_upload(named_bytes(declared, "big.npz"),
                                          limits=Limits(max_samples=100)), 64 * 1024)
    assert message.startswith("big.npz: weights, shape (1000000000, 5): This server allows")
    with pytest.raises(ValueError, match=r"weights are per-step loss weights.*shape \(12, 1\)"):
        load_upload(named_bytes(npz_bytes(X=X, y=np.ones((12, 1)), weights=np.ones((12, 5))),
                                "one.npz"))
    with pytest.raises(ValueError, match=r"weights must be >= 0.*from -1.0"):
        load_upload(named_bytes(npz_bytes(X=X, y=np.ones((12, 5, 1)),
                                          weights=-np.ones((12, 5))), "neg.npz"))
