"""The painter in a real browser: a mouse stroke reaches Python exactly, and back.

Runs `tests/painter_app.py` under `streamlit run` and drives Debian's Chromium. The
component renders in an open shadow root (`isolate_styles=True`), which Playwright's CSS
locators pierce, so `canvas.lc-grid` is found directly; the canvas exposes its geometry
as `data-rows/cols/cell/left/top` (CSS px), from which cell centres are computed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.browser import cell_centre, draw_stroke, streamlit_server

pytestmark = pytest.mark.browser

ROWS, COLS = 12, 20
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def painter_url():
    with streamlit_server(Path(__file__).with_name("painter_app.py")) as url:
        yield url


def _stored_cells(page: Page):
    return page.get_by_test_id("stCode").locator("code")


def _expect_cells(page: Page, cells) -> None:
    expect(_stored_cells(page)).to_have_text(json.dumps(sorted(cells)), timeout=TIMEOUT_MS)


def test_stroke_invert_and_hover(page: Page, painter_url: str, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1000, "height": 900})
    page.goto(painter_url)
    page.wait_for_selector("[data-testid=stApp]", timeout=TIMEOUT_MS)
    canvas = page.locator("canvas.lc-grid")
    expect(canvas).to_have_attribute("data-cols", str(COLS), timeout=TIMEOUT_MS)
    expect(canvas).to_have_attribute("data-rows", str(ROWS))
    _expect_cells(page, [])

    # A real drag in draw mode: along row 2 from column 1 to 6, then down column 6 to row 5.
    draw_stroke(page, page, [(2, 1), (2, 6), (5, 6)])
    drawn = [[2, c] for c in range(1, 7)] + [[r, 6] for r in range(3, 6)]
    _expect_cells(page, drawn)

    expected = np.zeros((ROWS, COLS), dtype=bool)
    expected[tuple(np.array(drawn).T)] = True
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download mask (.npy)").click()
    saved = tmp_path / "mask.npy"
    download_info.value.save_as(saved)
    downloaded = np.load(saved, allow_pickle=False)
    assert downloaded.dtype == bool
    np.testing.assert_array_equal(downloaded, expected)

    # Invert from the toolbar: the stored mask is the exact complement.
    page.get_by_role("button", name="invert", exact=True).click()
    _expect_cells(page, np.argwhere(~expected).tolist())

    # Hover reports the cell under the pointer, with the labels and its current value.
    hover = page.locator(".lc-hover")
    page.mouse.move(*cell_centre(page.locator("canvas.lc-grid"), 0, 3))
    expect(hover).to_have_text("input 0 → unit 3: connected")
    page.mouse.move(*cell_centre(page.locator("canvas.lc-grid"), 2, 4))
    expect(hover).to_have_text("input 2 → unit 4: not connected")
    expect(page.locator(".lc-tip")).to_have_text("input 2 → unit 4: not connected")
    expect(page.locator(".lc-count")).to_have_text("231 of 240 connected (96.3%)")
