"""Hostile input: every file path answers with a readable ValueError, before allocating.

Five paths take files from visitors: a CSV upload, X and y as `.npy`, X and y in one `.npz`,
a design `.npz` and a single mask `.npy`. For each, named hostile cases are refused with a
message that says what came, and a fuzzer checks that any bytes at all (random, a valid file
damaged, or a small file declaring a huge shape) give a result or a plain `ValueError`,
never another exception, and never more memory than the limits allow.
"""

from __future__ import annotations

import io
import pickle
import re
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limconn.connectivity import Connectivity, load_mask_npy, mask_npy_bytes
from limconn.data import Dataset, csv_columns, load_csv, load_npy, load_npz
from limconn.settings import Limits
from tests.files import (
    csv_bytes,
    declared_npy,
    named_bytes,
    npy_bytes,
    npz_bytes,
    refusal,
    row_index_frame,
    zip_bytes,
)

LIMITS = Limits(
    max_units=8, max_inputs=8, max_timesteps=50, max_samples=100, max_outputs=4, max_upload_mb=1
)
# What refusing a small file may hold at once: its bytes, parsers' buffers, array headers;
# never the arrays it declares.
SMALL_PEAK = 1024 * 1024

X = np.random.default_rng(0).normal(size=(12, 5, 3))


# --------------------------------------------------------------------------------------------
# CSV upload
# --------------------------------------------------------------------------------------------


def wide_header(num_columns: int) -> bytes:
    names = ",".join(f"c{i}" for i in range(num_columns))
    return f"{names}\n{','.join('1' * num_columns)}\n".encode()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pickle.dumps(row_index_frame(5)), r"could not be read as CSV \('utf-8' codec can't "),
        ("a\n1\n2\n".encode("utf-16"), r"could not be read as CSV \('utf-8' codec can't decode "
         r"byte 0xff in position 0"),
        (b"a,b\n1,2\n3,\xe9\n", r"could not be read as CSV \('utf-8' codec can't decode byte 0xe9"),
        (b'a,b\n1,"2\n', r"could not be read as CSV \(.*EOF inside string"),
        (b"a,b\n", r"has a header row but no rows of data\. Received: 0 rows"),
        (b"a,b\n1,2\nnan,3\ninf,4\n-inf,5\n", r"3 missing or infinite value\(s\).*'a': 3"),
        (wide_header(20), r"at most 12 columns in a CSV file \(max_inputs 8 \+ max_outputs 4\)\. "
         r"Received: 20 columns in the header row"),
        (wide_header(10**5), r"at most 12 columns in a CSV file.*Received: at least \d+ columns"),
        (b"a\n" + b"1\n" * 600_000, r"larger than the limit of 1\.0 MiB\. Received: 1\.1 MiB"),
    ],
    ids=["pickle", "utf-16", "latin-1 cell", "truncated", "zero rows", "nan and inf",
         "20 columns", "10^5 columns", "over the upload limit"],
)
def test_hostile_csv_is_refused_with_a_readable_message(content, message):
    upload = named_bytes(content, "hostile.csv")
    text = refusal(
        lambda: load_csv(upload, feature_columns=["a"], target_columns=["a"], window=1,
                         limits=LIMITS),
        max_peak_bytes=4 * len(content) + SMALL_PEAK,
    )
    assert text.startswith("hostile.csv")
    assert re.search(message, text), text


def test_a_million_csv_columns_are_refused_from_the_header_row_alone():
    content = wide_header(10**6)  # 14 MB; pandas takes minutes to parse its header
    for load in (
        lambda: csv_columns(io.BytesIO(content), limits=Limits()),
        lambda: load_csv(io.BytesIO(content), feature_columns="c1", target_columns="c2",
                         window=1, limits=Limits()),
    ):
        message = refusal(load, max_peak_bytes=len(content) + 2 * SMALL_PEAK)
        assert "at most 356 columns in a CSV file" in message
        assert "Received: at least 1" in message  # only the header's start is read


