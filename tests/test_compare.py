"""Compare's tables carry the held-out test set's loss and metric next to validation's."""

from types import SimpleNamespace

import pytest

from limconn import compare

TRAINED = {"effective_parameters": 10, "input_density": 0.5, "recurrent_density": 0.5,
           "output_density": 1.0}


def _run(seed: int, **metrics) -> SimpleNamespace:
    info = SimpleNamespace(metrics={"best_val_loss": 0.2, "final_val_loss": 0.3, **metrics},
                           strategy="kernel", design="d", dataset="adding", epochs=2,
                           status="done", max_masked_weight=0.0, id=f"r{seed}",
                           created=str(seed))
    return SimpleNamespace(info=info, record={"trained": TRAINED},
                           config=SimpleNamespace(seed=seed))


def test_summary_row_shows_the_test_loss_and_metric_after_the_validation_losses():
    row = compare.summary_row(_run(0, test_loss=0.25, test_mae=0.4))
    columns = list(row)
    assert columns.index("test loss") == columns.index("final val loss") + 1
    assert row["test loss"] == 0.25 and row["test metric"] == "mae 0.4"
    without = compare.summary_row(_run(0))
    assert without["test loss"] is None and without["test metric"] is None


def test_group_table_gives_the_test_loss_and_metric_as_mean_and_spread():
    runs = (_run(0, test_loss=0.2, test_accuracy=0.8), _run(1, test_loss=0.4,
                                                            test_accuracy=0.9))
    [row] = compare.group_rows([compare.Group("k", "label", runs, (0, 1))])
    assert row["test loss mean"] == pytest.approx(0.3) and row["test loss std"] == (
        pytest.approx(0.1))
    assert row["test metric"] == "accuracy" and row["test metric mean"] == pytest.approx(0.85)
    [shown] = compare.group_table([compare.Group("k", "label", runs, (0, 1))])
    assert shown["test loss (mean ± std)"] == "0.3 ± 0.1"
    assert shown["test metric (mean ± std)"] == "accuracy 0.85 ± 0.05"
    [plain] = compare.group_table([compare.Group("k", "label", (_run(0),), (0,))])
    assert plain["test loss (mean ± std)"] == plain["test metric (mean ± std)"] == "-"
