"""Real Chromium (Debian's /usr/bin/chromium, headless, SwiftShader WebGL) driven by
Playwright against the real server."""

import os
import shutil
import tempfile

import pytest

from nnviz3d.render.browser import ARGS  # `nnviz3d render`'s flags: headless, SwiftShader WebGL
from nnviz3d.server import SceneState, ServerThread, make_app, viewer_dir
from tests.conftest import zoo_graph

CHROMIUM = os.environ.get("NNVIZ3D_CHROMIUM", "/usr/bin/chromium")


_SHARED: dict = {}
DEVICE_SCALE = 0.5
"""The pages' device pixel ratio (window.devicePixelRatio): screenshots have this many device
pixels per CSS px unless taken with ``scale="css"``."""


def shared_playwright(request):
    """The session's one Playwright, started on first use: a second ``sync_playwright()`` in a
    process where one runs fails, so every browser a test launches comes from this one."""
    if "playwright" not in _SHARED:
        from playwright.sync_api import sync_playwright

        _SHARED["playwright"] = sync_playwright().start()
        request.config.add_cleanup(lambda: _SHARED.pop("playwright").stop())
    return _SHARED["playwright"]


@pytest.fixture(scope="session")
def browser_context(request):
    """One Chromium for the whole session, whichever test folder asks for it first (other
    folders' conftests import this fixture)."""
    if "context" not in _SHARED:
        assert os.path.exists(CHROMIUM), (
            f"{CHROMIUM} missing: `make test` installs Debian's chromium"
        )
        assert (viewer_dir() / "index.html").exists(), "viewer not built: run `make setup`"
        profile = tempfile.mkdtemp(prefix="nnviz3d-chromium-")
        p = shared_playwright(request)
        _SHARED["context"] = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},
            # a quarter of the pixels: SwiftShader fills every frame on the CPU, ~60 % of the
            # browser tests' time at scale 1. CSS px (the layout, label and panel rectangles
            # the tests measure) are those of 1280x800; the canvas is drawn at 640x400.
            device_scale_factor=DEVICE_SCALE,
            accept_downloads=True,
            # Playwright's string predicates use eval, which the server's CSP forbids;
            # tests/browser/test_access.py checks the viewer under the real CSP
            bypass_csp=True,
        )

        def close():  # registered after the Playwright's stop, so it runs before it
            _SHARED.pop("context").close()
            shutil.rmtree(profile, ignore_errors=True)

        request.config.add_cleanup(close)
    return _SHARED["context"]


@pytest.fixture(scope="session")
def pca_recording(tmp_path_factory):
    """One recorded run (tests/browser/recorded.py) for the replay tests that only read it."""
    from tests.browser.recorded import record_pca_run

    path = tmp_path_factory.mktemp("pca-run") / "run.nnv3d"
    record_pca_run(path)
    return path


def new_page(browser_context):
    """A fresh page that collects the page's uncaught errors in ``page.errors``."""
    page = browser_context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


@pytest.fixture
def page(browser_context):
    page = new_page(browser_context)
    yield page
    page.close()


def serve(name: str, depth=None):
    state = SceneState(zoo_graph(name), depth=depth)
    return ServerThread(make_app(state), "127.0.0.1", 0), state


def wait_ready(page, timeout=60_000):
    page.wait_for_function("window.nnviz3d && window.nnviz3d.ready", timeout=timeout)
    page.evaluate("window.nnviz3d.render()")


def hover(page, point, offset, expect: str, timeout=10_000) -> str:
    """Look at scene ``point`` from ``offset``, put the mouse on it and wait for a tooltip
    containing ``expect``; returns the tooltip."""
    page.evaluate(f"nnviz3d.lookAt({list(point)}, {list(offset)})")
    at = page.evaluate(f"nnviz3d.screen({list(point)})")
    page.mouse.move(at["x"] + 0.5, at["y"] + 0.5)
    page.wait_for_function(f"(nnviz3d.tooltip || '').includes({expect!r})", timeout=timeout)
    return page.evaluate("nnviz3d.tooltip")
