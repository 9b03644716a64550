"""Hostile input: whatever the bytes, every loader answers with a ValueError or a result."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limconn.data import Dataset, csv_columns, load_csv, load_npy, load_npz
from tests.files import csv_bytes, named_bytes, npy_bytes, npz_bytes, row_index_frame

X = np.random.default_rng(0).normal(size=(12, 5, 3))
VALID_NPZ = npz_bytes(X=X[:3], y=np.arange(3) % 2)
VALID_COMPRESSED_NPZ = npz_bytes(compressed=True, X=X[:3], y=np.zeros(3))
VALID_NPY = npy_bytes(X[:3])
VALID_CSV = csv_bytes(row_index_frame(12))


@st.composite
def damaged(draw, valid: bytes) -> bytes:
    """A valid file with some bytes overwritten, then maybe cut short."""
    content = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        content[draw(st.integers(0, len(content) - 1))] = draw(st.integers(0, 255))
    return bytes(content[: draw(st.integers(0, len(content)))])


def any_bytes(*valid: bytes):
    return st.one_of(st.binary(max_size=300), *(damaged(v) for v in valid))


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_value_errors(load) -> None:
    try:
        result = load()
    except ValueError:
        return
    assert isinstance(result, (Dataset, list))


@FUZZ
@given(content=any_bytes(VALID_NPZ, VALID_COMPRESSED_NPZ))
def test_fuzz_load_npz_raises_only_value_error(content):
    only_value_errors(lambda: load_npz(named_bytes(content, "f.npz")))


@FUZZ
@given(content=any_bytes(VALID_NPY))
def test_fuzz_load_npy_raises_only_value_error(content):
    y = npy_bytes(np.zeros(3))
    only_value_errors(lambda: load_npy(named_bytes(content, "X.npy"), io.BytesIO(y)))
    only_value_errors(lambda: load_npy(io.BytesIO(VALID_NPY), named_bytes(content, "y.npy")))


CSV_TEXT = st.text(alphabet=st.sampled_from(list('ab,;\n\t"0123456789.-+eEinfNa x')), max_size=200)


@FUZZ
@given(
    content=st.one_of(
        any_bytes(VALID_CSV), CSV_TEXT.map(lambda text: ("row,noise\n" + text).encode())
    ),
    window=st.integers(1, 4),
    missing=st.sampled_from(["error", "drop", "fill"]),
)
def test_fuzz_load_csv_raises_only_value_error(content, window, missing):
    only_value_errors(lambda: csv_columns(named_bytes(content, "f.csv")))
    only_value_errors(
        lambda: load_csv(
            named_bytes(content, "f.csv"), feature_columns=["row", "noise"],
            target_columns=["row"], window=window, missing=missing,
        )
    )
