"""Twenty visitors at once against one real server: every run ends, in its own workspace,
the job queue never trains more than its slots, and the server answers its health check
throughout.

One `streamlit run app.py` with `LIMCONN_MAX_JOBS=2` and a tmp `LIMCONN_HOME`; one Chromium
(Playwright's async API, in a thread of its own so no event loop of the sync browser tests is
in the way) with one context per visitor; a thread asks `/_stcore/health` every second
(5 s timeout) from the server's start to its end. All of it is on 127.0.0.1 and bounded:
20 visitors, one tiny run each (200 sequences of 10 steps, 2 epochs), a deadline per step.

1. Warm-up: one visitor trains two seeds at once, so both worker processes start and import
   TensorFlow (a worker imports it with its first job).
2. Baseline: two visitors click Train together; the slower one's click → done is the time
   the two slots take for one round.
3. Load: 20 visitors, each in a fresh context, open `/design` directly, paint one stroke on
   the input → unit painter (one click on the mode, one drag: it must land), go to Train by
   the sidebar link, set the tiny task and wait at a gate; all click Train together, then
   each waits for its first loss point (the job card's Vega-Lite chart) and for done (the
   success alert).

Printed (whatever pytest's capture): p50/p95 click → first loss and click → done, the
baseline round, the ratio p95(click → done) / (round × ceil(20 / 2)) (a benchmark, target
<= 1.25, not asserted), a job's own time in its worker at baseline and under load (what the
20 pages' CPU costs the training on a small machine) and the server process's peak memory
(VmHWM).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import http.client
import json
import math
import re
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from playwright.async_api import async_playwright, expect

from limconn import presets
from limconn.connectivity import Connectivity
from limconn.runs import MASKS_FILE, RunStore
from limconn.ui.state import DEFAULT_INPUTS, DEFAULT_UNITS
from limconn.workspaces import folder_name
from tests.browser import (
    ARTIFACTS_DIR,
    LAYOUT_ATTRIBUTES,
    canvas_layout,
    cell_point,
    launch_chromium,
    streamlit_process,
)
from tests.intervals import most_at_once

pytestmark = [pytest.mark.load, pytest.mark.browser, pytest.mark.timeout(900)]

APP = Path(__file__).resolve().parents[1] / "app.py"
VISITORS = 20
SLOTS = 2
HEALTH_EVERY_S, HEALTH_TIMEOUT_S = 1.0, 5.0
STEP_TIMEOUT_MS = 180_000  # one page step with 20 visitors on a small machine
RUN_TIMEOUT_MS = 420_000  # click → done for the last of 20 queued runs
TASK = {"num_samples": 200, "timesteps": 10, "Epochs": 2}


# --------------------------------------------------------------------------------------------
# The health poller and the server's memory
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Poll:
    """One health check: when it began (s since polling began), how long it took, and what
    went wrong ("" when the server answered ok)."""

    at: float
    seconds: float
    error: str


class HealthPoller(threading.Thread):
    """Asks `<url>/_stcore/health` every `HEALTH_EVERY_S` (or at once after an answer that
    took longer) until stopped; keeps every `Poll`."""

    def __init__(self, url: str):
        super().__init__(name="health-poller", daemon=True)
        self.url = f"{url}/_stcore/health"
        self.polls: list[Poll] = []
        self.began = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        next_poll = self.began = time.monotonic()
        while not self._halt.wait(max(0.0, next_poll - time.monotonic())):
            began = time.monotonic()
            next_poll = began + HEALTH_EVERY_S  # or at once after a slow answer
            try:
                with urllib.request.urlopen(self.url, timeout=HEALTH_TIMEOUT_S) as reply:
                    body = reply.read().decode().strip()
                error = "" if body == "ok" else f"answered {body!r}"
            except (OSError, http.client.HTTPException) as failure:  # timeouts, refusals, ...
                error = f"{type(failure).__name__}: {failure}"
            self.polls.append(Poll(began - self.began, time.monotonic() - began, error))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=HEALTH_TIMEOUT_S + 1)


def peak_memory_mib(pid: int) -> float:
    """A process's peak resident memory (`VmHWM`), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def children(pid: int) -> list[int]:
    """A process's direct children (the job queue's worker processes, for one)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


# --------------------------------------------------------------------------------------------
# One visitor
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Visit:
    """What one visitor saw: its workspace and run ids, seconds from its arrival until it
    was ready to click Train, when it clicked (`time.monotonic()`), and seconds from the
    click to its first loss point and to done."""

    workspace: str = ""
    run_ids: tuple[str, ...] = ()
    ready: float = math.nan
    clicked: float = math.nan
    first_loss: float = math.nan
    done: float = math.nan


class Gate:
    """Holds visitors until `count` of them are ready, then lets them all go at once."""

    def __init__(self, count: int):
        self._count, self._ready, self._open = count, 0, asyncio.Event()

    async def pass_together(self) -> None:
        self._ready += 1
        if self._ready == self._count:
            self._open.set()
        await asyncio.wait_for(self._open.wait(), STEP_TIMEOUT_MS / 1000)


async def _wait_idle(page) -> None:
    await page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]",
                                 timeout=STEP_TIMEOUT_MS)


async def _expect_heading(page, heading: str) -> None:
    await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(
        timeout=STEP_TIMEOUT_MS)
    await _wait_idle(page)


async def _set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    await field.fill(str(value))
    await field.press("Enter")
    await expect(field).to_have_value(str(value), timeout=STEP_TIMEOUT_MS)
    await _wait_idle(page)


async def _paint_first_row(page) -> None:
    """One drag in draw mode across row 0 of the input → unit painter, which must land: waits
    until the server stored it (the Stats' input density follows). The mode button is
    clicked once and must show pressed; neither is ever repeated."""
    painter = page.locator(".lc-painter").first
    canvas = painter.locator("canvas.lc-grid")
    await expect(canvas).to_have_attribute("data-cols", str(DEFAULT_UNITS),
                                           timeout=STEP_TIMEOUT_MS)
    draw = painter.get_by_role("button", name="draw", exact=True)
    await draw.click()
    await expect(draw).to_have_attribute("aria-pressed", "true", timeout=STEP_TIMEOUT_MS)
    # Paint on a settled page, as a person would: under load the script may still be adding
    # elements, and a canvas that moves mid-stroke is painted where the pointer no longer is.
    await _wait_idle(page)
    attributes = {name: await canvas.get_attribute(f"data-{name}") for name in LAYOUT_ATTRIBUTES}
    layout = canvas_layout(await canvas.bounding_box(), attributes)
    await page.mouse.move(*cell_point(layout, 0, 0))
    await page.mouse.down()
    await page.mouse.move(*cell_point(layout, 0, DEFAULT_UNITS - 1), steps=8)
    await page.mouse.up()
    density = page.get_by_test_id("stMetric").filter(has_text="Input density").get_by_test_id(
        "stMetricValue")
    await expect(density).to_have_text(f"{_painted_input_mask().mean():.0%}",
                                       timeout=STEP_TIMEOUT_MS)
    await _wait_idle(page)


def _painted_input_mask() -> np.ndarray:
    """A new workspace's first design's input mask after `_paint_first_row`."""
    mask = presets.random(DEFAULT_INPUTS, DEFAULT_UNITS, density=0.5, seed=0).input_mask.copy()
    mask[0, :] = True
    return mask


async def visit(browser, url: str, name: str, gate: Gate, seeds: int = 1,
                paint: bool = True) -> Visit:
    """One visitor: opens `/design` (paints a stroke), goes to Train by the sidebar link, sets
    the tiny task, waits at `gate`, clicks Train and times its runs' first loss and done."""
    seen = Visit()
    arrived = time.monotonic()
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = await context.new_page()
    try:
        await page.goto(f"{url}/design", timeout=STEP_TIMEOUT_MS)
        await _expect_heading(page, "Design")
        [seen.workspace] = parse_qs(urlparse(page.url).query)["workspace"]
        if paint:
            await _paint_first_row(page)
        await page.get_by_test_id("stSidebar").get_by_role("link", name="Train",
                                                           exact=True).click()
        await _expect_heading(page, "Train")
        for label, value in {**TASK, "Seeds": seeds}.items():
            await _set_number(page, label, value)
        seen.ready = time.monotonic() - arrived
        await gate.pass_together()

        seen.clicked = clicked = time.monotonic()
        await page.get_by_role("button", name="Train", exact=True).click()
        for seed in range(seeds):
            card = page.get_by_test_id("stVerticalBlock").filter(
                has_text=f"design 1 · kernel · adding · seed {seed}")
            await expect(card.get_by_test_id("stVegaLiteChart").first).to_be_visible(
                timeout=RUN_TIMEOUT_MS)
        seen.first_loss = time.monotonic() - clicked
        done = page.get_by_test_id("stAlertContentSuccess").filter(has_text="saved as")
        await expect(done).to_have_count(seeds, timeout=RUN_TIMEOUT_MS)
        seen.done = time.monotonic() - clicked
        texts = await done.all_inner_texts()
        assert all(text.startswith("done") for text in texts), f"{name}: {texts}"
        seen.run_ids = tuple(re.search(r"saved as (\S+);", text).group(1) for text in texts)
        return seen
    except BaseException:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            await page.screenshot(path=str(ARTIFACTS_DIR / f"load-{name}.png"), full_page=True)
        raise
    finally:
        await context.close()


PHASES = (("warm-up", 1, SLOTS), ("baseline", SLOTS, 1), ("load", VISITORS, 1))
"""Each phase's name, visitors and seeds per visitor."""


async def all_phases(url: str, spans: dict[str, tuple[float, float]]) -> dict[str, list[Visit]]:
    """Warm-up, baseline and load, one after the other, in one Chromium; each phase's
    `time.monotonic()` span goes into `spans`."""
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        try:
            phases = {}
            for phase, visitors, seeds in PHASES:
                began, gate = time.monotonic(), Gate(visitors)
                phases[phase] = await asyncio.gather(*(
                    visit(browser, url, f"{phase}-{index}", gate, seeds=seeds,
                          paint=phase == "load")
                    for index in range(visitors)))
                spans[phase] = (began, time.monotonic())
            return phases
        finally:
            await browser.close()


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def _most_at_once(records: list[dict]) -> int:
    """The most jobs training at one moment, from their records' started/ended times."""
    return most_at_once((record["started"], record["ended"]) for record in records)


def _seconds_in_worker(records: list[dict], visits: list[Visit]) -> np.ndarray:
    """Each job of these visitors: seconds from its worker starting it to its end — the
    training alone, without the queue's wait or the page's."""
    workspaces = {seen.workspace for seen in visits}
    return np.array([record["ended"] - record["started"] for record in records
                     if record["workspace"] in workspaces])  # added on reading, as JobStore


def _report(phases: dict[str, list[Visit]], records: list[dict], health: HealthPoller,
            spans: dict[str, tuple[float, float]], server_peak: float,
            child_peaks: list[float]) -> str:
    loaded = phases["load"]
    ready = np.array([seen.ready for seen in loaded])
    clicks = np.array([seen.clicked for seen in loaded])
    first_loss = np.array([seen.first_loss for seen in loaded])
    done = np.array([seen.done for seen in loaded])
    round_s = max(seen.done for seen in phases["baseline"])
    baseline_jobs = _seconds_in_worker(records, phases["baseline"])
    loaded_jobs = _seconds_in_worker(records, loaded)
    rounds = math.ceil(VISITORS / SLOTS)
    slowest = max(health.polls, key=lambda poll: poll.seconds)
    timeline = ", ".join(f"{phase} {start - health.began:.0f}–{end - health.began:.0f} s"
                         for phase, (start, end) in spans.items())
    return (
        f"\n[load] {VISITORS} visitors, {SLOTS} slots; phases: {timeline}\n"
        f"[load] arrival → ready to click (open /design, paint, Train, set task): "
        f"p50 {np.percentile(ready, 50):.1f} s, p95 {np.percentile(ready, 95):.1f} s; "
        f"clicks within {np.ptp(clicks):.1f} s\n"
        f"[load] click → first loss: p50 {np.percentile(first_loss, 50):.1f} s, "
        f"p95 {np.percentile(first_loss, 95):.1f} s\n"
        f"[load] click → done: p50 {np.percentile(done, 50):.1f} s, "
        f"p95 {np.percentile(done, 95):.1f} s, max {done.max():.1f} s\n"
        f"[load] baseline round ({SLOTS} runs at once): {round_s:.1f} s; "
        f"p95(click → done) / (round × {rounds}) = "
        f"{np.percentile(done, 95) / (round_s * rounds):.2f} (target <= 1.25)\n"
        f"[load] a job in its worker (start → end): baseline p50 "
        f"{np.percentile(baseline_jobs, 50):.1f} s; under load p50 "
        f"{np.percentile(loaded_jobs, 50):.1f} s, p95 {np.percentile(loaded_jobs, 95):.1f} s\n"
        f"[load] most jobs training at once: {_most_at_once(records)}; health: "
        f"{len(health.polls)} polls, {sum(bool(poll.error) for poll in health.polls)} failed, "
        f"slowest {slowest.seconds:.2f} s (at {slowest.at:.0f} s)\n"
        f"[load] peak memory (VmHWM): server {server_peak:.0f} MiB; its child processes "
        f"(workers, resource tracker) {', '.join(f'{peak:.0f}' for peak in child_peaks)} MiB"
    )


def test_twenty_visitors_train_at_once(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    env = {"LIMCONN_HOME": str(home), "LIMCONN_MAX_JOBS": str(SLOTS),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    spans: dict[str, tuple[float, float]] = {}
    with streamlit_process(APP, env=env, timeout=90) as server:
        health = HealthPoller(server.url)
        health.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                phases = pool.submit(asyncio.run, all_phases(server.url, spans)).result()
        finally:
            health.stop()
        server_peak = peak_memory_mib(server.pid)
        child_peaks = [peak_memory_mib(pid) for pid in children(server.pid)]
    # A record names no workspace (an id is a credential); its folder is a keyed hash of it.
    visitors = {folder_name(home, seen.workspace): seen.workspace
                for visits in phases.values() for seen in visits}
    records = [{**json.loads(path.read_text()), "workspace": visitors.get(path.parents[1].name)}
               for path in (home / "workspaces").glob("*/jobs/*.json")]
    with capsys.disabled():
        print(_report(phases, records, health, spans, server_peak, child_peaks))

    store = RunStore(home / "runs", folder_name=lambda workspace: folder_name(home, workspace))
    runs = store.list()
    assert not store.problems, store.problems
    assert {info.status for info in runs} == {"done"}
    assert len(runs) == SLOTS + SLOTS + VISITORS  # warm-up seeds, baseline, load
    assert len(records) == len(runs) and {record["status"] for record in records} == {"done"}
    loaded = phases["load"]
    assert len({seen.workspace for seen in loaded}) == VISITORS
    painted = _painted_input_mask()
    for seen in loaded:
        [info] = store.list(seen.workspace)  # exactly one run, the visitor's own
        assert seen.run_ids == (info.id,)
        stored = Connectivity.load(info.path / MASKS_FILE).input_mask
        np.testing.assert_array_equal(stored, painted)  # the visitor's stroke, trained
    assert _most_at_once(records) <= SLOTS
    failed = [(round(poll.at, 1), poll.error) for poll in health.polls if poll.error]
    assert not failed, (
        f"{len(failed)} of {len(health.polls)} health checks failed, at (s, error): {failed}")
    # The poller ran throughout, up to the end of the last phase.
    last_poll = health.began + health.polls[-1].at
    assert last_poll >= spans["load"][1] - HEALTH_EVERY_S - HEALTH_TIMEOUT_S