def test_a_header_row_longer_than_the_limits_need_is_refused_with_limits_only():
    content = b"a," + b"b" * 100_000 + b"\n1,2\n"
    message = refusal(lambda: csv_columns(io.BytesIO(content), limits=Limits()), 2 * SMALL_PEAK)
    assert "header row is longer than 91,136 characters" in message  # 356 names of 256
    assert csv_columns(io.BytesIO(content)) == ["a", "b" * 100_000]


# --------------------------------------------------------------------------------------------
# X and y as .npy
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (npy_bytes(X), declared_npy((10**9,)),
         r"y\.npy is truncated or damaged: its header declares shape \(1000000000,\) of float32 "
         r"\(4,000,000,000 bytes\) but 0 bytes of data follow"),
        (npy_bytes(np.zeros((1, 1, 10**6), bool)), npy_bytes(np.zeros(1)),
         r"X\.npy, shape \(1, 1, 1000000\): This server allows at most 8 inputs\. "
         r"Received: 1,000,000 inputs"),
        (npy_bytes(np.zeros((101, 2, 1), bool)), npy_bytes(np.zeros(101)),
         r"X\.npy, shape \(101, 2, 1\): This server allows at most 100 samples"),
        (npy_bytes(np.zeros((0, 5, 3), np.float32)), npy_bytes(np.zeros(0)),
         r"x must be a float32 array .* none of them 0\. Received: dtype float32, "
         r"shape \(0, 5, 3\)"),
        (npy_bytes(X), npy_bytes(np.full(12, -np.inf)), r"y holds 0 NaN and 12 infinite"),
        (npy_bytes(X.astype(complex)), npy_bytes(np.zeros(12)),
         r"X\.npy must hold real numbers \(bool, int or float\)\. Received: dtype complex128"),
        (npy_bytes(np.zeros(12, [("a", "<f4")])), npy_bytes(np.zeros(12)),
         r"X\.npy must hold real numbers .*Received: dtype \[\('a', '<f4'\)\]"),
        (npy_bytes(X), npy_bytes(np.array(["1"] * 12, dtype=object), allow_pickle=True),
         r"y\.npy holds pickled Python objects; limconn never unpickles"),
    ],
    ids=["huge declared y", "10^6 features", "too many samples", "zero rows", "inf",
         "complex", "structured", "object y"],
)
def test_hostile_npy_pair_is_refused_with_a_readable_message(x, y, message):
    text = refusal(
        lambda: load_npy(named_bytes(x, "X.npy"), named_bytes(y, "y.npy"), limits=LIMITS),
        max_peak_bytes=2 * (len(x) + len(y)) + SMALL_PEAK,
    )
    assert re.search(message, text), text


@pytest.mark.parametrize("packed", ["npy", "npz"])
def test_a_regression_target_with_ten_million_columns_is_refused_from_its_header(packed):
    y = np.zeros((1, 10**7), bool)  # 10 MB, inside the default 50 MB upload limit
    x = np.zeros((1, 3, 2), np.float32)
    if packed == "npy":
        x_file, y_file = named_bytes(npy_bytes(x), "X.npy"), named_bytes(npy_bytes(y), "y.npy")
        message = refusal(lambda: load_npy(x_file, y_file, limits=Limits()), 11 * 1024 * 1024)
    else:
        archive = named_bytes(npz_bytes(compressed=True, X=x, y=y), "data.npz")
        message = refusal(lambda: load_npz(archive, limits=Limits()), SMALL_PEAK)
    assert "shape (1, 10000000): This server allows at most 100 outputs. " in message
    assert "Received: 10,000,000 outputs." in message


