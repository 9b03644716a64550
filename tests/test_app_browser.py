"""The whole app in a real browser: pages and links, workspaces across a restart, paint and
export, signs, share links, train, compare with seed bands, pruning.

Runs `app.py` under `streamlit run` (designs, settings and runs kept in a tmp `LIMCONN_HOME`)
and drives Debian's Chromium through Playwright (see `tests/browser.py`; a failing test leaves
a screenshot in `test-artifacts/`). Most tests share one server; each test's `page` lives in
a fresh browser context, so it is a new visitor with a workspace of its own. The tests of
direct links and of a restart start servers of their own.

The painter renders in an open shadow root, which Playwright's CSS locators pierce; its canvas
exposes its geometry as `data-rows/cols/cell/left/top` and `data-strip-left/width`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import safetensors
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser import draw_stroke, streamlit_process, streamlit_server, strip_centre

pytestmark = pytest.mark.browser

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT_MS = 30_000  # one rerun; the first one of a page may import plotting libraries
TRAIN_TIMEOUT_MS = 120_000  # a short training run, queue to "done" (the first imports Keras)
PAGES = ("Home", "Design", "Train", "Compare", "Analyze")
HEADINGS = {"Home": "limconn", "Design": "Design", "Train": "Train", "Compare": "Compare",
            "Analyze": "Analyze"}


def _server_env(home: Path) -> dict[str, str]:
    return {"LIMCONN_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with streamlit_server(APP, env=_server_env(tmp_path_factory.mktemp("limconn-home")),
                          timeout=90) as url:
        yield url


def _open(page: Page, url: str, heading: str = "Design") -> None:
    """Opens `url` and waits until its page shows `heading` and its script has finished."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(url)
    page.wait_for_selector("[data-testid=stApp]", timeout=TIMEOUT_MS)
    _expect_heading(page, heading)
    _wait_idle(page)


def _expect_heading(page: Page, heading: str) -> None:
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )


def _wait_idle(page: Page, timeout: int = TIMEOUT_MS) -> None:
    """Waits until the app's script is not running (the frontend's own flag on stApp)."""
    page.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout
    )


def _workspace(page: Page) -> str:
    """The workspace id in the page's URL (`?workspace=`)."""
    [workspace] = parse_qs(urlparse(page.url).query)["workspace"]
    return workspace


def _nav(page: Page, label: str) -> None:
    """Follows the sidebar's page link `label` and waits for the page's heading."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=label, exact=True).click()
    _expect_heading(page, HEADINGS[label])
    _wait_idle(page)


def _sidebar_links(page: Page) -> Locator:
    """The labels of the sidebar's page links (their icons are ligature text of their own)."""
    return page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").get_by_test_id(
        "stMarkdownContainer")


def _design_picker(page: Page) -> Locator:
    """The Design page's "Design" selectbox; its value is the design shown."""
    return page.get_by_role("combobox", name="Design", exact=True)


def _metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def _caption(page: Page, text: str) -> Locator:
    return page.get_by_test_id("stCaptionContainer").filter(has_text=text)


def _set_number(page: Page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))
    _wait_idle(page)


def _toggle_on(page: Page, label: str) -> None:
    """Switches on an `st.toggle` by its label (its input sits under the label's text)."""
    page.get_by_test_id("stCheckbox").filter(has_text=label).get_by_text(
        label, exact=True
    ).click()
    expect(page.get_by_role("switch", name=label, exact=True)).to_be_checked()
    _wait_idle(page)


def _no_exception(page: Page) -> None:
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _small_task(page: Page, seeds: int = 1) -> None:
    """Train's settings for a run of seconds: 200 adding sequences of 10 steps, 2 epochs."""
    _set_number(page, "num_samples", 200)
    _set_number(page, "timesteps", 10)
    _set_number(page, "Epochs", 2)
    _set_number(page, "Seeds", seeds)
    expect(page.get_by_text("200 sequences × 10 steps × 2 features")).to_be_visible()


def _train_and_wait(page: Page, cards: int) -> list[str]:
    """Clicks Train, waits until `cards` jobs show live loss and end done; returns run ids."""
    page.get_by_role("button", name="Train", exact=True).click()
    for seed in range(cards):
        # The job's card: a bordered container titled with its run's name.
        card = page.get_by_test_id("stVerticalBlock").filter(
            has_text=f"design 1 · kernel · adding · seed {seed}")
        expect(card.get_by_test_id("stVegaLiteChart").first).to_be_visible(
            timeout=TRAIN_TIMEOUT_MS)
    done = page.get_by_test_id("stAlertContentSuccess").filter(has_text="saved as")
    expect(done).to_have_count(cards, timeout=TRAIN_TIMEOUT_MS)
    texts = done.all_inner_texts()
    assert all(text.startswith("done") for text in texts), texts
    _no_exception(page)
    return [re.search(r"saved as (\S+);", text).group(1) for text in texts]


