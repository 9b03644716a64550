"""Shared test setup.

Time limits: a hung test fails within minutes, not after a quarter of an hour. Every test gets
`timeout` in pyproject.toml (4 minutes), browser tests `BROWSER_TIMEOUT_SECONDS`;
a test's own `@pytest.mark.timeout(...)` (the load test's) wins over both.

Browser tests use pytest-playwright's `context`/`page` fixtures, with two changes: the
browser is Debian's Chromium (see `tests/browser.py`), and a failing test leaves a
screenshot of its page in `test-artifacts/`.

The test process trains on limconn's backend (`limconn._tf.backend_name`), as everything it
starts does.
"""

from __future__ import annotations

import os

import pytest

from limconn._tf import backend_name
from tests.browser import CHROMIUM, launch_chromium, save_screenshot

# Test modules import keras directly, and Keras's own default (TensorFlow, where it is
# installed) would then win over limconn's: the test process would train on another backend
# than the CLI, the job workers and the Ray tasks it starts, and their runs would differ.
os.environ["KERAS_BACKEND"] = backend_name()

BROWSER_TIMEOUT_SECONDS = 420


def pytest_collection_modifyitems(items):
    """Browser tests (a real server and Chromium on 2 cores) get a longer time limit."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(BROWSER_TIMEOUT_SECONDS))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item (`item.rep_setup`, `rep_call`, ...)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser(playwright):
    """Debian's Chromium, shared by the session (overrides pytest-playwright's)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No Chromium at {CHROMIUM}: run the tests with scripts/test.sh, "
                    "which installs Debian's chromium.")
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def page(context, request):
    """A fresh page; on failure its screenshot goes to `test-artifacts/<test id>.png`."""
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        save_screenshot(page, request.node.nodeid)


@pytest.fixture(scope="module")
def local_ray():
    """Ray on this machine with 2 CPUs (what CI has), for the tests of one module; each of its
    worker processes imports TensorFlow once, so the module's first Ray task takes longest."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
