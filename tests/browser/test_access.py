"""The viewer in Chromium over HTTPS (self-signed) with an access token: a secure context
(what WebXR needs), the websocket over wss, and nothing blocked by the Content-Security-Policy."""

import shutil
import tempfile

from nnviz3d.server import SceneState, ServerThread, make_app
from nnviz3d.server.tls import self_signed, ssl_context
from tests.browser.conftest import ARGS, CHROMIUM, shared_playwright
from tests.conftest import zoo_graph


def ready(page, timeout=60.0):
    """Poll with function predicates: Playwright's string predicates use eval, which the CSP
    (rightly) forbids."""
    import time

    end = time.monotonic() + timeout
    while not page.evaluate("() => Boolean(window.nnviz3d && window.nnviz3d.ready)"):
        assert time.monotonic() < end, "the viewer did not become ready"
        page.wait_for_timeout(200)


def test_https_with_a_token_is_a_secure_context_under_the_csp(tmp_path, monkeypatch, request):

    monkeypatch.setenv("NNVIZ3D_HOME", str(tmp_path))
    token = "browser-test-token-0123456789"
    srv = ServerThread(
        make_app(SceneState(zoo_graph("digits_cnn")), token=token),
        "127.0.0.1",
        0,
        ssl_context=ssl_context(*self_signed()),
        token=token,
    )
    profile = tempfile.mkdtemp(prefix="nnviz3d-chromium-tls-")
    try:
        p = shared_playwright(request)
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            ignore_https_errors=True,
            viewport={"width": 1024, "height": 700},
        )
        page = ctx.new_page()
        console, errors = [], []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        denied, failed = [], []
        page.on("response", lambda r: denied.append(r.url) if r.status == 403 else None)
        page.on(
            "response",
            lambda r: (
                failed.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.status != 403
                else None
            ),
        )
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
        assert console == [] and errors == [], (console, errors, failed)
        assert page.evaluate("() => window.nnviz3d.labelsReady ?? true")
        ctx.close()
    finally:
        srv.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_the_token_leaves_the_address_bar_the_command_line_and_shared_links(monkeypatch, request):
    """The server opens the browser on a private local file (not the token URL, which any
    user could read from the browser's command line); the page ends on / without the token
    (303 + cookie), its websocket and fetches authenticate by the cookie, and the #cam link
    the address bar offers for sharing has no token."""

    from nnviz3d import viewer

    token = "browser-test-token-abcdef0123456789"
    opened = []
    monkeypatch.setattr(viewer.webbrowser, "open", opened.append)
    handle = viewer.view(
        graph=zoo_graph("digits_cnn"), token=token, port=0, quiet=True, weights=False
    )
    profile = tempfile.mkdtemp(prefix="nnviz3d-chromium-token-")
    try:
        [target] = opened
        assert token not in target and target.startswith("file://")
        page_file = handle.opener
        assert (page_file.stat().st_mode & 0o077) == 0 and token in page_file.read_text()
        base = f"http://127.0.0.1:{handle.port}/"
        p = shared_playwright(request)
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1024, "height": 700},
        )
        page = ctx.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(target)  # what the browser the server started does
        page.wait_for_url(base, timeout=30_000)
        ready(page)
        assert page.evaluate("() => location.href").partition("#")[0] == base
        assert page.evaluate("() => document.cookie") == ""  # HttpOnly: not for scripts
        assert page.evaluate("async () => (await fetch('/export.glb')).status") == 200
        page.evaluate("() => window.nnviz3d.lookAt([0, 0, 0], [3, 4, 5])")
        for _ in range(50):  # the #cam link is written 250 ms after the camera moves
            shared = page.evaluate("() => location.href")
            if "cam=" in shared:
                break
            page.wait_for_timeout(100)
        assert "cam=" in shared and "token" not in shared and shared.startswith(base)
        # an old link with the token (and a camera): the token goes, the camera stays
        page.goto(f"{base}?token={token}#cam=1,2,3,0,0,0")
        ready(page)
        # the link is rewritten 250 ms after the camera is set (not at once: a race)
        page.wait_for_function(
            "location.href.includes('#cam=1.000%2C2.000%2C3.000%2C0.000')", timeout=10_000
        )
        assert "token" not in page.evaluate("() => location.href")
        assert errors == []
        ctx.close()
    finally:
        handle.close()
        shutil.rmtree(profile, ignore_errors=True)
    assert not page_file.exists()
