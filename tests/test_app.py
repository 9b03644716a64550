"""The app's pages under Streamlit's `AppTest` (no browser, no JavaScript).

What is driven here: page switches, the preset form, the painter's keyed state (a stroke
is injected as the component's state, as the browser would send it; see
`limconn.ui.painter.paint_mask`), download buttons' bytes, file uploads, workspaces and what
survives a reload or a restart, training through the job queue, and Compare over runs of
every strategy.

Process-wide things need care: `limconn.ui.resources`' caches (settings, keys, run store,
job queue) are shared by every AppTest in this process and read `LIMCONN_HOME` when created,
so the `home` fixture sets the variable and clears them before and after each test. A
"reload" is a new AppTest with the same `?workspace=` link; a "restart" also clears the
caches (a new job queue marks what the old one left unfinished as interrupted).
"""

from __future__ import annotations

import io
import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from limconn import data, presets, share, training
from limconn.connectivity import Connectivity
from limconn.jobs import JobStore
from limconn.runs import WEIGHTS_FILE
from limconn.strategies import STRATEGIES
from limconn.ui import resources, state
from limconn.ui.painter import encode_mask
from limconn.ui.painter_protocol import encode_signs
from limconn.workspaces import DesignStore, folder_name, workspace_folder

APP = Path(__file__).resolve().parents[1] / "app.py"
RUN_TIMEOUT = 90  # the first run of a page that loads runs may import Keras
TRAIN_TIMEOUT = 180  # seconds a short training run may take to reach "done"
DESIGN, TRAIN, COMPARE = "pages/design.py", "pages/train.py", "pages/compare.py"
ANALYZE = "pages/analyze.py"
JOBS_PER_PAGE = 6  # pages/train.py's


# --------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------


def _clear_resources() -> None:
    for resource in (resources.settings, resources.workspace_keys, resources.run_store,
                     resources.job_queue, resources.new_workspaces, resources.datasets):
        resource.clear()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """`LIMCONN_HOME` in a tmp dir, with the app's resources made afresh."""
    monkeypatch.setenv("LIMCONN_HOME", str(tmp_path))
    monkeypatch.delenv("LIMCONN_SECRET", raising=False)
    _clear_resources()
    yield tmp_path
    _clear_resources()


@pytest.fixture
def downloads(monkeypatch) -> Callable:
    """A function: download button -> the bytes it serves (and the file name it offers)."""
    recorded = {}

    class RecordingStorage(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            recorded[file_id] = self._files_by_id[file_id]
            return file_id

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)

    def served(button) -> tuple[bytes, str | None]:
        assert button.proto.url, f"{button.label!r} has no download URL"
        media_file = recorded[PurePosixPath(button.proto.url).stem]
        return media_file.content, media_file.filename

    return served


def _open(path: str | None = None, workspace: str | None = None, **params) -> AppTest:
    """A new browser tab: the app (or one of its pages) after its first run."""
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    if workspace is not None:
        at.query_params["workspace"] = workspace
    for key, value in params.items():
        at.query_params[key] = value
    if path is None:
        at.run()
    else:
        at.switch_page(path).run()
    _no_exception(at)
    return at


@pytest.fixture
def app(home) -> AppTest:
    """The Design page after its first run."""
    return _open(DESIGN)


def _workspace(at: AppTest) -> str:
    return at.session_state[state.WORKSPACE]


def _store(at: AppTest) -> DesignStore:
    return DesignStore(workspace_folder(resources.settings().home, _workspace(at)))


def _designs(at: AppTest) -> dict[str, Connectivity]:
    return _store(at).load_all()


def _current_name(at: AppTest) -> str:
    return _store(at).current()


def _current(at: AppTest) -> Connectivity:
    return _designs(at)[_current_name(at)]


def _button(at: AppTest, label: str):
    matches = [button for button in at.button if button.label == label]
    assert len(matches) == 1, f"expected one {label!r} button; found {[b.label for b in at.button]}"
    return matches[0]


def _picker(at: AppTest):
    """The Design page's "Design" selectbox (the Train page has its own, keyed)."""
    matches = [box for box in at.selectbox if box.label == "Design"]
    assert len(matches) == 1
    return matches[0]


def _number_input(at: AppTest, label: str):
    matches = [widget for widget in at.number_input if widget.label == label]
    assert len(matches) == 1, f"expected one {label!r} input"
    return matches[0]


def _inject_stroke(at: AppTest, key: str, painted: np.ndarray, seq: int = 1,
                   signs: np.ndarray | None = None) -> None:
    """Sets the painter's keyed state as the browser does after a stroke on `painted`."""
    book = at.session_state["_limconn_painter_book::" + key]
    stroke = {**encode_mask(painted), "rev": book["rev"], "seq": seq, "nonce": "apptest"}
    if signs is not None:
        stroke["signs"] = encode_signs(signs)
    at.session_state[key] = {"stroke": stroke}


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _errors(at: AppTest) -> list[str]:
    """The errors as a reader sees them: without the escapes `limconn.ui.text.plain` adds."""
    return [re.sub(r"\\(.)", r"\1", error.value).replace("\u200b", "")
            for error in at.error]


# --------------------------------------------------------------------------------------------
# Every page, direct links, workspaces
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, title", [(None, "limconn"), (DESIGN, "Design"),
                                         (TRAIN, "Train"), (COMPARE, "Compare"),
                                         (ANALYZE, "Analyze")])
def test_each_page_loads_and_shows_its_title(home, path, title) -> None:
    at = _open(path)
    assert [t.value for t in at.title] == [title]
    assert [link.proto.label for link in at.sidebar.get("page_link")] == [
        "Home", "Design", "Train", "Compare", "Analyze"]


def test_a_workspace_id_the_server_did_not_issue_is_refused(home) -> None:
    at = _open(DESIGN, workspace="default")
    assert _workspace(at) != "default"
    assert resources.workspace_keys().verify(_workspace(at)) == _workspace(at)
    assert at.query_params["workspace"] == _workspace(at)
    assert any("not valid on this server" in t.value for t in at.toast)


def test_designs_survive_a_reload_a_second_tab_and_a_restart(app) -> None:
    workspace = _workspace(app)
    _button(app, "New").click().run()
    _no_exception(app)
    names = list(_designs(app))
    assert len(names) == 2
    second_tab = _open(DESIGN, workspace=workspace)
    assert _picker(second_tab).options == names
    _clear_resources()  # the server restarts; the disk stays
    after_restart = _open(DESIGN, workspace=workspace)
    assert _picker(after_restart).options == names
    assert _workspace(after_restart) == workspace
    stranger = _open(DESIGN)  # another visitor sees none of them
    assert _workspace(stranger) != workspace and _picker(stranger).options == ["design 1"]


def test_train_choices_survive_page_switches_and_reloads(app) -> None:
    app.switch_page(TRAIN).run()
    app.selectbox(key="train.strategy").select("custom_cell")
    app.number_input(key="train.epochs").set_value(7)
    app.selectbox(key="train.task").select("sine").run()
    _no_exception(app)
    app.switch_page(DESIGN).run()
    app.switch_page(TRAIN).run()
    for at in (app, _open(TRAIN, workspace=_workspace(app))):
        assert at.selectbox(key="train.strategy").value == "custom_cell"
        assert at.number_input(key="train.epochs").value == 7
        assert at.selectbox(key="train.task").value == "sine"


# --------------------------------------------------------------------------------------------
# Design
# --------------------------------------------------------------------------------------------


def test_apply_preset_stores_the_generated_masks(app: AppTest) -> None:
    before = _current(app)
    app.selectbox(key="design.preset").select("block_diagonal").run()
    assert app.number_input(key="design.preset.block_diagonal.groups").value == 2
    _button(app, "Apply preset").click().run()
    _no_exception(app)
    stored = _current(app)
    expected = presets.block_diagonal(before.input_dim, before.units, groups=2)
    np.testing.assert_array_equal(stored.input_mask, expected.input_mask)
    np.testing.assert_array_equal(stored.recurrent_mask, expected.recurrent_mask)
    assert stored.metadata["preset"] == "block_diagonal"
    assert stored.name == _current_name(app)

    # "diagonal" on the recurrent matrix only: the input mask stays block-diagonal, and the
    # design no longer claims to be the block_diagonal preset.
    app.selectbox(key="design.preset").select("diagonal").run()
    app.radio(key="design.apply_to").set_value("unit → unit")
    _button(app, "Apply preset").click().run()
    _no_exception(app)
    again = _current(app)
    np.testing.assert_array_equal(again.input_mask, expected.input_mask)
    np.testing.assert_array_equal(
        again.recurrent_mask, presets.diagonal(before.input_dim, before.units).recurrent_mask
    )
    assert "preset" not in again.metadata
    assert again.metadata["based_on"]["preset"] == "block_diagonal"


def test_an_invalid_preset_parameter_shows_an_error(app: AppTest) -> None:
    before = _current(app)
    app.selectbox(key="design.preset").select("block_diagonal").run()
    app.number_input(key="design.preset.block_diagonal.groups").set_value(99).run()
    _button(app, "Apply preset").click().run()
    _no_exception(app)
    assert any("groups" in message for message in _errors(app)), _errors(app)
    assert _current(app) == before


def test_a_preset_with_dales_law_gives_units_signs(app: AppTest) -> None:
    app.selectbox(key="design.preset").select("random").run()
    app.number_input(key="design.dale").set_value(0.75).run()
    _button(app, "Apply preset").click().run()
    _no_exception(app)
    signs = _current(app).recurrent_sign
    assert signs.shape == (16,) and (signs == 1).sum() == 12 and (signs == -1).sum() == 4
    assert any("12 excitatory, 4 inhibitory" in c.value for c in app.caption)


def test_painted_stroke_reaches_the_stored_mask_and_a_hand_edit_drops_the_preset(app) -> None:
    name = _current_name(app)
    design = _current(app)
    key = f"painter.input_mask.{name}.all gates"
    assert key in [element.key for element in app.get("bidi_component")]
    painted = np.zeros((design.input_dim, design.units), dtype=bool)
    painted[0, 1:6] = True
    painted[1, 9] = True
    _inject_stroke(app, key, painted)
    app.run()
    _no_exception(app)
    stored = _current(app)
    np.testing.assert_array_equal(stored.input_mask, painted)
    np.testing.assert_array_equal(stored.recurrent_mask, design.recurrent_mask)
    assert "preset" not in stored.metadata and stored.metadata["based_on"]["preset"] == "random"
    app.run()  # the component's state persists across runs; it is applied once, not again
    np.testing.assert_array_equal(_current(app).input_mask, painted)


