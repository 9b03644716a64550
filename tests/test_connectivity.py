"""Connectivity: validation, stats that mean what they say, and files that never unpickle."""

import io
import pickle
import zipfile

import numpy as np
import pytest

from limconn.connectivity import Connectivity, load_mask_npy, mask_npy_bytes, save_mask_npy
from limconn.settings import Limits


def test_defaults_are_dense_and_numbers_become_bools():
    design = Connectivity(np.array([[1, 0, 1]], dtype=np.float64))
    assert design.input_mask.dtype == bool
    assert design.recurrent_mask.shape == (3, 3) and design.recurrent_mask.all()
    assert design.output_mask.shape == (3,) and design.output_mask.all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_mask": [[0, 2]]}, r"only 0 and 1.*2"),
        ({"input_mask": [[0.0, np.nan]]}, r"1 NaN"),
        ({"input_mask": [1, 0]}, r"2-D or 3-D.*\(2,\)"),
        ({"input_mask": np.ones((1, 1, 1, 1))}, r"2-D or 3-D.*4-D"),
        ({"input_mask": np.ones((3, 2, 4))}, r"per-gate.*\(3, 2, 4\)"),
        ({"input_mask": [["a", "b"]]}, r"bool or 0/1.*dtype"),
        ({"input_mask": np.ones((2, 4)), "recurrent_mask": np.ones((3, 3))}, r"\(4, 4\).*\(3, 3\)"),
        ({"input_mask": np.ones((2, 4)), "recurrent_mask": np.ones((3, 4, 4))}, r"\(3, 4, 4\)"),
        ({"input_mask": np.ones((2, 4)), "output_mask": np.ones(5)}, r"\(4,\).*\(5,\)"),
        ({"input_mask": np.ones((2, 4)), "output_mask": np.ones((4, 1))}, r"1-D"),
        ({"input_mask": np.ones((2, 4)), "metadata": {"f": object()}}, r"JSON"),
    ],
)
def test_bad_masks_raise_value_error_naming_what_came(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Connectivity(**kwargs)


def test_per_gate_masks_expand_into_keras_column_blocks():
    input_mask = np.zeros((4, 2, 3), bool)
    input_mask[1, 0, 2] = True  # gate f, input 0 -> unit 2
    design = Connectivity(input_mask, recurrent_mask=np.eye(3))
    kernel_mask = design.kernel_mask()
    assert kernel_mask.shape == (2, 12)
    assert np.flatnonzero(kernel_mask) == [3 + 2]
    assert design.recurrent_kernel_mask().shape == (3, 12)
    assert design.per_gate


def test_reachability_follows_recurrent_paths():
    input_mask = np.zeros((1, 4), bool)
    input_mask[0, 0] = True
    recurrent_mask = np.eye(4, dtype=bool)
    recurrent_mask[0, 1] = True  # input -> 0 -> 1; unit 2 only feeds 3; 3 feeds nobody
    recurrent_mask[2, 3] = True
    output_mask = np.array([False, True, False, False])
    stats = Connectivity(input_mask, recurrent_mask, output_mask).stats()
    assert stats.unreachable_units == (2, 3)
    assert stats.dead_end_units == (2, 3)
    assert stats.isolated_units == ()
    assert stats.fan_in.tolist() == [2, 2, 1, 2]
    assert stats.fan_out.tolist() == [2, 2, 2, 1]


def test_isolated_units_have_nothing_but_a_self_loop():
    design = Connectivity(np.array([[1, 0]]), np.eye(2), np.array([1, 0]))
    assert design.stats().isolated_units == (1,)


def test_parameter_counts_match_the_masked_weights():
    rng = np.random.default_rng(0)
    design = Connectivity(rng.random((4, 4, 6)) < 0.3, rng.random((6, 6)) < 0.5)
    stats = design.stats()
    assert stats.dense_parameters == 4 * (4 * 6 + 6 * 6 + 6)
    kernel_mask, recurrent_kernel_mask = design.kernel_mask(), design.recurrent_kernel_mask()
    assert kernel_mask.shape == (4, 24) and recurrent_kernel_mask.shape == (6, 24)
    expected = int(kernel_mask.sum()) + int(recurrent_kernel_mask.sum()) + 4 * 6
    assert stats.effective_parameters == expected
    assert stats.input_density == pytest.approx(design.input_mask.mean())


def test_npz_round_trip_keeps_masks_and_metadata(tmp_path):
    design = Connectivity(
        np.eye(3, 5), np.ones((4, 5, 5)), np.array([1, 0, 1, 0, 1]), metadata={"name": "x", "n": 2}
    )
    design.save(tmp_path / "design.npz")
    assert Connectivity.load(tmp_path / "design.npz") == design
    assert Connectivity.load(io.BytesIO(design.to_npz_bytes())) == design


def test_npy_helpers_round_trip(tmp_path):
    mask = np.random.default_rng(1).random((7, 9)) < 0.5
    save_mask_npy(tmp_path / "m.npy", mask.astype(int))
    loaded = load_mask_npy(tmp_path / "m.npy")
    assert loaded.dtype == bool and np.array_equal(loaded, mask)
    assert np.array_equal(np.load(io.BytesIO(mask_npy_bytes(mask)), allow_pickle=False), mask)


def test_pickled_and_object_files_are_refused(tmp_path):
    np.save(tmp_path / "object.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never unpickles"):
        load_mask_npy(tmp_path / "object.npy")
    (tmp_path / "raw.npy").write_bytes(pickle.dumps(np.ones((2, 2))))
    with pytest.raises(ValueError, match="never unpickles"):
        load_mask_npy(tmp_path / "raw.npy")
    np.savez(tmp_path / "object.npz", input_mask=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match="never unpickles"):
        Connectivity.load(tmp_path / "object.npz")


def test_design_files_with_wrong_contents_are_refused(tmp_path):
    np.savez(tmp_path / "missing.npz", recurrent_mask=np.eye(2))
    with pytest.raises(ValueError, match="'input_mask'.*recurrent_mask"):
        Connectivity.load(tmp_path / "missing.npz")
    np.save(tmp_path / "single.npy", np.eye(2))
    with pytest.raises(ValueError, match="single .npy"):
        Connectivity.load(tmp_path / "single.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError):
        Connectivity.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "bad.npz", input_mask=np.full((2, 2), 3))
    with pytest.raises(ValueError, match="only 0 and 1"):
        Connectivity.load(tmp_path / "bad.npz")


def test_oversized_designs_are_refused_naming_the_limit_before_decompressing(monkeypatch):
    bomb = Connectivity(np.zeros((2000, 2000), bool), np.eye(2000)).to_npz_bytes()
    assert len(bomb) < 100_000  # small on disk; its masks declare about 8 MB

    def no_decompressing(*args, **kwargs):
        raise AssertionError("an array was decompressed before the size check")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_decompressing)
    with pytest.raises(ValueError, match=r"expands to 7\.6 MiB.*limit is 100,000 bytes"):
        Connectivity.load(io.BytesIO(bomb), max_bytes=100_000)
    with pytest.raises(ValueError, match=r"larger than the limit of 1,000 bytes"):
        Connectivity.load(io.BytesIO(bomb), max_bytes=1000)
    with pytest.raises(ValueError, match=r"larger than the limit of 1,000 bytes"):
        load_mask_npy(io.BytesIO(mask_npy_bytes(np.ones((40, 40)))), max_bytes=1000)


