"""How fast does limconn start? The CLI's light commands, and the app's first page.

* `python -m limconn --help` and `python -m limconn presets`: wall time of a fresh process
  (interpreter start-up included), best of `--rounds` and median, and whether anything was
  written to stderr. Target: < 1 s, nothing on stderr.
* `streamlit run app.py`: for each round a fresh server on a free port, then the time from
  the health check's first `ok` to the Design page showing its painter in headless
  Chromium (Debian's `/usr/bin/chromium`, driven by Playwright; a direct link to
  `/design` as the first request). Target: < 3 s. A visitor's browser is already
  running, so Chromium starts before the server; the timed part opens a new tab in a new,
  empty browser context (no cache, no cookies: a fresh visitor), loads Streamlit's
  front end and runs the page's first script. The second line adds the round's Chromium
  start (~0.5 s here), which the first version of this benchmark timed as well.
  TensorFlow loads only in the training workers, so it is never on this path.

    python -m benchmarks.startup              # from the repository root
    python -m benchmarks.startup --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from tests.browser import launch_chromium, streamlit_server

CLI_COMMANDS = (["--help"], ["presets"])


def cli_seconds(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "limconn", *argv], capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - start, done.stderr


def first_page_seconds(playwright) -> tuple[float, float]:
    """Seconds from a fresh server's first healthy answer to the painter on screen in a new
    tab of a running browser, and the seconds that browser took to start."""
    start = time.perf_counter()
    browser = launch_chromium(playwright)
    launch = time.perf_counter() - start
    try:
        with tempfile.TemporaryDirectory() as home, streamlit_server(
            "app.py", env={"LIMCONN_HOME": home}, timeout=120
        ) as url:
            healthy = time.perf_counter()
            page = browser.new_context().new_page()
            page.goto(f"{url}/design")
            page.locator(".lc-painter canvas.lc-grid").first.wait_for(timeout=60_000)
            return time.perf_counter() - healthy, launch
    finally:
        browser.close()


def _line(name: str, seconds: list[float], extra: str = "") -> str:
    return (f"{name:<28} best {min(seconds):6.2f} s   median {statistics.median(seconds):6.2f} s"
            f"{extra}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for argv in CLI_COMMANDS:
        times, stderr = [], ""
        for _ in range(args.rounds):
            seconds, stderr = cli_seconds(argv)
            times.append(seconds)
        quiet = "nothing on stderr" if not stderr else f"stderr: {stderr[:80]!r}"
        print(_line(f"python -m limconn {' '.join(argv)}", times, f"   ({quiet})"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        rounds = [first_page_seconds(playwright) for _ in range(args.rounds)]
    print(_line("app: health ok → painter", [page for page, _ in rounds]))
    print(_line("  + starting Chromium", [page + launch for page, launch in rounds]))


if __name__ == "__main__":
    main()