def test_the_sign_strip_sets_per_source_signs(app: AppTest) -> None:
    name = _current_name(app)
    app.toggle(key=f"design.signs.{name}").set_value(True).run()
    _no_exception(app)
    key = f"painter.recurrent_mask.{name}.all gates"
    design = _current(app)
    signs = np.zeros(design.units, np.int8)
    signs[:4], signs[4:6] = 1, -1
    _inject_stroke(app, key, design.recurrent_mask, signs=signs)
    app.run()
    _no_exception(app)
    stored = _current(app)
    np.testing.assert_array_equal(stored.recurrent_sign, signs)
    assert stored.input_sign is None


def test_painting_one_gate_makes_the_mask_per_gate(app: AppTest) -> None:
    name = _current_name(app)
    design = _current(app)
    app.button_group(key="design.gate").set_value("f").run()
    _no_exception(app)
    key = f"painter.input_mask.{name}.f"
    painted = np.ones((design.input_dim, design.units), dtype=bool)
    _inject_stroke(app, key, painted)
    app.run()
    _no_exception(app)
    stored = _current(app).input_mask
    assert stored.shape == (4, design.input_dim, design.units)
    np.testing.assert_array_equal(stored[1], painted)  # gates i, f, c, o
    for gate in (0, 2, 3):
        np.testing.assert_array_equal(stored[gate], design.input_mask)


def test_downloads_load_back_as_the_design_under_a_safe_file_name(app, downloads) -> None:
    app.selectbox(key="design.preset").select("banded").run()
    _button(app, "Apply preset").click().run()
    _no_exception(app)
    design = _current(app)
    content, file_name = downloads(app.download_button(key="download.input"))
    assert file_name == "input_mask.npy"
    np.testing.assert_array_equal(np.load(io.BytesIO(content), allow_pickle=False),
                                  design.input_mask)
    content, file_name = downloads(app.download_button(key="download.design"))
    assert file_name == "design_1.npz"  # no space in a file name
    assert Connectivity.load(io.BytesIO(content)) == design


def test_units_resize_the_stored_design_and_the_bound_comes_from_the_limits(
    home, monkeypatch
) -> None:
    monkeypatch.setenv("LIMCONN_MAX_UNITS", "12")
    app = _open(DESIGN)
    assert _number_input(app, "Units").max == 12
    before = _current(app)
    _number_input(app, "Units").set_value(8).run()
    _no_exception(app)
    after = _current(app)
    np.testing.assert_array_equal(after.input_mask, before.input_mask[:, :8])
    _number_input(app, "Units").set_value(5).run()  # a second edit in a row also lands
    assert _current(app).units == 5 and _number_input(app, "Units").value == 5


def test_new_duplicate_rename_and_delete(app: AppTest) -> None:
    first_name = _current_name(app)
    assert _button(app, "Delete").disabled  # the only design cannot be deleted
    _button(app, "New").click().run()
    second = _current_name(app)
    assert second != first_name and _picker(app).value == second
    _picker(app).select(first_name).run()
    assert _current_name(app) == first_name
    _button(app, "Duplicate").click().run()
    assert len(_designs(app)) == 3
    app.text_input(key=f"design.rename.{_current_name(app)}").set_value("alpha").run()
    _no_exception(app)
    assert _current_name(app) == "alpha" and _current(app).name == "alpha"
    app.text_input(key="design.rename.alpha").set_value(second).run()
    assert any("not taken" in message for message in _errors(app)), _errors(app)
    _button(app, "Delete").click().run()
    assert len(_designs(app)) == 3  # asked first
    _button(app, "Cancel").click().run()
    assert len(_designs(app)) == 3 and not [b for b in app.button if b.label == "Yes"]
    _button(app, "Delete").click().run()
    _button(app, "Yes").click().run()
    assert list(_designs(app)) == [first_name, second]


def test_a_preset_keeps_its_readout_mask(app: AppTest) -> None:
    before = _current(app)
    app.selectbox(key="design.preset").select("ncp").run()
    _button(app, "Apply preset").click().run()
    _no_exception(app)
    expected = presets.ncp(before.input_dim, before.units)
    assert not expected.output_mask.all()
    np.testing.assert_array_equal(_current(app).output_mask, expected.output_mask)


def test_importing_a_pickled_npy_is_refused(app: AppTest) -> None:
    before = _current(app)
    hostile = _npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    app.file_uploader(key="design.upload").upload("evil.npy", hostile).run()
    _button(app, "Import").click().run()
    _no_exception(app)
    assert any("never unpickles" in message for message in _errors(app)), _errors(app)
    assert _current(app) == before


def test_importing_a_design_wider_than_the_limits_is_refused(app: AppTest) -> None:
    wide = np.savez_compressed  # a 200-byte file declaring a (1, 100000) input mask
    buffer = io.BytesIO()
    wide(buffer, input_mask=np.zeros((1, 100_000), bool))
    app.file_uploader(key="design.upload").upload("wide.npz", buffer.getvalue()).run()
    _button(app, "Import").click().run()
    _no_exception(app)
    assert any("at most 256 units" in message for message in _errors(app)), _errors(app)
    assert len(_designs(app)) == 1