# --------------------------------------------------------------------------------------------
# Pages, links and workspaces
# --------------------------------------------------------------------------------------------


def test_sidebar_links_switch_pages_in_one_workspace(page: Page, app_url: str) -> None:
    _open(page, app_url, heading="limconn")
    workspace = _workspace(page)
    expect(_sidebar_links(page)).to_have_text(list(PAGES))
    for label, path in (("Design", "/design"), ("Train", "/train"), ("Compare", "/compare"),
                        ("Analyze", "/analyze"), ("Home", "/")):
        _nav(page, label)
        assert urlparse(page.url).path == path
        assert _workspace(page) == workspace
    _no_exception(page)


@pytest.mark.parametrize("path, heading", [("design", "Design"), ("train", "Train"),
                                           ("compare", "Compare"), ("analyze", "Analyze")])
def test_a_direct_link_is_the_first_page_a_fresh_server_serves(
    page: Page, tmp_path: Path, path: str, heading: str
) -> None:
    with streamlit_server(APP, env=_server_env(tmp_path), timeout=90) as url:
        _open(page, f"{url}/{path}", heading=heading)
        assert urlparse(page.url).path == f"/{path}"
        expect(_sidebar_links(page)).to_have_text(list(PAGES))
        _no_exception(page)


def test_designs_survive_a_restart_and_stay_private(browser: Browser, tmp_path: Path) -> None:
    """A design made before a restart is there after it, at the same `?workspace=` link;
    a visitor without the link does not see it."""
    visitor = browser.new_context(viewport={"width": 1400, "height": 1000})
    stranger = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = visitor.new_page()
        with streamlit_server(APP, env=_server_env(tmp_path), timeout=90) as url:
            _open(page, f"{url}/design")
            page.get_by_role("button", name="New", exact=True).click()
            expect(_design_picker(page)).to_have_value("design 2", timeout=TIMEOUT_MS)
            _wait_idle(page)
            query = urlparse(page.url).query
        with streamlit_server(APP, env=_server_env(tmp_path), timeout=90) as url:
            _open(page, f"{url}/?{query}", heading="limconn")
            expect(_caption(page, "This workspace keeps")).to_contain_text("keeps 2 design(s)")
            _nav(page, "Design")
            expect(_design_picker(page)).to_have_value("design 2")
            assert urlparse(page.url).query == query

            other = stranger.new_page()
            _open(other, url, heading="limconn")
            assert _workspace(other) != _workspace(page)
            expect(_caption(other, "This workspace keeps")).to_contain_text("keeps 1 design(s)")
    finally:
        visitor.close()
        stranger.close()


def test_a_server_on_an_old_home_renames_its_folders_and_keeps_the_designs(
    page: Page, tmp_path: Path
) -> None:
    """A home of an earlier version, one folder per workspace id: the server renames them to
    keyed hashes at start-up, and the old link still opens the workspace's designs."""
    from limconn import presets
    from limconn.workspaces import DesignStore, WorkspaceKeys

    (tmp_path / "secret").write_bytes(b"0123456789abcdef0123456789abcdef")
    workspace = WorkspaceKeys((tmp_path / "secret").read_bytes()).issue()
    old = DesignStore(tmp_path / "workspaces" / workspace)
    old.put("design 1", presets.dense(2, 4))
    old.put("kept design", presets.banded(2, 4, width=1))
    with streamlit_server(APP, env=_server_env(tmp_path), timeout=90) as url:
        _open(page, f"{url}/design?workspace={workspace}")
        expect(_design_picker(page)).to_have_value("kept design", timeout=TIMEOUT_MS)
        assert _workspace(page) == workspace
        _no_exception(page)
    assert not any(workspace in str(path) for path in tmp_path.rglob("*"))


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------


def test_painted_cells_reach_the_exported_mask(page: Page, app_url: str, tmp_path: Path) -> None:
    _open(page, f"{app_url}/design")
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
    _no_exception(page)


def test_the_sign_strip_marks_units_and_the_stats_count_them(page: Page, app_url: str) -> None:
    _open(page, f"{app_url}/design")
    expect(_caption(page, "Signs of")).to_have_count(0)
    _toggle_on(page, "Signs")
    canvas = page.locator(".lc-painter").nth(1).locator("canvas.lc-grid")  # unit → unit
    expect(canvas).to_have_attribute("data-strip-left", re.compile(r"\d"), timeout=TIMEOUT_MS)
    signs = _caption(page, "Signs of units")

    # A click on a unit's cell in the strip cycles its sign: free → excitatory → inhibitory.
    page.mouse.click(*strip_centre(canvas, 0))
    expect(signs).to_have_text("Signs of units: 1 excitatory, 0 inhibitory, 15 free.",
                               timeout=TIMEOUT_MS)
    _wait_idle(page)
    page.mouse.click(*strip_centre(canvas, 3))
    expect(signs).to_have_text("Signs of units: 2 excitatory, 0 inhibitory, 14 free.",
                               timeout=TIMEOUT_MS)
    _wait_idle(page)
    page.mouse.click(*strip_centre(canvas, 3))
    expect(signs).to_have_text("Signs of units: 1 excitatory, 1 inhibitory, 14 free.",
                               timeout=TIMEOUT_MS)
    _wait_idle(page)
    page.mouse.move(*strip_centre(canvas, 3))
    expect(page.locator(".lc-hover").nth(1)).to_contain_text("unit 3: inhibitory")
    _no_exception(page)


def test_a_share_link_adds_the_design_for_another_visitor(
    page: Page, app_url: str, browser: Browser
) -> None:
    _open(page, f"{app_url}/design")
    page.get_by_role("button", name="Copy link", exact=True).click()
    code = page.get_by_test_id("stCode").locator("code")
    expect(code).to_contain_text("design=", timeout=TIMEOUT_MS)
    link = code.inner_text().strip()
    assert "workspace=" not in link  # the link carries the design, not the workspace
    assert urlparse(link).path == "/design"

    friend = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = friend.new_page()
        _open(other, link)
        expect(other.get_by_test_id("stAlertContentSuccess")).to_contain_text(
            "Added the shared design", timeout=TIMEOUT_MS)
        assert _workspace(other) != _workspace(page)
        assert "design" not in parse_qs(urlparse(other.url).query)  # taken once, not again
        _no_exception(other)
    finally:
        friend.close()


# --------------------------------------------------------------------------------------------
# Train and Compare
# --------------------------------------------------------------------------------------------


def _received_frames(page: Page) -> list[float]:
    """A list that gathers when each message from the server reached the page (call it
    before the page opens its websocket)."""
    received = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda _: received.append(time.monotonic())))
    return received


def test_train_then_compare(page: Page, app_url: str) -> None:
    received = _received_frames(page)
    _open(page, app_url, heading="limconn")
    _nav(page, "Train")
    _small_task(page)
    [run_id] = _train_and_wait(page, cards=1)
    # The job card polled while the job trained; once it ended, the page stops polling.
    _wait_idle(page)
    page.wait_for_timeout(1_000)
    quiet_since = time.monotonic()
    page.wait_for_timeout(5_000)
    assert not [at for at in received if at > quiet_since]

    _nav(page, "Compare")
    runs = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text("Runs", exact=True))
    expect(runs).to_contain_text(f"design 1 · kernel · adding · {run_id[-6:]}",
                                 timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=TIMEOUT_MS)
    _no_exception(page)


def _mapped_libraries(pid: int) -> set[str]:
    """The file names of the shared libraries mapped into a process (`/proc/<pid>/maps`)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {Path(fields[5]).name for fields in map(str.split, lines) if len(fields) >= 6}


def _assert_no_backend_mapped(pid: int) -> None:
    """The process mapped Python and the C library but neither Keras backend's native code."""
    mapped = _mapped_libraries(pid)
    assert any(name.startswith("libpython") or name.startswith("libc.so") for name in mapped)
    assert not [name for name in mapped if name.startswith(("libtensorflow", "libjax_common"))]


