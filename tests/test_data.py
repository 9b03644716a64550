"""Datasets mean what their docstrings say; uploads either load correctly or say why not."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from limconn.data import (
    TASKS,
    Dataset,
    csv_columns,
    example_csv_path,
    load_csv,
    load_npy,
    load_npz,
    load_upload,
    make_task,
)

SMALL = {"num_samples": 300}


def named_bytes(content: bytes, name: str) -> io.BytesIO:
    """A binary file object with a name, like Streamlit's `UploadedFile`."""
    stream = io.BytesIO(content)
    stream.name = name
    return stream


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npz_bytes(compressed: bool = False, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


# --------------------------------------------------------------------------------------------
# Synthetic tasks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TASKS.names())
def test_tasks_are_deterministic_for_a_seed_and_differ_across_seeds(name):
    first = make_task(name, seed=1, **SMALL)
    again = make_task(name, seed=1, **SMALL)
    other = make_task(name, seed=2, **SMALL)
    assert isinstance(first, Dataset) and first.num_samples == 300
    assert first.x.dtype == np.float32
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.x, other.x)


@pytest.mark.parametrize("entry", TASKS.entries(), ids=lambda entry: entry.name)
def test_every_task_parameter_has_a_default_and_help_for_forms(entry):
    assert entry.summary
    for parameter in entry.parameters:
        assert parameter.kind in (int, float)
        assert parameter.help, f"{entry.name}({parameter.name}) lacks an Args: line"
    assert "seed" in [p.name for p in entry.parameters]


def test_task_parameters_out_of_range_are_refused_with_the_value():
    with pytest.raises(ValueError, match=r"timesteps must be a whole number >= 2.*timesteps=1"):
        make_task("adding", timesteps=1)
    with pytest.raises(ValueError, match="noise=-0.1"):
        make_task("sine", noise=-0.1)
    with pytest.raises(ValueError, match="limit is"):
        make_task("channels", num_samples=10**7, timesteps=1000)


def test_adding_targets_are_the_sum_of_the_two_marked_values_and_the_mean_baseline_is_a_sixth():
    dataset = make_task("adding")
    values, markers = dataset.x[..., 0], dataset.x[..., 1]
    half = dataset.timesteps // 2
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1)
    np.testing.assert_allclose(dataset.y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)
    constant_mean_mse = float(((dataset.y - dataset.y.mean()) ** 2).mean())
    assert 0.15 <= constant_mean_mse <= 0.18


def test_copy_targets_are_the_values_shown_before_the_delay():
    dataset = make_task("copy", num_values=4, delay=7, **SMALL)
    assert dataset.timesteps == 4 + 7 + 1
    np.testing.assert_array_equal(dataset.y, dataset.x[:, :4, 0])
    assert not dataset.x[:, 4:, 0].any()
    np.testing.assert_array_equal(dataset.x[:, :, 1].sum(axis=1), 1)
    assert (dataset.x[:, -1, 1] == 1).all()


def test_sine_target_continues_the_window_of_the_same_sum_of_sines():
    # A noiseless sum of k sines obeys one linear recurrence of order 2k; the periods are
    # shared, so one linear map from the last 2k inputs predicts every target exactly.
    num_waves = 2
    clean = make_task("sine", num_waves=num_waves, noise=0.0, **SMALL)
    noisy = make_task("sine", num_waves=num_waves, noise=0.2, **SMALL)

    def recurrence_error(dataset):
        recent = dataset.x[:, -2 * num_waves :, 0].astype(np.float64)
        coefficients, *_ = np.linalg.lstsq(recent, dataset.y[:, 0], rcond=None)
        return np.abs(recent @ coefficients - dataset.y[:, 0]).max()

    assert recurrence_error(clean) < 1e-3
    assert recurrence_error(noisy) > 0.05


