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

from tests.browser import streamlit_server

pytestmark = pytest.mark.browser

ROWS, COLS = 12, 20
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def painter_url():
    with streamlit_server(Path(__file__).with_name("painter_app.py")) as url:
        yield url


def _cell_centre(page: Page, row: int, col: int) -> tuple[float, float]:
    canvas = page.locator("canvas.lc-grid")
    box = canvas.bounding_box()
    assert box is not None
    cell = float(canvas.get_attribute("data-cell"))
    left = float(canvas.get_attribute("data-left"))
    top = float(canvas.get_attribute("data-top"))
    return box["x"] + left + (col + 0.5) * cell, box["y"] + top + (row + 0.5) * cell


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
    page.get_by_role("button", name="draw", exact=True).click()
    expect(page.get_by_role("button", name="draw", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    page.mouse.move(*_cell_centre(page, 2, 1))
    page.mouse.down()
    page.mouse.move(*_cell_centre(page, 2, 6), steps=8)
    page.mouse.move(*_cell_centre(page, 5, 6), steps=6)
    page.mouse.up()
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
    page.mouse.move(*_cell_centre(page, 0, 3))
    expect(hover).to_have_text("input 0 → unit 3: connected")
    page.mouse.move(*_cell_centre(page, 2, 4))
    expect(hover).to_have_text("input 2 → unit 4: not connected")
    expect(page.locator(".lc-tip")).to_have_text("input 2 → unit 4: not connected")
    expect(page.locator(".lc-count")).to_have_text("231 of 240 connected (96.3%)")
