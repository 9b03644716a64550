"""`python -m limconn admin ...` in real subprocesses, on a home the library laid out."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from limconn import presets
from limconn.jobs import JobStore
from limconn.workspaces import DesignStore, WorkspaceKeys, read_or_create_secret, workspace_folder

REPO = Path(__file__).resolve().parents[1]
DAY = 86400


def _admin(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "limconn", "admin", *args], cwd=REPO, capture_output=True,
        text=True, timeout=120, env={**os.environ, "LIMCONN_HOME": str(home), **env})


def _age(path: Path, days: float) -> None:
    """Sets `path` and everything in it to `days` old."""
    then = time.time() - days * DAY
    for entry in (path, *path.rglob("*")) if path.is_dir() else (path,):
        os.utime(entry, (then, then))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A server home with two workspaces: one with a queued and a running job, one with a
    queued job; designs, a run folder and the spool."""
    monkeypatch.delenv("LIMCONN_SECRET", raising=False)
    keys = WorkspaceKeys(read_or_create_secret(tmp_path))
    busy, other = keys.issue(), keys.issue()
    records = JobStore(tmp_path)
    for job_id, workspace, status in (("job1", busy, "running"), ("job2", busy, "queued"),
                                      ("job3", other, "queued"), ("job4", other, "done")):
        DesignStore(workspace_folder(tmp_path, workspace)).put("d", presets.dense(2, 4))
        records.write({"id": job_id, "workspace": workspace, "status": status,
                       "submitted": time.time(), "runs": []})
    run = tmp_path / "runs" / workspace_folder(tmp_path, busy).name / "20260101-run"
    run.mkdir(parents=True)
    (run / "weights.npz").write_bytes(b"0" * 2_000_000)
    (tmp_path / "spool").mkdir()
    for job_id in ("job2", "job4", "job9"):
        (tmp_path / "spool" / f"{job_id}.npz").write_bytes(b"data")
    tmp_path.joinpath("ids").write_text(json.dumps([busy, other]))
    return tmp_path


def test_status_shows_workers_queue_disk_and_caps_without_ids(home):
    busy, other = json.loads((home / "ids").read_text())
    shown = _admin("status", home=home, LIMCONN_MAX_JOBS="3")
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    out = shown.stdout
    assert "workers: 1 job(s) training, at most 3 at once" in out
    assert "queue: 2 job(s) waiting" in out
    for workspace in (busy, other):
        assert workspace not in out
        assert f"workspace {workspace_folder(home, workspace).name[:8]}…: 1" in out
    assert "runs 2.0 MB" in out and "max_jobs=3" in out and "max_designs=50" in out


def test_expire_removes_only_workspaces_untouched_for_that_long(home):
    busy, other = json.loads((home / "ids").read_text())
    old = [workspace_folder(home, other), home / "runs" / "default"]
    old[1].mkdir()  # the CLI's local runs are never a workspace
    for folder in old:
        _age(folder, 40)
    dry = _admin("expire", "--older-than", "30d", "--dry-run", home=home)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"would remove workspace {old[0].name[:8]}… (untouched for 40 days)"]
    assert all(folder.exists() for folder in old)
    done = _admin("expire", "--older-than", "30d", home=home)
    assert done.stdout.startswith("removed workspace") and not old[0].exists()
    assert old[1].exists() and DesignStore(workspace_folder(home, busy)).names() == ["d"]
    assert _admin("expire", "--older-than", "30d", home=home).stdout == (
        "no workspace is that old\n")


def test_clean_removes_old_temporaries_and_orphaned_spool_files(home):
    designs = workspace_folder(home, json.loads((home / "ids").read_text())[0]) / "designs"
    stale_file = designs / ".tmp-index.json-0badf00d"
    stale_folder = home / "runs" / ".tmp-20260101-run-0badf00d"
    fresh_file = designs / ".tmp-index.json-12345678"
    for path in (stale_file, fresh_file):
        path.write_text("half")
    stale_folder.mkdir()
    (stale_folder / "weights.npz").write_bytes(b"half")
    for path in (stale_file, stale_folder, *(home / "spool").iterdir()):
        _age(path, 1)
    cleaned = _admin("clean", home=home)
    assert cleaned.returncode == 0, cleaned.stderr
    removed = {line.removeprefix("removed ") for line in cleaned.stdout.splitlines()}
    assert removed == {str(stale_file.relative_to(home)), str(stale_folder.relative_to(home)),
                       "spool/job4.npz", "spool/job9.npz"}
    assert fresh_file.exists() and (home / "spool" / "job2.npz").exists()  # a queued job's
    assert _admin("clean", home=home).stdout == "nothing to clean\n"


@pytest.mark.parametrize("args, message", [
    (("expire", "--older-than", "30 days"), "--older-than must be a positive number of days "
                                            "or hours, like 30d or 12h. Received: '30 days'"),
    (("expire", "--older-than", "0d"), "Received: '0d'"),
])
def test_bad_input_is_one_error_line_and_exit_1(home, args, message):
    refused = _admin(*args, home=home)
    assert refused.returncode == 1 and refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith("limconn: error: ") and message in line


def test_admin_loads_no_keras_backend(home):
    script = ("import sys; from limconn.cli import main\n"
              "for action in (['status'], ['clean', '--dry-run']):\n"
              "    assert main(['admin', *action]) == 0\n"
              "loaded = {'tensorflow', 'jax', 'keras'} & set(sys.modules)\n"
              "assert not loaded, f'{loaded} loaded'")
    checked = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                             text=True, timeout=120, env={**os.environ, "LIMCONN_HOME": str(home)})
    assert checked.returncode == 0, checked.stderr
