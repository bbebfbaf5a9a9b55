import io

import numpy as np
import pytest
from PIL import Image

from nnviz3d.layout import layout_graph
from tests.browser.conftest import new_page, serve, wait_ready
from tests.conftest import zoo_graph

DRAW_CALL_BOUND = 200


@pytest.fixture(scope="module")
def gpt2_server():
    srv, state = serve("gpt2", depth=3)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def gpt2_page(browser_context, gpt2_server):
    """One page on GPT-2 for the tests that only look at it (no click on the scene, no
    navigation, no change of state, and nothing changes the server's scene: expanding has a
    server of its own): loaded once instead of once per test."""
    page = new_page(browser_context)
    page.goto(gpt2_server.url)
    wait_ready(page)
    yield page
    page.close()


def test_ready_with_the_graph_at_the_requested_depth(gpt2_page):
    page = gpt2_page
    api = page.evaluate(
        "({n: nnviz3d.nodeCount, v: nnviz3d.protocolVersion, "
        "d: nnviz3d.drawCalls, t: nnviz3d.triangles, m: nnviz3d.model})"
    )
    assert api["n"] == len(layout_graph(zoo_graph("gpt2"), depth=3).paths) == 20
    assert api["v"] == 1 and api["m"] == "GPT2LMHeadModel"
    assert 0 < api["d"] <= DRAW_CALL_BOUND and api["t"] > 0
    assert page.errors == []


def test_click_a_block_opens_its_info_panel(page, gpt2_server):
    page.goto(gpt2_server.url)
    wait_ready(page)
    target = "/model/transformer/wte"
    xy = page.evaluate(f"nnviz3d.project('{target}')")
    page.mouse.move(xy["x"], xy["y"])
    page.mouse.click(xy["x"], xy["y"])
    page.wait_for_function(f"nnviz3d.selected === '{target}'")
    panel = page.locator("#info")
    assert panel.is_visible()
    assert panel.locator("h2").inner_text() == "transformer.wte"
    assert "38,597,376" in panel.locator("td[data-field='own params']").inner_text()
    assert "Embedding" in panel.locator("td[data-field='kind']").inner_text()
    assert panel.locator("td[data-field='trainable']").inner_text() == "all"
    assert "[1, 16, 768]" in panel.locator("td[data-field='output shapes']").inner_text()


def test_screenshot_is_not_blank(gpt2_page):
    page = gpt2_page
    png = page.locator("#scene").screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    assert pixels.var() > 20, pixels.var()
    assert len(np.unique(pixels)) > 30


def test_an_idle_page_draws_nothing_and_draws_cheaply_in_software(gpt2_page):
    """The loop draws only when something changed: a settled page draws no frame in a second,
    and one request draws one. SwiftShader is a software rasteriser: no multisampling there
    (a third of each frame) and 32 px glyph fields (~2 CPU-s less a page load) outside render
    mode (tests/render checks that render mode keeps both)."""
    page = gpt2_page
    page.evaluate("nnviz3d.render()")
    page.wait_for_timeout(300)  # whatever the last change asked for is drawn
    before = page.evaluate("nnviz3d.frames")
    page.wait_for_timeout(1000)
    assert page.evaluate("nnviz3d.frames") == before
    page.evaluate("nnviz3d.render()")
    assert page.evaluate("nnviz3d.frames") == before + 1
    assert page.evaluate("nnviz3d.antialias") is False
    assert page.evaluate("nnviz3d.glyphSize") == 32


@pytest.mark.parametrize(
    "query, size",
    [("?glyph-size=64", 64), ("?glyph-size=1e9&glyph-size=64", 32)],
    ids=["override", "hostile"],
)
def test_glyph_size_override_takes_only_the_sizes_it_knows(page, gpt2_server, query, size):
    """``?glyph-size=`` (bench/page_load.py's side-by-side) takes 32 or 64; anything else from
    a link (here a huge first value) leaves the automatic choice, and the labels still lay out."""
    page.goto(gpt2_server.url + query)
    wait_ready(page)
    assert page.evaluate("nnviz3d.glyphSize") == size
    page.wait_for_function("nnviz3d.settled()")
    assert page.evaluate("nnviz3d.labels.length") > 0
    assert page.errors == []


