"""A Dataset splits as documented and refuses inconsistent fields, naming what came."""

from __future__ import annotations

import numpy as np
import pytest

from limconn.data import Dataset, make_task


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


def test_hold_out_takes_the_last_samples_with_their_weights():
    dataset = make_task("delayed_match", num_samples=50, delay=2, num_stimuli=2)
    rest, test = dataset.hold_out(0.2)
    assert (rest.num_samples, test.num_samples) == (40, 10)
    np.testing.assert_array_equal(test.weights, dataset.weights[40:])
    np.testing.assert_array_equal(test.y, dataset.y[40:])
    assert dataset.hold_out(0.0) == (dataset, None)
    with pytest.raises(ValueError, match=r"test_split must be in \[0, 1\). Received: "):
        dataset.hold_out(1.5)


def test_hold_out_of_a_time_series_comes_from_its_validation_part():
    x = np.zeros((10, 3, 1), "float32")
    series = Dataset("s", "", "regression", x, np.zeros((10, 1), "float32"), validation_start=6)
    rest, test = series.hold_out(0.2)
    assert rest.validation_start == 6 and rest.num_samples == 8 and test.num_samples == 2
    with pytest.raises(ValueError, match="validation part, which starts at sample 6"):
        series.hold_out(0.5)