def test_importing_a_mask_a_csv_table_and_a_design(app: AppTest) -> None:
    name = _current_name(app)
    mask = np.zeros((3, 5), dtype=bool)
    mask[np.arange(3), np.arange(3)] = True
    app.file_uploader(key="design.upload").upload("mask.npy", _npy_bytes(mask)).run()
    _button(app, "Import").click().run()
    _no_exception(app)
    np.testing.assert_array_equal(_current(app).input_mask, mask)
    table = ",a,b,c,d,e\n" + "".join(f"{n},0,1,0,0,-1\n" for n in "abcde")
    app.file_uploader(key="design.upload").upload("table.csv", table.encode()).run()
    app.radio(key="design.upload_into").set_value("unit → unit")
    _button(app, "Import").click().run()
    _no_exception(app)
    stored = _current(app)
    assert _current_name(app) == name and stored.recurrent_mask[:, 1].all()
    assert stored.recurrent_sign[0, 4] == -1 and stored.recurrent_sign[0, 1] == 1
    design = presets.clockwork(2, 8)
    app.file_uploader(key="design.upload").set_value(
        ("clock.npz", design.to_npz_bytes(), "application/octet-stream")).run()
    _button(app, "Import").click().run()
    _no_exception(app)
    assert _current_name(app) != name
    np.testing.assert_array_equal(_current(app).recurrent_mask, design.recurrent_mask)


def test_a_design_travels_by_link_into_another_workspace(app: AppTest) -> None:
    _button(app, "Copy link").click().run()
    _no_exception(app)
    link = at_code = app.code[0].value
    assert "workspace=" not in at_code  # the link carries the design, not the workspace
    token = link.split(f"{share.PARAM}=", 1)[1]
    friend = _open(DESIGN, **{share.PARAM: token})
    assert _workspace(friend) != _workspace(app)
    assert any("Added the shared design" in s.value for s in friend.success)
    shared = _current(friend)
    np.testing.assert_array_equal(shared.input_mask, _current(app).input_mask)
    assert share.PARAM not in friend.query_params
    broken = _open(DESIGN, **{share.PARAM: token[:-6] + "!!!!!!"})
    assert any("could not be opened" in e for e in _errors(broken)), _errors(broken)


# --------------------------------------------------------------------------------------------
# Train
# --------------------------------------------------------------------------------------------


def _small_task(at: AppTest, epochs: int = 2) -> None:
    at.number_input(key="train.task.adding.num_samples").set_value(200)
    at.number_input(key="train.task.adding.timesteps").set_value(10)
    at.number_input(key="train.epochs").set_value(epochs)
    at.run()
    _no_exception(at)


def _wait_for_job(at: AppTest, timeout: float = TRAIN_TIMEOUT) -> str:
    """Reruns the page until the newest job card reports a terminal status; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        _no_exception(at)
        cards = [m.value for m in at.markdown if m.value.startswith("**") and " · " in m.value]
        assert cards, "no job card on the Train page"
        status = cards[0].rsplit(" · ", 1)[-1]
        if status in ("done", "stopped", "failed", "interrupted"):
            return status
        assert time.monotonic() < deadline, f"the job is still {status!r} after {timeout} s"
        time.sleep(0.5)


def test_a_run_trains_shows_live_and_survives_a_reload_and_appears_on_compare(
    app, home
) -> None:
    app.switch_page(TRAIN).run()
    _small_task(app)
    _button(app, "Train").click().run()
    _no_exception(app)
    reloaded = _open(TRAIN, workspace=_workspace(app))  # the job card is back after a reload
    assert _wait_for_job(reloaded) == "done", _errors(reloaded)
    [job] = resources.job_queue().jobs(_workspace(app))
    run_id = job.snapshot().run_id
    assert run_id in reloaded.success[0].value
    assert len(reloaded.get("vega_lite_chart")) == 1  # the live loss chart
    assert (home / "runs" / folder_name(home, _workspace(app)) / run_id / "run.json").is_file()

    app.switch_page(COMPARE).run()
    _no_exception(app)
    assert app.multiselect(key="compare.runs").value == [run_id]  # a new run is selected
    table = app.dataframe[0].value
    assert table["id"].tolist() == [run_id] and table["epochs"].tolist() == [2]
    assert list(table.columns[:8]) == ["run", "strategy", "best val loss", "final val loss",
                                       "test loss", "test metric", "effective parameters",
                                       "wall time (s)"]


def test_train_all_designs_with_seeds_queues_one_group_per_seed(app) -> None:
    _button(app, "New").click().run()
    app.switch_page(TRAIN).run()
    _small_task(app, epochs=1)
    app.number_input(key="train.seeds").set_value(2).run()
    _button(app, "Train all designs").click().run()
    _no_exception(app)
    jobs = resources.job_queue().jobs(_workspace(app))
    assert len(jobs) == 2 and all(len(job.names) == 2 for job in jobs)
    assert sorted(job.config.seed for job in jobs) == [0, 1]
    for job in jobs:
        assert job.wait(timeout=TRAIN_TIMEOUT) and job.status == "done"
    app.switch_page(COMPARE).run()
    app.toggle(key="compare.group").set_value(True).run()
    _no_exception(app)
    table = app.dataframe[0].value
    assert table["n"].tolist() == [2, 2]
    assert all("±" in cell for cell in table["best val loss (mean ± std)"])


def test_timestep_warns_when_the_task_has_constant_steps(app) -> None:
    app.switch_page(TRAIN).run()
    app.selectbox(key="train.task").select("copy").run()
    app.selectbox(key="train.strategy").select("timestep").run()
    _no_exception(app)
    assert any("skips them all" in w.value for w in app.warning), [w.value for w in app.warning]


@pytest.mark.parametrize("task", ["flipflop", "delayed_match"])
def test_sequence_tasks_are_offered_with_a_preview_of_their_per_step_targets(app, task) -> None:
    app.switch_page(TRAIN).run()
    app.selectbox(key="train.task").select(task).run()
    app.number_input(key=f"train.task.{task}.num_samples").set_value(50).run()
    app.toggle(key="train.preview_on").set_value(True).run()
    _no_exception(app)
    assert any("a target at every step" in c.value for c in app.caption)
    [chart] = [c for c in app.get("plotly_chart")]
    assert '"target 0"' in chart.proto.spec and '"shapes"' in chart.proto.spec


def _train_until_an_epoch_ends(app: AppTest):
    """Starts a long run from the Train page; returns its job once an epoch finished."""
    app.switch_page(TRAIN).run()
    _small_task(app, epochs=200)
    _button(app, "Train").click().run()
    [job] = resources.job_queue().jobs(_workspace(app))
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while not job.snapshot().history:
        assert time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.2)
    return job


def test_stop_button_ends_a_run_and_keeps_it(app: AppTest) -> None:
    job = _train_until_an_epoch_ends(app)
    app.run()
    _button(app, "Stop").click().run()
    assert _wait_for_job(app) == "stopped"
    snapshot = job.snapshot()
    assert snapshot.error == "stopped by request" and snapshot.run_id


def test_a_job_interrupted_by_a_restart_shows_as_interrupted(app) -> None:
    _train_until_an_epoch_ends(app)
    resources.job_queue.clear()  # the server stops (closing its queue) and starts again
    after = _open(TRAIN, workspace=_workspace(app))
    assert _wait_for_job(after) == "interrupted"
    assert any("server stopped while this job was running" in e for e in _errors(after))
    [restored] = resources.job_queue().jobs(_workspace(app))
    assert len(restored.snapshot().history) >= 1


def test_resume_continues_a_job_interrupted_by_a_restart_to_its_epoch_count(app) -> None:
    app.switch_page(TRAIN).run()
    _small_task(app, epochs=4)
    app.number_input(key="train.task.adding.num_samples").set_value(3000).run()
    _button(app, "Train").click().run()
    [job] = resources.job_queue().jobs(_workspace(app))
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while not job.snapshot().history:
        assert time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.1)
    resources.job_queue.clear()  # the server stops mid-training and starts again
    after = _open(TRAIN, workspace=_workspace(app))  # the same data: the page remembers it
    assert _wait_for_job(after) == "interrupted"
    _button(after, "Resume").click().run()
    _no_exception(after)
    assert _wait_for_job(after) == "done", _errors(after)
    newest = resources.job_queue().jobs(_workspace(app))[0].snapshot()
    run = resources.run_store().load(newest.run_id, _workspace(app))
    assert run.history["epoch"].tolist() == [1, 2, 3, 4]
    assert run.info.data_hash and not [b for b in after.button if b.label == "Resume"]


def test_names_a_visitor_typed_are_shown_as_text(app) -> None:
    app.text_input(key=f"design.rename.{_current_name(app)}").set_value(
        "**bold** [link](http://x)").run()
    app.switch_page(TRAIN).run()
    _small_task(app, epochs=1)
    _button(app, "Train").click().run()
    card = next(m.value for m in app.markdown if "link" in m.value)
    assert "\\*\\*bold\\*\\* \\[link\\]\\(http" in card


# --------------------------------------------------------------------------------------------
# Compare
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def results_of_every_strategy() -> list[training.RunResult]:
    """One tiny finished run per strategy, trained through the library."""
    dataset = data.make_task("adding", num_samples=64, timesteps=5)
    design = presets.random(2, 4, density=0.5, seed=1).replace(recurrent_sign=[1, -1, 1, 0])
    return [training.train(training.TrainConfig(epochs=1, batch_size=32, strategy=name),
                           design, dataset) for name in STRATEGIES.names()]


def test_compare_shows_every_strategy_at_once_and_tells_what_each_enforces(
    app, results_of_every_strategy
) -> None:
    store = resources.run_store()
    for result in results_of_every_strategy:
        store.save(result, _workspace(app))
    app.switch_page(COMPARE).run()
    every = app.multiselect(key="compare.runs").options
    app.multiselect(key="compare.runs").set_value(
        [info.id for info in store.list(_workspace(app))]).run()
    _no_exception(app)
    assert len(every) == 7
    table = app.dataframe[0].value.set_index("strategy")
    assert table.loc["output", "input density"] == 1.0  # the trained model's, not the design's
    assert table.loc["output", "effective parameters"] > table.loc["kernel",
                                                                   "effective parameters"]
    assert table.loc["sparse_projection", "recurrent density"] == 1.0
    assert len(app.get("plotly_chart")) == 7 + 2  # heatmaps, curves, histograms
    app.toggle(key="compare.group").set_value(True).run()
    _no_exception(app)


def test_compare_never_shows_another_workspaces_runs(app, results_of_every_strategy) -> None:
    store = resources.run_store()
    theirs = store.save(results_of_every_strategy[0], "someone-else", name="theirs")
    mine = store.save(results_of_every_strategy[0], _workspace(app), name="mine")
    app.switch_page(COMPARE).run()
    _no_exception(app)
    assert app.multiselect(key="compare.runs").value == [mine.id]
    assert theirs.id not in str(app.multiselect(key="compare.runs").options)
    assert not any(toggle.label.startswith("Show runs of every") for toggle in app.toggle)


def test_compare_warns_about_a_broken_run_and_still_shows_the_good_one(
    app, results_of_every_strategy
) -> None:
    store = resources.run_store()
    good = store.save(results_of_every_strategy[0], _workspace(app), name="good")
    broken = store.save(results_of_every_strategy[0], _workspace(app), name="broken")
    (broken.path / WEIGHTS_FILE).write_bytes(b"not an npz")
    app.switch_page(COMPARE).run()
    app.multiselect(key="compare.runs").set_value([good.id, broken.id]).run()
    _no_exception(app)
    assert any(broken.id in w.value for w in app.warning)
    assert app.dataframe[0].value["id"].tolist() == [good.id]


def test_compare_tags_renames_and_deletes_a_run_after_asking(app, results_of_every_strategy):
    store = resources.run_store()
    first, second = (store.save(results_of_every_strategy[0], _workspace(app), name=name)
                     for name in ("first", "second"))
    app.switch_page(COMPARE).run()
    app.selectbox(key="compare.manage.run").select(first.id).run()
    app.text_input(key=f"compare.manage.name.{first.id}").set_value("renamed")
    app.text_input(key=f"compare.manage.tags.{first.id}").set_value("lr, keep")
    _button(app, "Save name, tags and note").click().run()
    _no_exception(app)
    assert store.load(first.id, _workspace(app)).info.tags == ("keep", "lr")
    app.multiselect(key="compare.tags").set_value(["lr"]).run()
    assert app.multiselect(key="compare.runs").value == [first.id]
    app.selectbox(key="compare.manage.run").select(second.id).run()
    _button(app, "Delete run").click().run()
    assert len(store.list(_workspace(app))) == 2  # asked first
    _button(app, "Yes").click().run()
    _no_exception(app)
    assert [info.name for info in store.list(_workspace(app))] == ["renamed"]


def test_the_train_page_pages_through_every_job(app) -> None:
    records = JobStore(resources.settings().home)
    for number in range(JOBS_PER_PAGE + 1):
        records.write({"id": f"job{number}", "workspace": _workspace(app), "status": "done",
                       "submitted": 1000.0 + number, "config": {},
                       "runs": [{"name": f"run {number}", "history": [], "run_id": ""}]})
    app.switch_page(TRAIN).run()
    _no_exception(app)
    cards = [m.value for m in app.markdown if m.value.startswith("**run ")]
    assert len(cards) == JOBS_PER_PAGE and "run 6" in cards[0]
    [page] = [n for n in app.number_input if n.key == "train.jobs.page"]
    page.set_value(2).run()
    assert [m.value for m in app.markdown if m.value.startswith("**run ")] == [
        "**run 0** · done"]


def test_compare_makes_a_pruned_design_and_a_random_control(app, results_of_every_strategy):
    resources.run_store().save(results_of_every_strategy[0], _workspace(app))
    app.switch_page(COMPARE).run()
    app.number_input(key="compare.prune.keep").set_value(0.5)
    _button(app, "New design from this run's strongest connections").click().run()
    _no_exception(app)
    _button(app, "Random design at the same density").click().run()
    _no_exception(app)
    designs = list(_designs(app).values())
    assert len(designs) == 3
    pruned, control = designs[1], designs[2]
    assert pruned.stats().input_density == control.stats().input_density
    assert not np.array_equal(pruned.recurrent_mask, control.recurrent_mask)


def test_compare_evaluates_runs_on_longer_sequences_in_a_worker_and_plots_their_outputs(
    app,
) -> None:
    short = data.make_task("flipflop", num_samples=64, timesteps=10)
    result = training.train(training.TrainConfig(epochs=1, batch_size=32),
                             presets.random(3, 4, density=0.5, seed=1), short)
    run = resources.run_store().save(result, _workspace(app))
    app.switch_page(COMPARE).run()
    app.selectbox(key="compare.eval.task").set_value("flipflop").run()
    app.number_input(key="compare.eval.task.flipflop.num_samples").set_value(16)
    app.number_input(key="compare.eval.task.flipflop.timesteps").set_value(30).run()
    _button(app, "Evaluate the selected runs").click().run()
    _no_exception(app)
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while "compare.eval.job" in app.session_state:
        assert time.monotonic() < deadline, "the evaluation did not end"
        time.sleep(0.5)
        app.run()
    _no_exception(app)
    assert not _errors(app)
    [row] = app.dataframe[-1].value.to_dict("records")
    assert (row["id"], row["steps"], row["samples"]) == (run.id, 30, 16) and row["mse"] > 0
    [figure] = [chart for chart in app.get("plotly_chart")
                if "compare.eval.sequences" in chart.proto.id]
    assert figure.proto.spec.count(run.id[-6:]) >= 3 * 3  # 3 sequences x 3 bits


# --------------------------------------------------------------------------------------------
# Analyze
# --------------------------------------------------------------------------------------------

FLIPFLOP = {"bits": 2, "num_samples": 60, "timesteps": 12, "pulse_probability": 0.3}
"""A flip-flop small enough to train and analyze in seconds; the runs hold out a test set."""


@pytest.fixture(scope="module")
def flipflop_results() -> list[training.RunResult]:
    """Two tiny flip-flop runs of two designs (one with signs) on the same data."""
    flips = data.make_task("flipflop", **FLIPFLOP)
    config = training.TrainConfig(epochs=2, batch_size=16, test_split=0.2)
    signed = presets.random(2, 6, density=0.6, seed=0).replace(
        recurrent_sign=[1, 1, 1, 1, -1, -1])
    return [training.train(config, design, flips)
            for design in (presets.dense(2, 6), signed)]


def _analyze_data(at: AppTest) -> None:
    """Sets Analyze's task parameters to the runs' own (the page picks the task itself)."""
    assert at.selectbox(key="analyze.task").value == "flipflop"
    for name, value in FLIPFLOP.items():
        at.number_input(key=f"analyze.task.flipflop.{name}").set_value(value)
    at.run()
    _no_exception(at)


def _charts(at: AppTest) -> dict[str, object]:
    """The page's Plotly charts by their key."""
    return {key: chart for chart in at.get("plotly_chart")
            for key in ("trajectories", "eigenvalues", "lesions", "design", "attributions")
            if f"analyze.{key}" in chart.proto.id}