# --------------------------------------------------------------------------------------------
# X and y in one .npz
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (npz_bytes(compressed=True, X=np.zeros((1000, 100, 10), bool), y=np.zeros(1000)),
         r"hostile\.npz: X, shape \(1000, 100, 10\): This server allows at most 100 samples\. "
         r"Received: 1,000 samples"),
        (zip_bytes({"X.npy": declared_npy((10**6,) * 3), "y.npy": npy_bytes(np.zeros(3))}),
         r"X, shape \(1000000, 1000000, 1000000\): This server allows at most 100 samples"),
        (zip_bytes({"X.npy": npy_bytes(X), "y.npy": npy_bytes(np.zeros(12))}, zipfile.ZIP_BZIP2),
         r"array 'X\.npy' is compressed with bzip2; limconn reads arrays stored or deflated"),
        (zip_bytes({"X.npy": npy_bytes(X), "y.npy": npy_bytes(np.zeros(12))}, zipfile.ZIP_LZMA),
         r"array 'X\.npy' is compressed with lzma"),
        (npz_bytes(X=X, y=np.zeros(12))[:700], r"hostile\.npz is not a readable \.npz archive"),
        (zip_bytes({"X.npy": npy_bytes(X), "x.npy": npy_bytes(X), "y.npy": b""}),
         r"has more than one array named X or x\."),
        (npz_bytes(X=np.zeros((20, 2, 1)), y=np.arange(20)),
         r"y holds 20 classes: This server allows at most 4 outputs\. Received: 20 outputs"),
        (npz_bytes(X=X.astype(np.float32), y=np.zeros((12, 5))),
         r"y, shape \(12, 5\): This server allows at most 4 outputs\. Received: 5 outputs"),
    ],
    ids=["declared samples", "declared 10^18 entries", "bzip2", "lzma", "truncated",
         "ambiguous X", "too many classes", "too many outputs"],
)
def test_hostile_npz_is_refused_with_a_readable_message(content, message):
    text = refusal(
        lambda: load_npz(named_bytes(content, "hostile.npz"), limits=LIMITS),
        max_peak_bytes=2 * len(content) + 256 * 1024,
    )
    assert re.search(message, text), text


# --------------------------------------------------------------------------------------------
# Design .npz
# --------------------------------------------------------------------------------------------

WIDE_INPUT_ONLY = npz_bytes(compressed=True, input_mask=np.zeros((1, 100_000), bool))


def test_a_tiny_design_cannot_make_load_allocate_its_implied_recurrent_mask():
    assert len(WIDE_INPUT_ONLY) < 400  # its recurrent mask would be (100000, 100000): 9.3 GiB
    message = refusal(lambda: Connectivity.load(io.BytesIO(WIDE_INPUT_ONLY)), SMALL_PEAK)
    assert (
        "has no recurrent_mask, so its input_mask of shape (1, 100000) implies a dense "
        "(100000, 100000) one: 9.3 GiB, over the limit of 64.0 MiB" in message
    )
    message = refusal(
        lambda: Connectivity.load(io.BytesIO(WIDE_INPUT_ONLY), limits=LIMITS), SMALL_PEAK
    )
    assert "input_mask has shape (1, 100000). This server allows at most 8 units." in message


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"input_mask": np.ones((2, 257), bool), "recurrent_mask": np.eye(257, dtype=bool)},
         r"input_mask has shape \(2, 257\)\. This server allows at most 256 units\. "
         r"Received: 257 units\."),
        ({"input_mask": np.ones((300, 4), bool)},
         r"input_mask has shape \(300, 4\)\. This server allows at most 256 inputs\."),
        ({"input_mask": np.ones((2, 4), bool), "recurrent_mask": np.ones((4, 300, 300), bool)},
         r"recurrent_mask has shape \(4, 300, 300\)\. This server allows at most 256 units"),
        ({"input_mask": np.array([[0.0, np.nan]])},
         r"input_mask must hold only 0 and 1\. Received: 1 NaN value\(s\)\."),
        ({"input_mask": np.eye(2), "metadata_json": np.array(b"{}")},
         r"array 'metadata_json\.npy' must hold real numbers \(bool, int or float\) or text\. "
         r"Received: dtype \|S2"),
        ({"input_mask": np.eye(2), "metadata_json": np.array("{'name': 1}")},
         r"metadata_json is not valid JSON"),
    ],
    ids=["wider than the painter", "more inputs", "per-gate recurrent", "nan", "bytes metadata",
         "bad json"],
)
def test_hostile_design_is_refused_with_a_readable_message(arrays, message):
    content = npz_bytes(compressed=True, **arrays)
    text = refusal(
        lambda: Connectivity.load(named_bytes(content, "design.npz"), limits=Limits()),
        max_peak_bytes=SMALL_PEAK,
    )
    assert re.search(message, text), text


