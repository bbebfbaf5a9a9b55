"""The browser fixtures of tests/browser (real Chromium against the real server), for the
security tests that drive the viewer."""

import pytest

from tests.browser.conftest import browser_context, hover, page, wait_ready  # noqa: F401


@pytest.fixture
def console_errors(page):  # noqa: F811
    """Console errors of the page (three.js reports NaN geometry this way, not by throwing)."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors
