"""Workspaces: ids only the server issues, designs and settings on disk that two tabs share
without losing each other's changes, and the app refusing visitors when sign-in is required."""

import threading

import pytest
from streamlit.testing.v1 import AppTest

from limconn import presets
from limconn.workspaces import (
    DesignStore,
    SettingsStore,
    WorkspaceKeys,
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
    assert user.startswith("u-") and workspace_folder(tmp_path, user).name == user


def test_a_short_configured_secret_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMCONN_SECRET", "short")
    with pytest.raises(ValueError, match="at least 16 characters. Received: 5"):
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
