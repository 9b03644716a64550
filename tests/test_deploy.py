"""The deploy files work as written: nginx accepts `deploy/nginx.conf`, systemd the unit, the
README's systemd steps make everything the unit needs in the order given, the Docker build
leaves secrets out and runs the app under umask 077, and the installed package holds every
file the app reads.

nginx and systemd-analyze are the real programs: `scripts/test.sh` installs Debian's nginx
and systemd, and in CI (`CI=true`) a missing one fails rather than skips.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "limconn.service"
NGINX = "/usr/sbin/nginx"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


def _program(path: str, what: str) -> str:
    """`path` if it is installed; a skip outside CI, a failure in CI, if it is not."""
    if os.path.exists(path):
        return path
    message = f"{path} is not installed ({what}; scripts/test.sh installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


# --------------------------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------------------------


def test_nginx_accepts_the_example_config(tmp_path):
    """`nginx -t` on deploy/nginx.conf, included in the http context as Debian's nginx.conf
    includes conf.d/*.conf."""
    nginx = _program(NGINX, "Debian's nginx")
    wrapper = tmp_path / "nginx.conf"
    wrapper.write_text(
        f"pid {tmp_path / 'nginx.pid'};\n"
        "events {}\n"
        f"http {{\n    include {REPO / 'deploy' / 'nginx.conf'};\n}}\n"
    )
    done = subprocess.run([nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(wrapper)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


# --------------------------------------------------------------------------------------------
# systemd
# --------------------------------------------------------------------------------------------


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read_string(UNIT.read_text())
    return unit


def test_systemd_analyze_verify_accepts_the_unit_without_a_warning(tmp_path):
    """`systemd-analyze verify` in a root holding the host's system units and the unit's
    ExecStart program (the README's steps make it: /opt/limconn/.venv/bin/streamlit)."""
    analyze = _program(SYSTEMD_ANALYZE, "Debian's systemd")
    program = tmp_path / _unit()["Service"]["ExecStart"].split()[0].lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    (tmp_path / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", tmp_path / "usr/lib/systemd/system",
                    symlinks=True)
    (tmp_path / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, tmp_path / "etc/systemd/system" / UNIT.name)
    done = subprocess.run([analyze, "verify", f"--root={tmp_path}",
                           f"/etc/systemd/system/{UNIT.name}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # unknown keys are only warned about


def test_the_unit_keeps_what_the_app_writes_private():
    service = _unit()["Service"]
    assert service["UMask"] == "0077"
    assert service["StateDirectory"] == "limconn" and service["StateDirectoryMode"] == "0700"


FRESH_DEBIAN = {"/", "/etc", "/opt", "/var/lib", "/etc/systemd/system"}
"""Folders every Debian machine has before the steps run."""
PROGRAMS = {"git": "git", "curl": "curl", "python3": "python3-venv"}
"""Programs the steps use that a fresh Debian may lack, and the package that brings each
(`python3 -m venv` needs python3-venv: Debian's python3 has no ensurepip)."""


def _readme_service_steps() -> list[list[str]]:
    """The README's systemd steps, one word list per command (`&&` splits, `sudo` dropped)."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"Or as a service:.*?```bash\n(.*?)```", readme, re.DOTALL).group(1)
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        while words:
            end = words.index("&&") if "&&" in words else len(words)
            command, words = words[:end], words[end + 1:]
            commands.append(command[1:] if command[:1] == ["sudo"] else command)
    return commands


def test_the_readme_systemd_steps_make_each_thing_before_it_is_used():
    """Walks the steps in order on a fresh Debian: every program is installed before it runs,
    every file goes into a folder that exists by then, and the unit's user, working
    directory, program and environment file all exist when it starts."""
    made, installed, users = set(FRESH_DEBIAN), set(), set()
    cwd, started = PurePosixPath("/"), False

    def into(path: str) -> PurePosixPath:
        target = cwd / path
        assert str(target.parent) in made, f"{target.parent} does not exist yet for {target}"
        return target

    for command in _readme_service_steps():
        program, *args = command
        package = PROGRAMS.get(program)
        assert package is None or package in installed, f"{' '.join(command)}: no {package}"
        options = [arg for arg in args if arg.startswith("-")]
        paths = [arg for arg in args if not arg.startswith("-")]
        if program == "apt-get":
            installed.update(paths[1:])
        elif program == "useradd":
            users.add(paths[-1])
        elif program == "install" and "-d" in options:
            made.add(str(cwd / paths[-1]))
        elif program in ("install", "cp"):
            target = cwd / paths[-1]
            made.add(str(target / Path(paths[0]).name if str(target) in made else into(paths[-1])))
        elif program == "git" and paths[0] == "clone":
            made.add(str(into(paths[-1])))
        elif program == "cd":
            cwd = cwd / paths[0]
        elif program == "python3" and args[:2] == ["-m", "venv"]:
            made.update({str(into(args[2])), str(cwd / args[2] / "bin")})
        elif program == "systemctl" and "--now" in options:
            service, started = _unit()["Service"], True
            assert service["User"] in users, "the unit's user was never created"
            assert service["WorkingDirectory"] in made
            assert str(PurePosixPath(service["ExecStart"].split()[0]).parent) in made
            assert service["EnvironmentFile"].lstrip("-") in made
    assert started, "the steps never start the service"


# --------------------------------------------------------------------------------------------
# Docker
# --------------------------------------------------------------------------------------------


def _dockerignore_patterns() -> list[re.Pattern]:
    """`.dockerignore`'s patterns as regular expressions over context-relative paths
    (Docker's rules: `*` and `?` stay within one path element, `**` spans any number)."""
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not used (and not modelled here)"
        pieces = re.split(r"(\*\*/|\*\*|\*|\?)", line.strip("/"))
        regex = "".join({"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
            piece, re.escape(piece)) for piece in pieces)
        patterns.append(re.compile(regex))
    return patterns