def test_damaged_or_bzip2_design_archives_are_refused():
    design = Connectivity(np.eye(3, 4), np.eye(4)).to_npz_bytes()
    truncated = io.BytesIO(design[: len(design) // 2])
    assert "not a readable .npz archive" in refusal(lambda: Connectivity.load(truncated),
                                                    SMALL_PEAK)
    bzip2 = zip_bytes({"input_mask.npy": npy_bytes(np.eye(2, dtype=bool))}, zipfile.ZIP_BZIP2)
    assert "'input_mask.npy' is compressed with bzip2" in refusal(
        lambda: Connectivity.load(io.BytesIO(bzip2)), SMALL_PEAK
    )


# --------------------------------------------------------------------------------------------
# A single mask .npy
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (mask_npy_bytes(np.ones((2, 257))),
         r"mask\.npy holds a mask of shape \(2, 257\), larger than any design this server "
         r"allows: at most 256 rows \(inputs or units\) and 256 columns \(units\)"),
        (mask_npy_bytes(np.ones((300, 4))), r"holds a mask of shape \(300, 4\), larger than"),
        (mask_npy_bytes(np.ones((4, 2, 257))), r"holds a mask of shape \(4, 2, 257\)"),
        (declared_npy((1, 10**9), "|b1"),
         r"mask\.npy is truncated or damaged: its header declares shape \(1, 1000000000\)"),
        (npy_bytes(np.array([[0.0, np.nan]])), r"1 NaN value\(s\)"),
        (npy_bytes(np.array([["a"]])), r"must hold real numbers .*Received: dtype <U1"),
        (npy_bytes(np.ones((1, 1, 1, 1))), r"must be 2-D or 3-D\. Received: shape \(1, 1, 1, 1\)"),
        (npy_bytes(X)[:60], r"mask\.npy has a damaged \.npy header"),
    ],
    ids=["wider than the painter", "more rows", "per gate", "huge declared", "nan", "text",
         "4-D", "truncated header"],
)
def test_hostile_mask_is_refused_with_a_readable_message(content, message):
    text = refusal(
        lambda: load_mask_npy(named_bytes(content, "mask.npy"), limits=Limits()),
        max_peak_bytes=SMALL_PEAK,
    )
    assert re.search(message, text), text


# --------------------------------------------------------------------------------------------
# Fuzz: whatever the bytes, a loader answers with a result or a plain ValueError
# --------------------------------------------------------------------------------------------

VALID_NPZ = npz_bytes(X=X[:3], y=np.arange(3) % 2)
VALID_COMPRESSED_NPZ = npz_bytes(compressed=True, X=X[:3], y=np.zeros(3))
VALID_NPY = npy_bytes(X[:3])
VALID_CSV = csv_bytes(row_index_frame(12))
VALID_DESIGN = Connectivity(np.eye(3, 4), np.eye(4), metadata={"name": "d"}).to_npz_bytes()
VALID_INPUT_ONLY_DESIGN = npz_bytes(input_mask=np.eye(2, 3, dtype=bool))
VALID_MASK = mask_npy_bytes(np.eye(3, 4))
# What any fuzzed file of a few hundred bytes may make a loader hold at once, with LIMITS.
FUZZ_PEAK = 8 * 1024 * 1024


@st.composite
def damaged(draw, valid: bytes) -> bytes:
    """A valid file with some bytes overwritten, then maybe cut short."""
    content = bytearray(valid)
    for _ in range(draw(st.integers(1, 8))):
        content[draw(st.integers(0, len(content) - 1))] = draw(st.integers(0, 255))
    return bytes(content[: draw(st.integers(0, len(content)))])


