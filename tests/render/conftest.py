"""The render tests draw in the browser tests' Chromium (one Playwright per session: a second
would not start), each on its own page sized by the Browser under test."""

from tests.browser.conftest import browser_context  # noqa: F401 - the shared fixture
