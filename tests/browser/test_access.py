"""The viewer in Chromium over HTTPS (self-signed) with an access token: a secure context
(what WebXR needs), the websocket over wss, and nothing blocked by the Content-Security-Policy."""

import shutil
import tempfile

from nnviz3d.server import SceneState, ServerThread, make_app
from nnviz3d.server.tls import self_signed, ssl_context
from tests.browser.conftest import ARGS, CHROMIUM
from tests.conftest import zoo_graph


def ready(page, timeout=60.0):
    """Poll with function predicates: Playwright's string predicates use eval, which the CSP
    (rightly) forbids."""
    import time

    end = time.monotonic() + timeout
    while not page.evaluate("() => Boolean(window.nnviz3d && window.nnviz3d.ready)"):
        assert time.monotonic() < end, "the viewer did not become ready"
        page.wait_for_timeout(200)


def test_https_with_a_token_is_a_secure_context_under_the_csp(tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("NNVIZ3D_HOME", str(tmp_path))
    token = "browser-test-token-0123456789"
    srv = ServerThread(make_app(SceneState(zoo_graph("digits_cnn")), token=token), "127.0.0.1",
                       0, ssl_context=ssl_context(*self_signed()), token=token)
    profile = tempfile.mkdtemp(prefix="nnviz3d-chromium-tls-")
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                ignore_https_errors=True, viewport={"width": 1024, "height": 700})
            page = ctx.new_page()
            console, errors = [], []
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            denied = []
            page.on("response", lambda r: denied.append(r.url) if r.status == 403 else None)
            refused = page.goto(srv.url.partition("?")[0])  # without the token
            assert refused.status == 403
            console.clear()
            page.goto(srv.url)
            ready(page)
            assert page.evaluate("() => window.isSecureContext") is True
            assert page.evaluate("() => location.protocol") == "https:"
            page.evaluate("() => window.nnviz3d.select('head.1')")
            page.wait_for_selector("#info", state="visible", timeout=10_000)
            page.reload()  # the cookie now carries the token: no ?token needed on reload
            ready(page)
            # nothing refused by the CSP: no violation, no worker (troika's SDF text) that
            # failed to load, no error at all in the console
            assert denied == [srv.url.partition("?")[0]]  # only the page asked without token
            console = [t for t in console if "status of 403" not in t]  # that page, reported late
            assert console == [] and errors == []
            assert page.evaluate("() => window.nnviz3d.labelsReady ?? true")
            ctx.close()
    finally:
        srv.close()
        shutil.rmtree(profile, ignore_errors=True)