def test_analyze_runs_in_a_worker_then_a_second_visit_reads_the_cache(
    app, flipflop_results
) -> None:
    from limconn.jobs import ANALYZE as ANALYZE_JOB

    workspace = _workspace(app)
    run = resources.run_store().save(flipflop_results[0], workspace)
    app.switch_page(ANALYZE).run()
    _no_exception(app)
    _analyze_data(app)
    assert any("held-out test set: 12 sequences" in c.value for c in app.caption)
    assert not _charts(app)
    _button(app, "Analyze").click().run()
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while "analyze.job" in app.session_state:
        assert time.monotonic() < deadline, "the analysis did not end"
        time.sleep(0.5)
        app.run()
    _no_exception(app)
    assert not _errors(app)
    charts = _charts(app)
    assert set(charts) == {"trajectories", "eigenvalues", "lesions", "design", "attributions"}
    assert "fixed points" in charts["trajectories"].proto.spec
    [row] = app.dataframe[-1].value.to_dict("records")
    assert row["id"] == run.id and row["fixed points (stable / found)"]

    again = _open(ANALYZE, workspace=workspace)
    _analyze_data(again)
    assert "analyze.job" not in again.session_state
    assert set(_charts(again)) == set(charts)
    assert [button.label for button in again.button if button.key == "analyze.go"] == [
        "Analyze again"]
    assert len(resources.job_queue().jobs(workspace, kind=ANALYZE_JOB)) == 1