def test_resizing_keeps_existing_entries_and_switches_new_ones_on():
    design = Connectivity(np.zeros((4, 2, 3)), np.zeros((3, 3)), np.array([1, 0, 1]))
    bigger = design.resized(3, 5)
    assert bigger.input_mask.shape == (4, 3, 5) and bigger.recurrent_mask.shape == (5, 5)
    assert not bigger.input_mask[:, :2, :3].any() and bigger.input_mask[:, 2:, :].all()
    assert bigger.output_mask.tolist() == [True, False, True, True, True]
    assert bigger.resized(2, 3) == design
    with pytest.raises(ValueError, match="units=0"):
        design.resized(2, 0)


def test_signs_per_source_or_per_connection_round_trip_and_resize(tmp_path):
    design = Connectivity(np.ones((3, 4)), input_sign=[1, -1, 0],
                          recurrent_sign=np.array([[1, 0, -1, 1]] * 4))
    design.save(tmp_path / "signed.npz")
    loaded = Connectivity.load(tmp_path / "signed.npz")
    assert loaded == design and loaded.input_sign.dtype == np.int8 and loaded.signed
    assert loaded != design.replace(input_sign=[1, 1, 0])
    assert not Connectivity(np.ones((3, 4))).signed
    grown = design.resized(5, 6)
    assert grown.input_sign.tolist() == [1, -1, 0, 0, 0]  # new sources are free
    assert grown.recurrent_sign.shape == (6, 6) and grown.recurrent_sign[5].tolist() == [0] * 6
    assert design.kernel_sign().shape == (3, 16) and np.all(design.kernel_sign()[1] == -1)


