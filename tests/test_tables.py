"""CSV time series become windows without leakage, or are refused saying why."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from limconn.data import Dataset, csv_columns, example_csv_path, load_csv, load_upload
from limconn.settings import Limits
from tests.files import csv_bytes, named_bytes, row_index_frame


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


def test_csv_columns_can_list_only_the_numeric_ones():
    csv = io.BytesIO(b"date,co2,site\n2001-01-01,370.1,a\n2001-01-08,370.4,b\n")
    assert csv_columns(csv) == ["date", "co2", "site"]
    assert csv_columns(csv, numeric_only=True) == ["co2"]


LIMITS = Limits(max_samples=100, max_timesteps=10, max_inputs=2, max_outputs=2)


@pytest.mark.parametrize(
    ("frame", "options", "message"),
    [
        (row_index_frame(60), {"window": 11},
         "series.csv with window=11: This server allows at most 10 timesteps. "
         "Received: 11 timesteps."),
        (row_index_frame(60).assign(a=1.0, b=2.0), {"feature_columns": ["row", "noise", "a"]},
         "series.csv with window=3: This server allows at most 2 inputs. Received: 3 inputs."),
        (row_index_frame(60).assign(a=1.0), {"target_columns": ["row", "noise", "a"]},
         "series.csv with window=3: This server allows at most 2 outputs. Received: 3 outputs."),
        (row_index_frame(200), {},
         "series.csv cut into windows of 3 rows: This server allows at most 100 samples. "
         "Received: 194 samples."),  # (160 - 3) training + (40 - 3) validation windows
        (row_index_frame(60).assign(label=np.arange(60) % 3),
         {"target_columns": ["label"], "kind": "classification"},
         "series.csv: target column 'label' holds 3 classes: This server allows at most 2 "
         "outputs. Received: 3 outputs."),
    ],
    ids=["window", "features", "targets", "rows", "classes"],
)
def test_csv_over_the_limits_is_refused_naming_the_limit_and_the_value(frame, options, message):
    options = {"feature_columns": ["row"], "target_columns": ["row"], "window": 3, **options}
    with pytest.raises(ValueError) as refused:
        load_csv(named_bytes(csv_bytes(frame), "series.csv"), limits=LIMITS, **options)
    assert str(refused.value) == message


def test_csv_within_the_limits_loads_the_same_with_and_without_them():
    content = csv_bytes(row_index_frame(100).assign(extra=0.0))
    options = dict(feature_columns=["row", "noise"], target_columns=["row"], window=10)
    bounded = load_csv(named_bytes(content, "s.csv"), limits=LIMITS, **options)
    unbounded = load_csv(named_bytes(content, "s.csv"), **options)
    np.testing.assert_array_equal(bounded.x, unbounded.x)
    assert bounded.num_samples == (80 - 10) + (20 - 10)  # each part loses window + horizon - 1
    assert csv_columns(named_bytes(content, "s.csv"), limits=LIMITS) == ["row", "noise", "extra"]


def test_csv_keeps_only_the_chosen_columns_and_names_the_others_when_one_is_unknown():
    names = [f"c{i}" for i in range(30)]
    content = (",".join(names) + "\n" + ",".join(["1"] * 30) + "\n").encode()
    with pytest.raises(ValueError, match=r"no column 'x'\. Available columns: 'c0', 'c1', .*"
                                         r"'c19', \.\.\.\.$"):
        load_csv(io.BytesIO(content), feature_columns=["c0", "x"], target_columns="c1", window=1)