def test_analyze_compares_runs_by_their_dynamics_in_compares_colours(
    app, flipflop_results
) -> None:
    """Analyses made in this process by the library and cached where the worker would put
    them: the page draws them without a job, and tables several runs."""
    from limconn import analysis, compare
    from limconn.run_results import analysis_folder, dataset_key

    workspace = _workspace(app)
    store = resources.run_store()
    runs = [store.save(result, workspace) for result in flipflop_results]
    _, test = data.make_task("flipflop", **FLIPFLOP).hold_out(0.2)
    key = dataset_key(test)
    first = analysis_folder(runs[0].path, key)
    analysis.save(first, analysis.analyze(runs[0].path, test))
    app.switch_page(ANALYZE).run()
    _analyze_data(app)
    app.multiselect(key="analyze.runs").set_value([run.id for run in runs]).run()
    _no_exception(app)
    assert [row["id"] for row in app.dataframe[-1].value.to_dict("records")] == [runs[0].id]
    _button(app, "Analyze the 1 run(s) not yet analyzed on this data")

    second = analysis_folder(runs[1].path, key)
    analysis.save(second, analysis.analyze(runs[1].path, test))
    app.run()
    _no_exception(app)
    assert "analyze.job" not in app.session_state
    table = app.dataframe[-1].value
    assert list(table["id"]) == [run.id for run in runs]
    colours = compare.run_colours(store.list(workspace))
    styles = app.dataframe[-1].proto.arrow_data.styler.styles
    assert all(colours[run.id] in styles for run in runs)
    radius = table["spectral radius c"].to_numpy(float)
    assert np.isfinite(radius).all() and radius[0] != radius[1]

    (second / analysis.SUMMARY_FILE).write_text("{cut short", encoding="utf-8")
    app.run()
    _no_exception(app)
    assert any("analysis summary of run" in warning.value for warning in app.warning)
    assert list(app.dataframe[-1].value["id"]) == [runs[0].id]


# --------------------------------------------------------------------------------------------
# Hostile uploads on Train
# --------------------------------------------------------------------------------------------


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _x() -> np.ndarray:
    return np.zeros((20, 5, 2), dtype=np.float32)


