"""Workspaces: ids only the server issues, designs and settings on disk that two tabs share
without losing each other's changes, and the app refusing visitors when sign-in is required."""

import ast
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from limconn import presets
from limconn.connectivity import Connectivity
from limconn.runs import WEIGHTS_FILE
from limconn.ui import resources, state
from limconn.workspaces import (
    DesignStore,
    SettingsStore,
    UploadStore,
    WorkspaceKeys,
    folder_name,
    read_or_create_secret,
    workspace_folder,
)
from tests.test_app import APP, _clear_resources


def test_only_ids_this_server_signed_are_accepted(tmp_path, monkeypatch):
    monkeypatch.delenv("LIMCONN_SECRET", raising=False)
    keys = WorkspaceKeys(read_or_create_secret(tmp_path))
    issued = keys.issue()
    assert keys.verify(issued) == issued
    assert read_or_create_secret(tmp_path) == read_or_create_secret(tmp_path)  # kept on disk
    nonce, signature = issued.split("-")
    forged = f"{nonce}-{'0' * len(signature)}"
    for refused in ("default", "", None, forged, issued.upper(), issued + "0", "../etc"):
        assert keys.verify(refused) is None, refused
    other_server = WorkspaceKeys(b"another secret, another server")
    assert other_server.verify(issued) is None
    user = keys.for_user("https://accounts.example.org", "12345")
    assert user == keys.for_user("https://accounts.example.org", "12345")
    assert user != keys.for_user("https://accounts.example.org", "12346")
    assert user.startswith("u-")


def test_a_short_configured_secret_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMCONN_SECRET", "short")
    with pytest.raises(ValueError, match="LIMCONN_SECRET must hold at least 16 bytes. "
                                         "Received: 5"):
        read_or_create_secret(tmp_path)