@st.composite
def declaring(draw) -> bytes:
    """A small `.npy` whose header declares any shape (often huge) of a plain dtype."""
    shape = draw(st.lists(st.integers(0, 10**12) | st.integers(0, 300), max_size=4))
    dtype = draw(st.sampled_from(["|b1", "<f4", "<f8", "<i8", "|u1", "<U3"]))
    return declared_npy(tuple(shape), dtype, draw(st.binary(max_size=64)))


def any_bytes(*valid: bytes):
    return st.one_of(st.binary(max_size=300), declaring(), *(damaged(v) for v in valid))


def archives(*names: str):
    """`.npz` archives whose members (named `names`) are any bytes, declared shapes included."""
    members = st.fixed_dictionaries({name: any_bytes() for name in names})
    return st.builds(zip_bytes, members, st.sampled_from([zipfile.ZIP_STORED,
                                                          zipfile.ZIP_DEFLATED]))


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME_LIMITS = st.sampled_from([None, LIMITS])


def answers_plainly(load, limits: Limits | None) -> None:
    """`load()` returns a result or raises a plain ValueError with a message; with limits,
    it holds at most FUZZ_PEAK at once."""
    tracemalloc.start()
    try:
        result = load()
    except ValueError as error:
        assert type(error) is ValueError and str(error), repr(error)
    else:
        assert isinstance(result, (Dataset, list, Connectivity, np.ndarray))
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if limits is not None:
        assert peak <= FUZZ_PEAK, f"held {peak:,} bytes"


@FUZZ
@given(
    content=st.one_of(
        any_bytes(VALID_CSV),
        st.text(alphabet=st.sampled_from(list('ab,;\n\t"0123456789.-+eEinfNa x')), max_size=200)
        .map(lambda text: ("row,noise\n" + text).encode()),
    ),
    window=st.integers(1, 4),
    missing=st.sampled_from(["error", "drop", "fill"]),
    limits=SOME_LIMITS,
)
def test_fuzz_csv_upload(content, window, missing, limits):
    answers_plainly(lambda: csv_columns(named_bytes(content, "f.csv"), limits=limits), limits)
    answers_plainly(
        lambda: load_csv(
            named_bytes(content, "f.csv"), feature_columns=["row", "noise"],
            target_columns=["row"], window=window, missing=missing, limits=limits,
        ),
        limits,
    )


@FUZZ
@given(content=any_bytes(VALID_NPY), limits=SOME_LIMITS)
def test_fuzz_npy_pair(content, limits):
    y = npy_bytes(np.zeros(3))
    answers_plainly(
        lambda: load_npy(named_bytes(content, "X.npy"), io.BytesIO(y), limits=limits), limits
    )
    answers_plainly(
        lambda: load_npy(io.BytesIO(VALID_NPY), named_bytes(content, "y.npy"), limits=limits),
        limits,
    )


@FUZZ
@given(
    content=st.one_of(any_bytes(VALID_NPZ, VALID_COMPRESSED_NPZ), archives("X.npy", "y.npy")),
    limits=SOME_LIMITS,
)
def test_fuzz_npz(content, limits):
    answers_plainly(lambda: load_npz(named_bytes(content, "f.npz"), limits=limits), limits)


@FUZZ
@given(
    content=st.one_of(
        any_bytes(VALID_DESIGN, VALID_INPUT_ONLY_DESIGN),
        archives("input_mask.npy"),
        archives("input_mask.npy", "recurrent_mask.npy", "output_mask.npy"),
    ),
    limits=SOME_LIMITS,
)
def test_fuzz_design_npz(content, limits):
    answers_plainly(lambda: Connectivity.load(io.BytesIO(content), limits=limits), limits)


# NumPy reads a .npy header with ast.literal_eval, which warns about escapes such as "\c"
# in a fuzzed header before refusing it; the warning is the fuzzer's, not ours.
@pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
@FUZZ
@given(content=any_bytes(VALID_MASK), limits=SOME_LIMITS)
def test_fuzz_mask_npy(content, limits):
    answers_plainly(lambda: load_mask_npy(io.BytesIO(content), limits=limits), limits)