def test_a_pytorch_download_loads_no_keras_backend_into_the_server(
    page: Page, tmp_path: Path
) -> None:
    """Compare's PyTorch download is built in the server process, from the run folder with
    NumPy: afterwards the server has mapped neither TensorFlow nor JAX (training ran in a
    worker)."""
    with streamlit_process(APP, env=_server_env(tmp_path / "home"), timeout=90) as server:
        _open(page, f"{server.url}/train", heading="Train")
        _small_task(page)
        [run_id] = _train_and_wait(page, cards=1)
        _nav(page, "Compare")
        button = page.get_by_test_id("stDownloadButton").filter(has_text="PyTorch .safetensors")
        with page.expect_download(timeout=TIMEOUT_MS) as download_info:
            button.get_by_role("button").click()
        saved = tmp_path / "model.safetensors"
        download_info.value.save_as(saved)
        _no_exception(page)
        with safetensors.safe_open(saved, "np") as opened:
            assert opened.metadata()["run_id"] == run_id
            assert opened.get_tensor("lstm.weight_ih_l0").shape == (4 * 16, 2)
        _assert_no_backend_mapped(server.pid)


# The traces of the page's first Plotly figure (Compare's loss curves), as Plotly holds them.
_TRACES_JS = """() => Array.from(document.querySelector(".js-plotly-plot").data,
                                  (trace) => ({name: trace.name || "", fill: trace.fill || ""}))"""


def test_seed_bands_and_a_design_from_the_strongest_connections(page: Page, app_url) -> None:
    _open(page, f"{app_url}/train", heading="Train")
    _small_task(page, seeds=2)
    run_ids = _train_and_wait(page, cards=2)
    assert len(set(run_ids)) == 2

    _nav(page, "Compare")
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(timeout=TIMEOUT_MS)
    traces = page.evaluate(_TRACES_JS)
    assert not any(trace["fill"] == "toself" for trace in traces), traces
    _toggle_on(page, "Group seeds")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => Array.from(document.querySelector('.js-plotly-plot').data)"
        ".some((trace) => trace.fill === 'toself')", timeout=TIMEOUT_MS)
    traces = page.evaluate(_TRACES_JS)
    assert any("(n=2)" in trace["name"] for trace in traces), traces

    page.get_by_role("button", name="New design from this run's strongest connections").click()
    added = page.get_by_test_id("stAlertContentSuccess").filter(has_text="to your designs")
    expect(added).to_be_visible(timeout=TIMEOUT_MS)
    _no_exception(page)
    _nav(page, "Home")
    expect(_caption(page, "This workspace keeps")).to_contain_text("keeps 2 design(s)")


# --------------------------------------------------------------------------------------------
# Analyze
# --------------------------------------------------------------------------------------------

# The trace names of every Plotly figure on the page, as Plotly holds them.
_TRACE_NAMES_JS = """() => Array.from(document.querySelectorAll(".js-plotly-plot"),
                                     (plot) => (plot.data || []).map((trace) => trace.name))"""


def test_analyze_shows_a_flipflop_runs_fixed_points_and_the_server_loads_no_backend(
    page: Page, tmp_path: Path
) -> None:
    """A flip-flop run saved in this process into the server's home, for a workspace the
    server issued; the server's page analyzes it in a worker and draws the trajectories
    with their fixed points, without mapping TensorFlow itself."""
    import functools

    from limconn import data, presets, training
    from limconn.runs import RunStore
    from limconn.workspaces import WorkspaceKeys, folder_name, read_or_create_secret

    home = tmp_path / "home"
    workspace = WorkspaceKeys(read_or_create_secret(home)).issue()
    flips = data.make_task("flipflop", bits=2, num_samples=60, timesteps=20)
    result = training.train(training.TrainConfig(epochs=2, batch_size=16), presets.dense(2, 6),
                            flips)
    RunStore(home / "runs", folder_name=functools.partial(folder_name, home)).save(
        result, workspace)
    with streamlit_process(APP, env=_server_env(home), timeout=90) as server:
        _open(page, f"{server.url}/analyze?workspace={workspace}", heading="Analyze")
        for name, value in (("bits", 2), ("num_samples", 60), ("timesteps", 20)):
            _set_number(page, name, value)
        expect(_caption(page, "the run's own data, 60 sequences")).to_be_visible()
        page.get_by_role("button", name="Analyze", exact=True).click()
        # A kind of fixed point has a legend entry only if some were found.
        legend = page.locator(".legendtext", has_text="fixed points")
        expect(legend.first).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
        [trajectories] = [names for names in page.evaluate(_TRACE_NAMES_JS)
                          if "trajectories" in names]
        assert {"stable fixed points", "unstable fixed points"} <= set(trajectories)
        _no_exception(page)
        _assert_no_backend_mapped(server.pid)