def test_late_second_page_shows_the_same_scene(browser_context, gpt2_server):
    first = browser_context.new_page()
    first.goto(gpt2_server.url)
    wait_ready(first)
    second = browser_context.new_page()
    second.goto(gpt2_server.url)
    wait_ready(second)
    assert first.evaluate("nnviz3d.paths()") == second.evaluate("nnviz3d.paths()")
    first.close()
    second.close()


def test_wrong_protocol_version_shows_the_error(page, gpt2_server):
    page.goto(gpt2_server.url + "?protocol=99")
    page.wait_for_function("nnviz3d.error !== null")
    overlay = page.locator("#overlay")
    assert overlay.is_visible()
    assert "protocol 99" in overlay.inner_text() and "reload the page" in overlay.inner_text()
    assert page.evaluate("nnviz3d.ready") is False


def test_expand_collapse_search_and_camera_url(page):
    # its own server: expanding changes the scene every page of that server shows
    srv, _ = serve("gpt2", depth=3)
    try:
        page.goto(srv.url)
        wait_ready(page)
        before = page.evaluate("nnviz3d.nodeCount")
        page.fill("#search", "transformer.h.2")
        page.press("#search", "Enter")
        page.wait_for_function("nnviz3d.selected === '/model/transformer/h/2'")
        page.click("#info button[data-act='expand']")
        page.wait_for_function(f"nnviz3d.nodeCount > {before}")
        assert "/model/transformer/h/2/attn" in page.evaluate("nnviz3d.paths()")
        assert page.evaluate("nnviz3d.sceneVersion") >= 2
        page.evaluate("nnviz3d.select('transformer.h.2.attn')")
        page.click("#info button[data-act='collapse-parent']")
        page.wait_for_function(f"nnviz3d.nodeCount === {before}")
        # the camera lives in the URL: a reload restores it
        # (written 250 ms after the camera's last move: wait for the flight, then for the URL
        # to say where the camera stopped)
        page.wait_for_function("!nnviz3d.flying", timeout=20_000)
        page.wait_for_function(
            """() => {
              const cam = new URLSearchParams(location.hash.slice(1)).get('cam');
              const p = nnviz3d.camera().position;
              return !!cam && cam.split(',').slice(0, 3).every((v, i) => Math.abs(v - p[i]) < 0.01);
            }""",
            timeout=20_000,
        )
        cam = page.evaluate("nnviz3d.camera()")
        page.reload()
        wait_ready(page)
        again = page.evaluate("nnviz3d.camera()")
        np.testing.assert_allclose(again["position"], cam["position"], atol=0.01)
    finally:
        srv.close()


def test_png_button_downloads_a_screenshot(gpt2_page):
    page = gpt2_page
    with page.expect_download() as info:
        page.click("#btn-png")
    download = info.value
    assert download.suggested_filename == "nnviz3d-GPT2LMHeadModel.png"
    data = open(download.path(), "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_server_gone_shows_an_overlay_and_reconnects(page):
    srv, state = serve("digits_cnn")
    port = srv.port
    page.goto(srv.url)
    wait_ready(page)
    srv.close()
    page.wait_for_function("!nnviz3d.ready")
    assert "Lost the connection" in page.locator("#overlay").inner_text()
    from nnviz3d.server import ServerThread, make_app

    again = ServerThread(make_app(state), "127.0.0.1", port)
    try:
        page.wait_for_function("nnviz3d.ready", timeout=30_000)
        assert not page.locator("#overlay").is_visible()
    finally:
        again.close()


def test_llama_70b_fully_expanded_stays_within_the_draw_call_bound(page):
    srv, state = serve("llama_70b_meta", depth="all")
    try:
        page.goto(srv.url)
        wait_ready(page, timeout=180_000)
        n, calls = page.evaluate("[nnviz3d.nodeCount, nnviz3d.drawCalls]")
        assert n == state.blocks > 1500
        assert calls <= DRAW_CALL_BOUND, calls
    finally:
        srv.close()