def test_stats_count_excitatory_and_inhibitory_sources_and_connections():
    recurrent_mask = np.eye(4, dtype=bool)
    stats = Connectivity(np.ones((2, 4)), recurrent_mask, input_sign=[1, 1],
                         recurrent_sign=np.diag([1, -1, -1, 0])).stats()
    assert (stats.input_signs.per, stats.input_signs.excitatory) == ("source", 2)
    counts = stats.recurrent_signs  # only live connections (the diagonal) are counted
    assert (counts.per, counts.excitatory, counts.inhibitory, counts.free) == (
        "connection", 1, 2, 1)
    assert Connectivity(np.ones((2, 4))).stats().input_signs is None


@pytest.mark.parametrize("sign, message", [
    ([1, 2, 0], r"only -1, 0 and \+1. Received other values: 2"),
    ([1, 0], r"shape \(3,\) .* Received: shape \(2,\)"),
    (np.ones((3, 5)), r"Received: shape \(3, 5\)"),
    (["a", "b", "c"], "Received: dtype <U1"),
])
def test_bad_signs_name_what_came(sign, message):
    with pytest.raises(ValueError, match=message):
        Connectivity(np.ones((3, 4)), input_sign=sign)


def test_designs_and_masks_within_the_limits_load_and_wider_ones_are_refused():
    limits = Limits(max_inputs=3, max_units=4, max_upload_mb=1)
    design = Connectivity(np.ones((4, 3, 4)), np.eye(4), metadata={"name": "fits"})
    assert Connectivity.load(io.BytesIO(design.to_npz_bytes()), limits=limits) == design
    wider = Connectivity(np.eye(3, 5)).to_npz_bytes()
    with pytest.raises(ValueError, match=r"input_mask has shape \(3, 5\)\. This server allows at "
                                         r"most 4 units\. Received: 5 units\."):
        Connectivity.load(io.BytesIO(wider), limits=limits)
    assert Connectivity.load(io.BytesIO(wider)).units == 5  # no limits, no refusal

    recurrent = np.eye(4, dtype=bool)  # a mask's rows may be units: up to max(3, 4) rows
    assert np.array_equal(load_mask_npy(io.BytesIO(mask_npy_bytes(recurrent)), limits=limits),
                          recurrent)
    with pytest.raises(ValueError, match=r"shape \(5, 4\), larger than any design"):
        load_mask_npy(io.BytesIO(mask_npy_bytes(np.ones((5, 4)))), limits=limits)
    large = mask_npy_bytes(np.ones((1100, 1000)))  # 1.05 MiB, under MAX_DESIGN_BYTES
    with pytest.raises(ValueError, match=r"larger than the limit of 1\.0 MiB"):
        load_mask_npy(io.BytesIO(large), limits=limits)