def test_channels_targets_depend_only_on_their_own_group():
    groups, per_group, timesteps = 3, 2, 5
    dataset = make_task(
        "channels", groups=groups, features_per_group=per_group, timesteps=timesteps, **SMALL
    )
    flat_inputs = dataset.x.reshape(dataset.num_samples, -1).astype(np.float64)
    feature_group = np.tile(np.repeat(np.arange(groups), per_group), timesteps)
    for group in range(groups):
        # Each target is an exact linear function of the inputs: fit it and read off which
        # inputs it uses. Perturbing another group's inputs would leave it unchanged.
        weights, *_ = np.linalg.lstsq(flat_inputs, dataset.y[:, group], rcond=None)
        np.testing.assert_allclose(weights[feature_group != group], 0, atol=1e-5)
        np.testing.assert_allclose(
            np.abs(weights[feature_group == group]), 1 / np.sqrt(timesteps * per_group), rtol=1e-4
        )
    assert 0.8 < dataset.y.var() < 1.2


def test_largest_sum_labels_name_the_largest_channel_and_are_balanced():
    dataset = make_task("largest_sum", num_channels=3)
    assert dataset.kind == "classification" and dataset.output_dim == 3
    assert dataset.y.dtype == np.int32
    np.testing.assert_array_equal(dataset.y, dataset.x.sum(axis=1).argmax(axis=1))
    frequencies = np.bincount(dataset.y, minlength=3) / dataset.num_samples
    assert ((frequencies > 0.28) & (frequencies < 0.39)).all(), frequencies


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError, match="Choose one of: adding, copy"):
        make_task("addition")


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def regression(num_samples=10, **changes) -> Dataset:
    fields = dict(
        name="toy",
        description="toy",
        kind="regression",
        x=np.zeros((num_samples, 4, 2), np.float32),
        y=np.arange(num_samples, dtype=np.float32)[:, None],
    )
    return Dataset(**{**fields, **changes})


