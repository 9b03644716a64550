"""Shared test setup.

Browser tests use pytest-playwright's `context`/`page` fixtures, with two changes: the
browser is Debian's Chromium (see `tests/browser.py`), and a failing test leaves a
screenshot of its page in `test-artifacts/`.
"""

from __future__ import annotations

import os

import pytest

from tests.browser import CHROMIUM, launch_chromium, save_screenshot


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
