"""Helpers for browser tests: a real `streamlit run` server and Debian's Chromium.

`playwright install` cannot download browsers here, so tests drive the system Chromium
(`/usr/bin/chromium`) through Playwright. The network is closed; the launch flags keep
Chromium from trying to reach it.

Typical use (the `browser` and `page` fixtures in `tests/conftest.py` wrap `launch_chromium`
and save a screenshot to `test-artifacts/` when a test fails):

```python
with streamlit_server("tests/painter_app.py") as url:
    page.goto(url)
    page.wait_for_selector("[data-testid=stApp]")
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def free_port() -> int:
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read(path: Path, limit: int = 20_000) -> str:
    text = path.read_text(errors="replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


@dataclasses.dataclass(frozen=True)
class StreamlitServer:
    """A running `streamlit run` server.

    Attributes:
        url: its base URL, e.g. `"http://127.0.0.1:8765"`.
        pid: the server process's id (e.g. to read its memory from `/proc/<pid>/status`).
        log: the file that receives the server's output while it runs.
    """

    url: str
    pid: int
    log: Path


@contextlib.contextmanager
def streamlit_server(
    script_path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
    extra_args: Sequence[str] = ("--server.fileWatcherType", "none"),
) -> Iterator[str]:
    """Runs `python -m streamlit run SCRIPT` headless on a free port; yields its base URL.

    The server runs from the repository root with the root on `PYTHONPATH` (so the script
    can `import limconn` without installing it). It is ready once `/_stcore/health`
    answers `ok`; if that does not happen within `timeout` seconds, or the server exits,
    the error shows the server's output. The server is terminated on exit.
    `streamlit_process` takes the same arguments and yields the process's id too.

    Args:
        script_path: the Streamlit script, absolute or relative to the repository root.
        env: extra environment variables for the server.
        timeout: seconds to wait for the health check.
        extra_args: more `streamlit run` options (default: no file watcher, which would
            otherwise poll the repository).

    Yields:
        The base URL, e.g. `"http://127.0.0.1:8765"`.
    """
    with streamlit_process(script_path, env, timeout=timeout, extra_args=extra_args) as server:
        yield server.url


@contextlib.contextmanager
def streamlit_process(
    script_path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 60.0,
    extra_args: Sequence[str] = ("--server.fileWatcherType", "none"),
) -> Iterator[StreamlitServer]:
    """`streamlit_server`, yielding a `StreamlitServer` (URL and process id)."""
    script = Path(script_path)
    if not script.is_absolute():
        script = REPO_ROOT / script
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), full_env.get("PYTHONPATH", "")) if p
    )
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        *extra_args,
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="streamlit-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"streamlit exited with code {process.returncode} before it was "
                        f"healthy.\n$ {' '.join(command)}\n{_read(log_path)}"
                    )
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                        if reply.read().decode().strip() == "ok":
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"streamlit was not healthy after {timeout:.0f} s.\n"
                        f"$ {' '.join(command)}\n{_read(log_path)}"
                    )
                time.sleep(0.2)
            yield StreamlitServer(url, process.pid, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """Launches Debian's Chromium, headless, with the flags this machine needs.

    Args:
        playwright: a started `playwright.sync_api.Playwright` (e.g. pytest-playwright's
            `playwright` fixture).
        **kwargs: more `BrowserType.launch` options; `args` are added to ours.

    Returns:
        A `playwright.sync_api.Browser`; close it when done.
    """
    if not os.path.exists(CHROMIUM):
        raise FileNotFoundError(f"Chromium is not installed at {CHROMIUM}")
    args = [*CHROMIUM_ARGS, *kwargs.pop("args", ())]
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args, **kwargs)


def save_screenshot(page: Any, name: str) -> Path | None:
    """Saves a full-page screenshot as `test-artifacts/<name>.png`; None if it fails."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:150] or "screenshot"
    path = ARTIFACTS_DIR / f"{safe}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception:  # the page may be closed or crashed; the test's own error matters more
        return None
    return path


LAYOUT_ATTRIBUTES = ("cell", "left", "top", "strip-left", "strip-width")
"""The painter canvas's `data-*` layout attributes (CSS px from the canvas's top left)."""


def canvas_layout(box: Mapping[str, float] | None,
                  attributes: Mapping[str, str | None]) -> dict[str, float]:
    """The painter canvas's page position (`box`, a bounding box) and its `data-*` layout
    (`attributes`, by name in `LAYOUT_ATTRIBUTES`) as one dict of CSS px."""
    assert box is not None, "the painter's canvas is not on screen"
    layout = {"x": box["x"], "y": box["y"]}
    for name in LAYOUT_ATTRIBUTES:
        value = attributes.get(name)
        layout[name] = float(value) if value is not None else None
    return layout


def _layout(canvas: Any) -> dict[str, float]:
    return canvas_layout(canvas.bounding_box(),
                         {name: canvas.get_attribute(f"data-{name}") for name in LAYOUT_ATTRIBUTES})


def cell_point(layout: Mapping[str, float], row: int, col: int) -> tuple[float, float]:
    """Page coordinates of a cell's centre in a `canvas_layout`."""
    x = layout["x"] + layout["left"] + (col + 0.5) * layout["cell"]
    return x, layout["y"] + layout["top"] + (row + 0.5) * layout["cell"]


def cell_centre(canvas: Any, row: int, col: int) -> tuple[float, float]:
    """Page coordinates of a painter cell's centre, from its canvas's `data-*` layout."""
    return cell_point(_layout(canvas), row, col)


def row_label_point(canvas: Any, row: int) -> tuple[float, float]:
    """Page coordinates on a row's tick-number band, left of the sign strip (if any)."""
    g = _layout(canvas)
    label_right = g["strip-left"] if g["strip-left"] is not None else g["left"]
    return g["x"] + label_right - 8, g["y"] + g["top"] + (row + 0.5) * g["cell"]


def column_label_point(canvas: Any, col: int) -> tuple[float, float]:
    """Page coordinates on a column's tick-number band, above the grid."""
    g = _layout(canvas)
    return g["x"] + g["left"] + (col + 0.5) * g["cell"], g["y"] + g["top"] - 8


def strip_centre(canvas: Any, row: int) -> tuple[float, float]:
    """Page coordinates of a row's cell in the painter's sign strip."""
    g = _layout(canvas)
    assert g["strip-left"] is not None, "the painter shows no sign strip"
    x = g["x"] + g["strip-left"] + g["strip-width"] / 2
    return x, g["y"] + g["top"] + (row + 0.5) * g["cell"]


def draw_stroke(page: Any, painter: Any, waypoints: Sequence[tuple[int, int]]) -> None:
    """Selects draw mode in `painter` and drags a real mouse through `waypoints` (row, col)."""
    from playwright.sync_api import expect

    draw = painter.get_by_role("button", name="draw", exact=True)
    draw.click()
    expect(draw).to_have_attribute("aria-pressed", "true")
    canvas = painter.locator("canvas.lc-grid")
    page.mouse.move(*cell_centre(canvas, *waypoints[0]))
    page.mouse.down()
    for row, col in waypoints[1:]:
        page.mouse.move(*cell_centre(canvas, row, col), steps=8)
    page.mouse.up()