def test_split_takes_the_tail_for_iid_data_and_validation_start_for_time_series():
    x_train, y_train, x_val, y_val = regression().split(0.3)
    assert (len(x_train), len(x_val)) == (7, 3)
    np.testing.assert_array_equal(y_val[:, 0], [7, 8, 9])
    assert len(regression().split(0.0)[2]) == 0
    _, y_train, _, y_val = regression(validation_start=4).split(0.5)
    np.testing.assert_array_equal(y_train[:, 0], [0, 1, 2, 3])
    with pytest.raises(ValueError, match="validation_split=1.5"):
        regression().split(1.5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"x": np.zeros((10, 4), np.float32)}, r"shape \(samples, timesteps, features\)"),
        ({"x": np.zeros((10, 4, 2))}, "dtype float64"),
        ({"y": np.zeros((9, 1), np.float32)}, "x has 10 samples but y has 9"),
        ({"y": np.full((10, 1), np.nan, np.float32)}, "10 NaN"),
        ({"kind": "ranking"}, "kind='ranking'"),
        ({"feature_names": ("a",)}, "feature_names must be empty or have 2 names"),
        ({"validation_start": 0}, "validation_start=0"),
        ({"num_classes": 3}, "num_classes is for classification only"),
        (
            {"kind": "classification", "y": np.arange(10, dtype=np.int32), "num_classes": 5},
            r"labels must lie in 0..4",
        ),
    ],
)
def test_dataset_refuses_inconsistent_fields_and_names_what_came(changes, message):
    with pytest.raises(ValueError, match=message):
        regression(**changes)


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def row_index_frame(num_rows: int) -> pd.DataFrame:
    """Column `row` holds each row's index, so windows and targets can be traced back."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"row": np.arange(num_rows, dtype=float), "noise": rng.normal(size=num_rows)}
    )


def test_csv_split_has_no_leakage_across_the_boundary():
    frame = row_index_frame(100)
    window, horizon = 5, 3
    dataset = load_csv(
        named_bytes(csv_bytes(frame), "series.csv"),
        feature_columns=["row", "noise"],
        target_columns=["row"],
        window=window,
        horizon=horizon,
        validation_split=0.25,
    )
    first_validation_row = 75
    training_rows = frame.iloc[:first_validation_row]
    for column in ("row", "noise"):
        assert dataset.normalization.mean[column] == pytest.approx(training_rows[column].mean())
        assert dataset.normalization.std[column] == pytest.approx(training_rows[column].std(ddof=0))

    norm = dataset.normalization
    input_rows = norm.denormalize(dataset.x[..., :1].astype(np.float64), ["row"])[..., 0]
    target_rows = norm.denormalize(dataset.y.astype(np.float64), ["row"])[:, 0]
    np.testing.assert_allclose(target_rows, input_rows[:, -1] + horizon, atol=1e-3)

    start = dataset.validation_start
    assert start == first_validation_row - window - horizon + 1
    assert target_rows[:start].max() == pytest.approx(first_validation_row - 1, abs=1e-3)
    assert target_rows[:start].max() < first_validation_row
    assert input_rows[start:].min() == pytest.approx(first_validation_row, abs=1e-3)
    assert dataset.num_samples - start == 25 - window - horizon + 1


def test_csv_without_validation_fits_on_all_rows_and_split_gives_empty_validation():
    dataset = load_csv(
        named_bytes(csv_bytes(row_index_frame(30)), "series.csv"),
        feature_columns="noise",
        target_columns="row",
        window=4,
        validation_split=0.0,
    )
    assert dataset.validation_start == dataset.num_samples == 30 - 4
    assert len(dataset.split()[2]) == 0


def test_csv_classification_keeps_labels_unscaled():
    frame = row_index_frame(40).assign(label=np.arange(40) % 3)
    dataset = load_csv(
        named_bytes(csv_bytes(frame), "labels.csv"),
        feature_columns=["noise"],
        target_columns=["label"],
        window=3,
        horizon=0,
        kind="classification",
    )
    assert dataset.num_classes == 3 and dataset.y.dtype == np.int32
    assert set(dataset.normalization.mean) == {"noise"}
    np.testing.assert_array_equal(dataset.y[: dataset.validation_start], (np.arange(2, 32) % 3))


def test_csv_path_and_named_file_object_give_the_same_dataset(tmp_path):
    content = csv_bytes(row_index_frame(50))
    path = tmp_path / "series.csv"
    path.write_bytes(content)
    options = dict(feature_columns=["noise"], target_columns=["row"], window=6)
    from_path = load_csv(path, **options)
    upload = named_bytes(content, "series.csv")
    assert csv_columns(upload) == ["row", "noise"]
    from_upload = load_csv(upload, **options)  # read again from its start
    np.testing.assert_array_equal(from_path.x, from_upload.x)
    np.testing.assert_array_equal(from_path.y, from_upload.y)
    assert from_path.name == from_upload.name == "series.csv"
    assert load_upload(upload, **options).num_samples == from_path.num_samples


def frame_with_gaps() -> pd.DataFrame:
    frame = pd.DataFrame({"a": np.arange(20, dtype=float), "b": np.ones(20)})
    frame.loc[[3, 4], "a"] = np.nan
    frame.loc[16, "a"] = np.nan  # the first validation row with validation_split=0.2
    frame.loc[9, "b"] = np.inf
    return frame


def load_gaps(missing: str) -> Dataset:
    return load_csv(
        named_bytes(csv_bytes(frame_with_gaps()), "gaps.csv"),
        feature_columns=["a", "b"],
        target_columns=["a"],
        window=2,
        validation_split=0.2,
        missing=missing,
    )


def test_csv_missing_values_are_counted_and_the_choices_named():
    with pytest.raises(ValueError, match=r"4 missing or infinite.*'a': 3, 'b': 1.*missing='drop'"):
        load_gaps("error")


def test_csv_missing_drop_removes_rows_and_fill_stays_inside_each_part():
    dropped = load_gaps("drop")
    # 16 training rows minus 3 dropped, 4 validation rows minus 1, windows of 2 + horizon 1.
    assert dropped.validation_start == 13 - 2
    assert dropped.num_samples - dropped.validation_start == 3 - 2

    filled = load_gaps("fill")
    norm = filled.normalization
    a_rows = norm.denormalize(filled.x[..., :1].astype(np.float64), ["a"])[..., 0]
    start = filled.validation_start
    np.testing.assert_allclose(a_rows[3], [2, 2], atol=1e-4)  # rows 3 and 4 forward-filled
    # Row 16 opens the validation part: it is back-filled from row 17, not from training row 15.
    np.testing.assert_allclose(a_rows[start], [17, 17], atol=1e-4)
    training_a = np.array([0, 1, 2, 2, 2, *range(5, 16)], float)
    assert norm.mean["a"] == pytest.approx(training_a.mean())


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"a,b\n1,x\n2,y\n", {"feature_columns": ["b"]}, r"'b' \(e.g. 'x'\) are not numeric"),
        (b"a,b\n1,2\n", {"feature_columns": ["c"]}, r"no column 'c'. Available columns: 'a', 'b'"),
        (b"", {}, "is empty"),
        (b"a;b\n1;2\n3;4\n", {}, "semicolons"),
        (b"a,b\n\xff\xfe\x00,1\n", {}, "could not be read as CSV"),
        (b"a,b\n1,2\n", {"target_columns": ["a", "b"], "kind": "classification"}, "exactly one"),
        (b"a,b\n1,2\n", {"missing": "zero"}, "missing='zero'"),
    ],
)
def test_csv_bad_input_is_refused_with_the_key_fact(content, options, message):
    options = {"feature_columns": ["a"], "target_columns": ["a"], "window": 1, **options}
    with pytest.raises(ValueError, match=message):
        load_csv(named_bytes(content, "bad.csv"), **options)


def test_csv_too_few_rows_says_how_many_are_needed():
    content = csv_bytes(row_index_frame(40))
    options = dict(feature_columns=["row"], target_columns=["row"], horizon=2)
    with pytest.raises(ValueError, match=r"training part .* has 20 usable row\(s\).* need 22"):
        load_csv(named_bytes(content, "s.csv"), window=20, validation_split=0.5, **options)
    with pytest.raises(ValueError, match=r"validation part .* has 4 usable row\(s\).* need 7"):
        load_csv(named_bytes(content, "s.csv"), window=5, validation_split=0.1, **options)


def test_example_csv_loads_into_a_sensible_co2_dataset():
    assert example_csv_path().stat().st_size < 200_000
    assert csv_columns(example_csv_path()) == ["date", "co2"]
    with pytest.raises(ValueError, match="59 missing"):
        load_csv(example_csv_path(), feature_columns=["co2"], target_columns=["co2"], window=52)
    dataset = load_csv(
        example_csv_path(), feature_columns=["co2"], target_columns=["co2"], window=52,
        missing="fill",
    )
    assert dataset.x.shape == (dataset.num_samples, 52, 1)
    assert 0.75 < dataset.validation_start / dataset.num_samples < 0.85
    ppmv = dataset.normalization.denormalize(dataset.y.astype(np.float64), ["co2"])
    assert ppmv.min() > 310 and ppmv.max() < 380
    _, y_train, _, y_val = dataset.split()
    assert y_val.mean() > y_train.mean()  # CO2 rises: validation is later in time
    assert 310 < dataset.normalization.mean["co2"] < 350


# --------------------------------------------------------------------------------------------
# NPY / NPZ
# --------------------------------------------------------------------------------------------

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


def test_wrong_kind_of_numpy_file_is_named():
    with pytest.raises(ValueError, match="single .npy array, not an .npz"):
        load_npz(named_bytes(npy_bytes(X), "X.npz"))
    with pytest.raises(ValueError, match="is an .npz archive, not a .npy"):
        load_npy(named_bytes(npz_bytes(X=X), "X.npy"), io.BytesIO(npy_bytes(X)))
    with pytest.raises(ValueError, match="Could not read .*missing.npz"):
        load_npz("/nonexistent/missing.npz")


# --------------------------------------------------------------------------------------------
# Fuzz: whatever the bytes, a loader answers with a ValueError or a Dataset
# --------------------------------------------------------------------------------------------

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



def test_csv_columns_can_list_only_the_numeric_ones():
    csv = io.BytesIO(b"date,co2,site\n2001-01-01,370.1,a\n2001-01-08,370.4,b\n")
    assert csv_columns(csv) == ["date", "co2", "site"]
    assert csv_columns(csv, numeric_only=True) == ["co2"]