def _left_out(path: str, patterns: list[re.Pattern]) -> bool:
    """Whether the Docker build context leaves out `path` (or a folder above it)."""
    parts = path.split("/")
    return any(pattern.fullmatch("/".join(parts[:n]))
               for n in range(1, len(parts) + 1) for pattern in patterns)


def test_the_docker_build_context_leaves_out_secrets_history_caches_and_runs():
    patterns = _dockerignore_patterns()
    for path in (".streamlit/secrets.toml", ".git/config", ".venv/bin/python",
                 "limconn/__pycache__/runs.cpython-311.pyc", "tests/__pycache__/x.pyc",
                 ".pytest_cache/v/cache/lastfailed", ".ruff_cache/CACHEDIR.TAG",
                 ".limconn/runs/default/run-1/model.keras", "runs/first/weights.npz",
                 "test-artifacts/load.png", "limconn.egg-info/PKG-INFO"):
        assert _left_out(path, patterns), path
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    needed = [path for path in tracked if path.startswith(("limconn/", "pages/", ".streamlit/"))]
    assert needed and not [path for path in needed + ["app.py"] if _left_out(path, patterns)]


def test_the_image_keeps_data_private_and_installs_the_pins():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"install -d -m 0?700 -o limconn -g limconn /data", dockerfile)
    assert "pip install -r requirements.txt" in dockerfile
    assert "--chown" not in dockerfile, "the code stays root's; the app writes only to /data"
    [command] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    shell, flag, script = json.loads(command)
    assert (shell, flag) == ("sh", "-c")
    setup, started = script.split("exec ", 1)
    assert started.startswith("streamlit run app.py")
    # The script's own lines before `exec`, run by a real sh: the app starts under umask 077.
    done = subprocess.run([shell, flag, f"{setup} umask"], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "0077"


# --------------------------------------------------------------------------------------------
# Package data
# --------------------------------------------------------------------------------------------


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    """A wheel built from the tracked files holds every file under limconn/ (the page icon,
    the painter's HTML/CSS/JS, the bundled datasets, every module)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    source = tmp_path / "source"
    for path in tracked:
        if (REPO / path).is_file():
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / path, source / path)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", str(source), "-w", str(tmp_path / "wheel")],
                   check=True, capture_output=True, timeout=300)
    [wheel] = (tmp_path / "wheel").glob("limconn-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    package_files = {path for path in tracked if path.startswith("limconn/")}
    assert any(not path.endswith(".py") for path in package_files)
    assert sorted(package_files - packaged) == []
