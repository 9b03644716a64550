"""The whole app in a real browser: paint, export, train, compare.

Runs `app.py` under `streamlit run` (runs kept in a tmp `LIMCONN_HOME`) and drives Debian's
Chromium through Playwright (see `tests/browser.py`; a failing test leaves a screenshot in
`test-artifacts/`). The painter renders in an open shadow root, which Playwright's CSS
locators pierce; its canvas exposes its geometry as `data-rows/cols/cell/left/top`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser import draw_stroke, streamlit_server

pytestmark = pytest.mark.browser

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT_MS = 30_000  # one rerun; the first one imports Keras
TRAIN_TIMEOUT_MS = 120_000  # a short training run, queue to "done"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("limconn-home")
    env = {"LIMCONN_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with streamlit_server(APP, env=env, timeout=90) as url:
        yield url


def _open(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector("[data-testid=stApp]", timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Design", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )
    _wait_idle(page)


def _wait_idle(page: Page, timeout: int = TIMEOUT_MS) -> None:
    """Waits until the app's script is not running (the frontend's own flag on stApp)."""
    page.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout
    )


def _metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def _set_number(page: Page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))
    _wait_idle(page)


def _nav(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=TIMEOUT_MS)


def test_painted_cells_reach_the_exported_mask(page: Page, app_url: str, tmp_path: Path) -> None:
    _open(page, app_url)
    painter = page.locator(".lc-painter").first  # input → unit
    canvas = painter.locator("canvas.lc-grid")
    expect(canvas).to_have_attribute("data-rows", "2", timeout=TIMEOUT_MS)
    expect(canvas).to_have_attribute("data-cols", "16")
    rows, cols = 2, 16

    painter.get_by_role("button", name="clear", exact=True).click()
    expect(_metric(page, "Input density")).to_have_text("0%", timeout=TIMEOUT_MS)
    _wait_idle(page)

    # A real drag in draw mode: along row 0 from unit 2 to unit 9, then down to row 1.
    draw_stroke(page, painter, [(0, 2), (0, 9), (1, 9)])
    expected = np.zeros((rows, cols), dtype=bool)
    expected[0, 2:10] = True
    expected[1, 9] = True
    expect(_metric(page, "Input density")).to_have_text(
        f"{expected.mean():.0%}", timeout=TIMEOUT_MS
    )
    _wait_idle(page)

    with page.expect_download(timeout=TIMEOUT_MS) as download_info:
        page.get_by_test_id("stDownloadButton").filter(has_text="input_mask.npy").get_by_role(
            "button"
        ).click()
    download = download_info.value
    assert download.suggested_filename == "input_mask.npy"
    saved = tmp_path / "input_mask.npy"
    download.save_as(saved)
    exported = np.load(saved, allow_pickle=False)
    assert exported.dtype == bool
    np.testing.assert_array_equal(exported, expected)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_train_then_compare(page: Page, app_url: str) -> None:
    _open(page, app_url)
    _nav(page, "Train")
    _wait_idle(page)
    _set_number(page, "num_samples", 200)
    _set_number(page, "timesteps", 10)
    _set_number(page, "Epochs", 2)
    expect(page.get_by_text("200 sequences × 10 steps × 2 features")).to_be_visible()

    page.get_by_role("button", name="Train", exact=True).click()
    # The job's card: a bordered container titled with the job's name.
    card = page.get_by_test_id("stVerticalBlock").filter(has_text="design 1 · kernel · adding")
    expect(card.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
    done = page.get_by_test_id("stAlertContentSuccess").filter(has_text="saved as run")
    expect(done).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
    expect(done).to_contain_text("done")
    run_id = re.search(r"saved as run (\S+);", done.inner_text()).group(1)
    expect(page.get_by_test_id("stException")).to_have_count(0)

    _nav(page, "Compare")
    runs = page.get_by_test_id("stMultiSelect")
    expect(runs).to_contain_text(run_id, timeout=TIMEOUT_MS)
    expect(runs).to_contain_text("design 1 · kernel")
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stException")).to_have_count(0)