def test_two_tabs_adding_designs_at_once_lose_none(tmp_path):
    folder = workspace_folder(tmp_path, WorkspaceKeys(b"0123456789abcdef").issue())
    tabs = [DesignStore(folder), DesignStore(folder)]

    def add(tab, prefix):
        for n in range(10):
            tab.put(f"{prefix} {n}", presets.random(2, 4, seed=n))

    threads = [threading.Thread(target=add, args=(tab, name)) for tab, name in
               zip(tabs, ("left", "right"), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tabs[0].names()) == sorted([f"left {n}" for n in range(10)]
                                             + [f"right {n}" for n in range(10)])
    assert tabs[1].load_all()["left 3"] == presets.random(2, 4, seed=3)


def test_design_store_renames_removes_and_bounds(tmp_path):
    store = DesignStore(tmp_path, max_designs=2)
    store.put("a", presets.dense(2, 3))
    store.put("b", presets.dense(2, 3))
    with pytest.raises(ValueError, match="at most 2 designs"):
        store.put("c", presets.dense(2, 3))
    store.rename("a", "alpha")
    assert store.names() == ["alpha", "b"]
    with pytest.raises(ValueError, match="not taken"):
        store.rename("b", "alpha")
    store.remove("b")
    store.remove("alpha")  # the last design is kept
    assert store.names() == ["alpha"] and store.current() == "alpha"


def test_settings_keep_each_section(tmp_path):
    store = SettingsStore(tmp_path)
    store.write("train", {"train.epochs": 7})
    store.write("design", {"gate": "f"})
    assert store.read("train") == {"train.epochs": 7} and store.read("design") == {"gate": "f"}
    (tmp_path / SettingsStore.FILE).write_text("not json")
    assert store.read("train") == {}


def test_without_anonymous_workspaces_a_visitor_must_sign_in(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMCONN_HOME", str(tmp_path))
    monkeypatch.setenv("LIMCONN_ANONYMOUS", "0")
    _clear_resources()
    try:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.switch_page("pages/design.py").run()
        assert not at.exception
        assert [b.label for b in at.button] == ["Sign in"]
        assert any("please sign in" in info.value for info in at.info)
        assert not list((tmp_path / "workspaces").glob("*"))  # no workspace was opened
    finally:
        _clear_resources()


# --------------------------------------------------------------------------------------------
# No local user can read a workspace (issue 13, section 2)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def server_home(tmp_path, monkeypatch):
    """`LIMCONN_HOME` in a tmp dir with a known secret, the app's resources made afresh."""
    monkeypatch.setenv("LIMCONN_HOME", str(tmp_path))
    monkeypatch.delenv("LIMCONN_SECRET", raising=False)
    (tmp_path / "secret").write_bytes(b"0123456789abcdef0123456789abcdef")
    _clear_resources()
    umask = os.umask(0o022)  # a permissive umask, as a shell's: the app must not rely on it
    yield tmp_path
    os.umask(umask)
    _clear_resources()


def _listing(home: Path) -> str:
    return "\n".join(str(path.relative_to(home)) for path in home.rglob("*"))


def test_folders_are_named_by_a_keyed_hash_of_the_id(tmp_path, monkeypatch):
    monkeypatch.delenv("LIMCONN_SECRET", raising=False)
    keys = WorkspaceKeys(read_or_create_secret(tmp_path))
    anonymous, user = keys.issue(), keys.for_user("https://id.example.org", "12345")
    for workspace in (anonymous, user):
        folder = workspace_folder(tmp_path, workspace)
        assert folder.parent == tmp_path / "workspaces"
        assert workspace not in folder.name and folder.name == folder_name(tmp_path, workspace)
        assert len(folder.name) == 32 and set(folder.name) <= set("0123456789abcdef")
    other_home = tmp_path / "other"  # another secret names the same id differently
    assert folder_name(other_home, anonymous) != folder_name(tmp_path, anonymous)
    with pytest.raises(ValueError, match="Received: workspace='../x'"):
        workspace_folder(tmp_path, "../x")


def test_an_old_home_is_migrated_at_start_up_and_nothing_is_lost(server_home):
    keys = WorkspaceKeys((server_home / "secret").read_bytes())
    workspace = keys.issue()
    old = server_home / "workspaces" / workspace  # the layout before: one folder per id
    DesignStore(old).put("kept design", presets.banded(2, 4, width=1))
    (old / "jobs").mkdir()
    (old / "jobs" / "aaaa.json").write_text(json.dumps({
        "id": "aaaa", "workspace": workspace, "status": "done", "submitted": 1.0, "runs": []}))
    old_run = server_home / "runs" / workspace / "20260101-000000-000000-abcdef"
    old_run.mkdir(parents=True)
    (old_run / "run.json").write_text(json.dumps({"id": old_run.name, "workspace": workspace}))
    (server_home / "runs" / "default").mkdir()  # the CLI's local workspace stays as it is
    assert workspace in _listing(server_home)

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["workspace"] = workspace
    at.switch_page("pages/design.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[state.WORKSPACE] == workspace  # the old link still opens it
    assert at.selectbox(key="design.picker").value == "kept design"
    listing = _listing(server_home)
    assert workspace not in listing and "runs/default" in listing
    assert workspace not in "".join(path.read_text() for path in server_home.rglob("*.json"))
    moved_run = server_home / "runs" / folder_name(server_home, workspace) / old_run.name
    assert json.loads((moved_run / "run.json").read_text())["workspace"] == moved_run.parent.name
    assert [job.id for job in resources.job_queue().jobs(workspace)] == ["aaaa"]


@pytest.fixture(scope="module")
def tiny_dataset():
    from limconn import data

    return data.make_task("adding", num_samples=32, timesteps=4)


@pytest.fixture(scope="module")
def tiny_result(tiny_dataset):
    """One tiny finished run, trained through the library."""
    from limconn import training

    return training.train(training.TrainConfig(epochs=1, batch_size=32),
                          presets.random(2, 4, density=0.5, seed=1), tiny_dataset)


def test_everything_under_the_home_is_private_whatever_the_umask(server_home, tiny_result):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("pages/design.py").run()
    at.button[[b.label for b in at.button].index("New")].click().run()
    assert not at.exception
    workspace = at.session_state[state.WORKSPACE]
    info = resources.run_store().save(tiny_result, workspace, name="tiny")
    assert json.loads((info.path / "run.json").read_text())["workspace"] != workspace
    resources.job_queue()  # its spool folder
    paths = [server_home, *server_home.rglob("*")]
    assert any(path.name == "index.json" for path in paths) and info.path in paths
    modes = {str(path.relative_to(server_home)): oct(path.stat().st_mode & 0o777)
             for path in paths}
    wrong = {path: mode for path, mode in modes.items()
             if mode != (oct(0o700) if (server_home / path).is_dir() else oct(0o600))}
    assert not wrong and workspace not in _listing(server_home)


def test_an_empty_or_short_secret_stops_the_app_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMCONN_SECRET", "")
    with pytest.raises(ValueError, match="LIMCONN_SECRET must hold at least 16 bytes"):
        read_or_create_secret(tmp_path)
    monkeypatch.delenv("LIMCONN_SECRET")
    (tmp_path / "secret").write_bytes(b"")
    with pytest.raises(ValueError, match=f"secret file {tmp_path / 'secret'} must hold"):
        read_or_create_secret(tmp_path)


def test_a_crash_while_the_secret_is_first_written_leaves_no_secret_file(tmp_path,
                                                                       monkeypatch):
    monkeypatch.delenv("LIMCONN_SECRET", raising=False)

    def crash(descriptor):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", crash)
        with pytest.raises(OSError):
            read_or_create_secret(tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither an empty secret nor a temporary file
    secret = read_or_create_secret(tmp_path)
    assert len(secret) == 32 and (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_a_signed_in_user_without_subject_or_email_gets_no_workspace():
    keys = WorkspaceKeys(b"0123456789abcdef")
    for subject in (None, ""):
        with pytest.raises(ValueError, match=f"needs a subject.*Received: {subject!r}"):
            keys.for_user("https://id.example.org", subject)


# --------------------------------------------------------------------------------------------
# Bad input never breaks a page (issue 13, section 3)
# --------------------------------------------------------------------------------------------


def test_a_non_ascii_or_malformed_workspace_id_is_refused(server_home):
    keys = WorkspaceKeys(b"0123456789abcdef")
    nonce = keys.issue().split("-")[0]
    for refused in (f"{nonce}-{'é' * 16}", f"{nonce}-{'0' * 15}\x00", "é" * 33):
        assert keys.verify(refused) is None
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["workspace"] = f"{nonce}-{'é' * 16}"
    at.switch_page("pages/design.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("not valid on this server" in t.value for t in at.toast)


def test_renaming_with_surrounding_spaces_ends_after_one_rename(server_home):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.switch_page("pages/design.py").run()
    at.text_input(key="design.rename.design 1").input("design 1 ").run()  # ran forever
    assert not at.exception and at.selectbox(key="design.picker").value == "design 1"
    at.text_input(key="design.rename.design 1").input("  spaced ").run()
    assert not at.exception and at.selectbox(key="design.picker").value == "spaced"


def test_a_deeply_nested_metadata_gets_the_one_line_error(tmp_path):
    design = presets.dense(2, 3)
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "deep.npz"
    np.savez(path, input_mask=design.input_mask, recurrent_mask=design.recurrent_mask,
             metadata_json=np.array(f'{{"a": {deep}}}'))
    with pytest.raises(ValueError, match="metadata_json is nested too deeply"):
        Connectivity.load(path)


def test_errors_show_visitor_text_as_text(server_home):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.switch_page("pages/design.py").run()
    at.button[[b.label for b in at.button].index("New")].click().run()
    at.text_input(key="design.rename.design 2").input("[x](http://e)").run()
    at.selectbox(key="design.picker").select("design 1").run()
    at.text_input(key="design.rename.design 1").input("[x](http://e)").run()  # taken
    assert not at.exception and at.error
    for error in at.error:
        assert "[x](http" not in error.value and "\\[x\\]\\(http" in error.value


def test_messages_name_runs_not_server_folders(server_home, tiny_result):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.switch_page("pages/design.py").run()
    workspace = at.session_state[state.WORKSPACE]
    broken = resources.run_store().save(tiny_result, workspace, name="broken")
    (broken.path / WEIGHTS_FILE).write_bytes(b"not an npz")
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    messages = [m.value for m in [*at.warning, *at.error]]
    assert any(broken.id in m for m in messages), messages
    assert not any(str(server_home) in m or workspace in m for m in messages), messages


def _refuse_writes(monkeypatch, after: int = 0):
    """Every file write under a `.tmp-` name fails as on a full disk (after `after` pass)."""
    real_open, passed = os.open, [0]

    def full_disk(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and Path(path).name.startswith(".tmp-"):
            passed[0] += 1
            if passed[0] > after:
                raise OSError(28, "No space left on device", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full_disk)


def test_a_full_disk_loses_nothing_and_leaves_no_partial_file(tmp_path, monkeypatch,
                                                                tiny_dataset, tiny_result):
    from limconn.jobs import spool_dataset
    from limconn.runs import RunStore

    designs, settings = DesignStore(tmp_path / "w"), SettingsStore(tmp_path / "w")
    designs.put("a", presets.dense(2, 3))
    settings.write("train", {"train.epochs": 3})
    before = sorted(p.name for p in (tmp_path / "w").rglob("*"))
    for after in (0, 1):  # the design's file, then the index
        with monkeypatch.context() as patched:
            _refuse_writes(patched, after)
            with pytest.raises(OSError, match="No space left"):
                designs.put("b", presets.banded(2, 3, width=1))
    with monkeypatch.context() as patched:
        _refuse_writes(patched)
        with pytest.raises(OSError, match="No space left"):
            settings.write("train", {"train.epochs": 4})
    assert sorted(p.name for p in (tmp_path / "w").rglob("*")) == before
    assert designs.names() == ["a"] and settings.read("train") == {"train.epochs": 3}

    spool = tmp_path / "spool.npz"
    with monkeypatch.context() as patched:
        patched.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(
            OSError(28, "No space left on device")))
        with pytest.raises(OSError):
            spool_dataset(tiny_dataset, spool)
    assert not spool.exists()

    store = RunStore(tmp_path / "runs")
    with monkeypatch.context() as patched:
        patched.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(
            OSError(28, "No space left on device", "/srv/secret/place")))
        with pytest.raises(ValueError, match=r"^The run could not be saved: No space left on "
                                             r"device\.$"):
            store.save(tiny_result, "default")
    assert list((tmp_path / "runs").rglob("*")) == [tmp_path / "runs" / "default"]


def test_a_full_disk_shows_a_plain_message_on_the_page(server_home, monkeypatch):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.switch_page("pages/design.py").run()
    _refuse_writes(monkeypatch)
    at.button[[b.label for b in at.button].index("New")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    [error] = [e.value for e in at.error]
    assert "could not save this \\(No space left on device\\)" in error
    assert str(server_home) not in error


def test_a_corrupt_design_index_is_reported_and_kept(server_home):
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.switch_page("pages/design.py").run()
    folder = workspace_folder(server_home, at.session_state[state.WORKSPACE]) / "designs"
    (folder / "index.json").write_text("{not json")
    at.run()
    assert not at.exception
    assert any("list of designs was damaged" in w.value for w in at.warning)
    [kept] = folder.glob("index.json.corrupt-*")
    assert kept.read_text() == "{not json"


PAGE_SCRIPTS = [APP, *sorted(APP.parent.glob("pages/*.py"))]


@pytest.mark.parametrize("script", PAGE_SCRIPTS, ids=lambda path: path.name)
def test_no_page_script_has_a_bare_string_that_magic_would_show(script):
    tree = ast.parse(script.read_text())
    docstrings = {id(node.body[0]) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body}
    strays = [node.lineno for node in ast.walk(tree)
              if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
              and isinstance(node.value.value, str) and id(node) not in docstrings]
    assert not strays, f"{script.name}: bare strings at lines {strays}"


def test_kept_uploads_are_bounded_replaced_by_name_and_deleted(tmp_path):
    uploads = UploadStore(tmp_path, max_entries=2)
    uploads.put([("X.npy", b"x"), ("y.npy", b"y")])
    uploads.put([("../a b.csv", b"1")])
    assert uploads.names() == ["X.npy", "../a b.csv"]
    assert [path.name for path in uploads.paths("../a b.csv")] == ["a_b.csv"]
    with pytest.raises(ValueError, match="at most 2 uploaded data files.*'c.csv'"):
        uploads.put([("c.csv", b"2")])
    old = uploads.paths("X.npy")
    uploads.put([("X.npy", b"new x"), ("y.npy", b"y")])
    assert uploads.paths("X.npy")[0].read_bytes() == b"new x" and not old[0].exists()
    uploads.remove("X.npy")
    assert uploads.names() == ["../a b.csv"]
    assert uploads.paths("../a b.csv")[0].parent.parent == tmp_path / "uploads"
