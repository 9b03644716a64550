"""load_upload picks the loader by the file's extension."""

from __future__ import annotations

import numpy as np
import pytest

from limconn.data import load_upload
from tests.files import named_bytes, npz_bytes

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