HOSTILE_UPLOADS = {
    "pickled X .npy": (
        [("X.npy", _npy_bytes(np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)),
         ("y.npy", _npy_bytes(np.ones(3, dtype=np.float32)))],
        "never unpickles",
    ),
    "raw pickle as .npy": (
        [("X.npy", pickle.dumps({"a": 1})), ("y.npy", _npy_bytes(np.ones(3)))],
        "never unpickles",
    ),
    ".npz without y": ([("data.npz", _npz_bytes(X=_x()))], "has no array named Y"),
    "pickled .npz member": (
        [("data.npz", _npz_bytes(X=_x(), y=np.array([None] * 20, dtype=object)))],
        "never unpickles",
    ),
    "truncated .npz": ([("data.npz", b"PK\x03\x04" + b"\x00" * 100)], "not a readable .npz"),
    "10^6 CSV columns": ([("wide.csv", (",".join(["c"] * 1_000_000) + "\n").encode())],
                         "at most"),
}


@pytest.mark.parametrize("files, message", HOSTILE_UPLOADS.values(), ids=list(HOSTILE_UPLOADS))
def test_train_refuses_hostile_uploads_with_an_error(app: AppTest, files, message) -> None:
    app.switch_page(TRAIN).run()
    app.radio(key="train.source").set_value("Upload").run()
    (name, content), *rest = files
    app.file_uploader(key="train.upload").upload(name, content).run()
    for name, content in rest:  # y for a .npy X
        app.file_uploader(key="train.targets").upload(name, content).run()
    _no_exception(app)
    assert any(message in error for error in _errors(app)), _errors(app)
    assert _button(app, "Train").disabled


def test_an_upload_is_kept_for_a_reload_and_deleted_after_asking(app: AppTest) -> None:
    app.switch_page(TRAIN).run()
    app.radio(key="train.source").set_value("Upload").run()
    y = np.arange(20, dtype=np.float32)
    app.file_uploader(key="train.upload").upload("my data.npz", _npz_bytes(X=_x(), y=y)).run()
    _no_exception(app)
    assert app.selectbox(key="train.kept_upload").value == "my data.npz"
    reloaded = _open(TRAIN, workspace=_workspace(app))  # no file asked for again
    assert reloaded.selectbox(key="train.kept_upload").value == "my data.npz"
    assert not _button(reloaded, "Train").disabled
    _button(reloaded, "Delete this file").click().run()
    _button(reloaded, "Yes").click().run()
    _no_exception(reloaded)
    assert reloaded.selectbox(key="train.kept_upload").options == ["upload a new file"]


def test_an_upload_is_parsed_once_not_on_every_rerun_and_again_when_replaced(
        app: AppTest, monkeypatch) -> None:
    """The server parses a kept file once (its cache key holds the file's time and size):
    reruns read no file, and a new file under the same name is read again."""
    parsed = []
    load_npz = data.load_npz
    monkeypatch.setattr(data, "load_npz", lambda *args, **kwargs: (
        parsed.append(args), load_npz(*args, **kwargs))[1])
    app.switch_page(TRAIN).run()
    app.radio(key="train.source").set_value("Upload").run()
    first = _npz_bytes(X=_x(), y=np.arange(20, dtype=np.float32))
    app.file_uploader(key="train.upload").upload("data.npz", first).run()
    _no_exception(app)
    after_upload = len(parsed)  # the check before keeping it, the parse once chosen
    for _ in range(3):
        app.run()
    assert len(parsed) == after_upload <= 2
    app.selectbox(key="train.kept_upload").set_value("upload a new file").run()
    second = _npz_bytes(X=_x()[:10], y=np.arange(10, dtype=np.float32))
    app.file_uploader(key="train.upload").upload("data.npz", second).run()
    _no_exception(app)
    assert len(parsed) > after_upload
    assert any("10 sequences" in caption.value for caption in app.caption)


def test_synthetic_sizes_are_bounded_before_anything_is_generated(home, monkeypatch) -> None:
    monkeypatch.setenv("LIMCONN_MAX_SAMPLES", "500")
    app = _open(TRAIN)
    app.number_input(key="train.task.adding.num_samples").set_value(100_000).run()
    _no_exception(app)
    assert any("at most 500 samples" in error for error in _errors(app)), _errors(app)
    assert _button(app, "Train").disabled


def test_the_example_csv_loads_with_its_gaps_filled(app: AppTest) -> None:
    app.switch_page(TRAIN).run()
    app.radio(key="train.source").set_value("Example CSV").run()
    _no_exception(app)
    assert not _errors(app) and not _button(app, "Train").disabled
    assert any("× 24 steps × 1 features" in c.value for c in app.caption)
    assert app.session_state["limconn.data_inputs"] == 1


def test_training_controls_reach_train_config_and_its_errors_show(home) -> None:
    """The form's controls are TrainConfig's fields: a test split that leaves no data to
    train on is refused with TrainConfig's message, and no job is queued."""
    app = _open(TRAIN)
    app.number_input(key="train.task.adding.num_samples").set_value(100)
    app.number_input(key="train.val").set_value(0.5)
    app.number_input(key="train.test").set_value(0.5)
    app.number_input(key="train.patience").set_value(2)
    app.selectbox(key="train.schedule").select("cosine").run()
    _button(app, "Train").click().run()
    _no_exception(app)
    assert any("validation_split + test_split must be <= 0.9" in e for e in _errors(app)), \
        _errors(app)
    assert not resources.job_queue().jobs(_workspace(app))
