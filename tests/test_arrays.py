"""NumPy uploads load X and y as saved, or are refused saying why; nothing is unpickled."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

from limconn.data import load_csv, load_npy, load_npz
from limconn.settings import Limits
from tests.files import named_bytes, npy_bytes, npz_bytes

X = np.random.default_rng(0).normal(size=(12, 5, 3))


def test_npz_regression_and_inferred_classification_and_lowercase_x():
    targets = np.random.default_rng(1).normal(size=(12, 2))
    regression_data = load_npz(named_bytes(npz_bytes(X=X, y=targets), "r.npz"))
    assert regression_data.kind == "regression" and regression_data.output_dim == 2
    np.testing.assert_array_equal(regression_data.x, X.astype(np.float32))

    labels = np.arange(12) % 3
    classes = load_npz(named_bytes(npz_bytes(compressed=True, x=X, y=labels), "c.npz"))
    assert classes.kind == "classification" and classes.num_classes == 3
    np.testing.assert_array_equal(classes.y, labels)
    as_numbers = load_npz(named_bytes(npz_bytes(X=X, y=labels), "c.npz"), kind="regression")
    assert as_numbers.y.shape == (12, 1)


def test_npy_pair_from_paths_and_file_objects(tmp_path):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", np.arange(12.0))
    from_paths = load_npy(tmp_path / "X.npy", str(tmp_path / "y.npy"), kind="regression")
    from_files = load_npy(
        named_bytes(npy_bytes(X), "X.npy"), named_bytes(npy_bytes(np.arange(12.0)), "y.npy"),
        kind="regression",
    )
    np.testing.assert_array_equal(from_paths.x, from_files.x)
    np.testing.assert_array_equal(from_paths.y, from_files.y)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": X[0], "y": np.zeros(5)}, r"shape \(samples, timesteps, features\).*\(5, 3\)"),
        ({"X": X, "y": np.zeros((9, 1))}, "x has 12 samples but y has 9"),
        ({"X": np.where(X > 1, np.nan, X), "y": np.zeros(12)}, r"x holds \d+ NaN"),
        ({"X": X, "y": np.full(12, np.inf)}, "12 infinite"),
        ({"X": X.astype(str), "y": np.zeros(12)}, "must hold real numbers.*<U"),
        ({"X": X, "y": np.arange(1, 13) % 3 + 1}, r"0..C-1.*Received labels: 1, 2, 3"),
        ({"X": X, "target": np.zeros(12)}, r"no array named Y or y.*\['X', 'target'\]"),
    ],
)
def test_npz_bad_arrays_are_refused_with_the_key_fact(arrays, message):
    with pytest.raises(ValueError, match=message):
        load_npz(named_bytes(npz_bytes(**arrays), "bad.npz"))


def test_pickled_files_are_never_unpickled():
    objects = np.array([{"a": 1}, None], dtype=object)
    with pytest.raises(ValueError, match="never unpickles"):
        load_npy(named_bytes(npy_bytes(objects, allow_pickle=True), "X.npy"), io.BytesIO())
    with pytest.raises(ValueError, match="never unpickles"):
        load_npz(named_bytes(pickle.dumps({"X": X, "y": X[:, 0, 0]}), "data.npz"))
    pickled_member = io.BytesIO()
    np.savez(pickled_member, X=objects, y=np.zeros(2))  # np.savez pickles object arrays
    with pytest.raises(ValueError, match="never unpickles"):
        load_npz(named_bytes(pickled_member.getvalue(), "data.npz"))


def test_size_limits_are_checked_before_reading():
    class UnreadableUpload(io.BytesIO):
        size = 10_000

        def seekable(self):
            return False

        def read(self, *args):
            raise AssertionError("read before the size check")

    with pytest.raises(ValueError, match=r"larger than the limit of 1,000 bytes.*10,000 bytes"):
        load_npz(UnreadableUpload(), max_bytes=1000)
    with pytest.raises(ValueError, match="larger than the limit"):
        load_csv(named_bytes(b"a\n" + b"1\n" * 100, "a.csv"), feature_columns="a",
                 target_columns="a", window=1, max_bytes=50)


def test_headers_that_promise_more_than_the_file_holds_are_refused_before_allocating():
    header_only = npy_bytes(np.zeros(4)).replace(b"(4,)", b"(999999999999,)")
    with pytest.raises(ValueError, match="header declares shape"):
        load_npy(named_bytes(header_only, "X.npy"), io.BytesIO(npy_bytes(np.zeros(4))))

    bomb = npz_bytes(compressed=True, X=np.zeros((2000, 50, 4)), y=np.zeros(2000))
    assert len(bomb) < 20_000
    with pytest.raises(ValueError, match="expands to"):
        load_npz(named_bytes(bomb, "bomb.npz"), max_bytes=100_000)


def test_wrong_kind_of_numpy_file_is_named():
    with pytest.raises(ValueError, match="single .npy array, not an .npz"):
        load_npz(named_bytes(npy_bytes(X), "X.npz"))
    with pytest.raises(ValueError, match="is an .npz archive, not a .npy"):
        load_npy(named_bytes(npz_bytes(X=X), "X.npy"), io.BytesIO(npy_bytes(X)))
    with pytest.raises(ValueError, match="Could not read .*missing.npz"):
        load_npz("/nonexistent/missing.npz")


def test_arrays_within_the_limits_load_as_without_them_and_the_upload_limit_applies():
    limits = Limits(max_samples=12, max_timesteps=5, max_inputs=3, max_outputs=2, max_upload_mb=1)
    archive = npz_bytes(X=X, y=np.random.default_rng(1).normal(size=(12, 2)))
    bounded = load_npz(named_bytes(archive, "a.npz"), limits=limits)
    unbounded = load_npz(named_bytes(archive, "a.npz"))
    np.testing.assert_array_equal(bounded.x, unbounded.x)
    np.testing.assert_array_equal(bounded.y, unbounded.y)
    large = npy_bytes(np.zeros((200, 5, 3, 100), np.float32))  # 1.1 MiB, under max_bytes
    with pytest.raises(ValueError, match=r"X\.npy is larger than the limit of 1\.0 MiB"):
        load_npy(named_bytes(large, "X.npy"), io.BytesIO(npy_bytes(np.zeros(200))), limits=limits)
