"""The default view of real models, before anyone touches the camera: readable labels that never
overlap or hide under the toolbar, the model filling the screen, the page fitting 1280 px."""

import pytest
import torch
from torch import nn

from nnviz3d.capture import capture_graph
from nnviz3d.layout import AUTO_BLOCKS
from nnviz3d.server import SceneState, ServerThread, make_app
from tests.browser.conftest import serve, wait_ready

LABEL_MIN_PX, LABEL_MAX_PX = 11, 32
MODELS = ["gpt2", "vit", "resnet", "t5", "llama_70b_meta", "mlp"]


def _mlp_server():
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    graph = capture_graph(model, (torch.randn(4, 64),))
    return ServerThread(make_app(SceneState(graph)), "127.0.0.1", 0)


def _overlap(a, b) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def _open(page, name, size):
    srv = _mlp_server() if name == "mlp" else serve(name)[0]
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(srv.url)
    wait_ready(page, timeout=180_000)
    # labels are measured once troika has laid their text out: let it settle
    page.wait_for_timeout(600)
    page.evaluate("nnviz3d.render()")
    page.wait_for_timeout(300)
    page.evaluate("nnviz3d.render()")
    return srv


def _check_first_view(page, size, min_coverage=0.25):
    view = page.evaluate(
        "({labels: nnviz3d.labels, coverage: nnviz3d.coverage, "
        "blocks: nnviz3d.blockCoverage, "
        "visible: nnviz3d.visibleBlocks, n: nnviz3d.nodeCount, "
        "bar: nnviz3d.toolbarRect})"
    )
    labels, bar = view["labels"], view["bar"]
    assert view["n"] <= AUTO_BLOCKS + 4  # inputs and outputs come on top of the budget
    assert len(labels) >= min(6, view["n"]), labels
    for a in labels:
        assert LABEL_MIN_PX <= a["px"] <= LABEL_MAX_PX, a
        assert not _overlap(a, bar), f"{a['text']} is under the toolbar"
        assert 0 <= a["x"] and a["x"] + a["w"] <= size[0] and a["y"] + a["h"] <= size[1], a
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not _overlap(a, b), f"{a['text']!r} overlaps {b['text']!r}"
    # the model's boxes (blocks, open groups, stacks) fill the screen; its blocks alone a
    # good part of it (a thin strip under a wall of arcs covered 1-2 %)
    assert view["coverage"] >= min_coverage, view
    assert view["blocks"] >= 0.05, view
    assert view["visible"] == view["n"], "the whole model is framed"


@pytest.mark.parametrize("name", MODELS)
def test_first_view_is_readable_at_1280(page, name):
    srv = _open(page, name, (1280, 800))
    try:
        # a 5-layer MLP has no group boxes: its five bars span the width edge to edge, and the
        # gaps between layers leave 0.18 of the canvas to them
        _check_first_view(page, (1280, 800), 0.15 if name == "mlp" else 0.25)
        assert page.errors == []
    finally:
        srv.close()


@pytest.mark.parametrize("name", ["gpt2", "llama_70b_meta"])
def test_first_view_is_readable_at_1920(page, name):
    srv = _open(page, name, (1920, 1080))
    try:
        _check_first_view(page, (1920, 1080))
    finally:
        srv.close()


def test_toolbar_fits_1280_and_a_static_view_has_no_timeline(page):
    srv = _open(page, "resnet", (1280, 800))
    try:
        fit = page.evaluate("""() => {
          const bar = document.getElementById('toolbar').getBoundingClientRect();
          const kids = [...document.querySelectorAll('#toolbar > *')].filter((e) => e.offsetParent !== null);
          const status = document.getElementById('status');
          return {right: bar.right, inside: kids.every((e) => { const r = e.getBoundingClientRect();
                    return r.left >= bar.left - 0.5 && r.right <= bar.right + 0.5 && r.bottom <= bar.bottom + 0.5; }),
                  statusCut: status.scrollWidth > status.clientWidth + 1,
                  timeline: !document.getElementById('timeline').hidden,
                  live: document.getElementById('tl-live').offsetParent !== null};
        }""")
        assert fit["right"] <= 1280 and fit["inside"] and not fit["statusCut"], fit
        assert not fit["timeline"] and not fit["live"], fit
    finally:
        srv.close()


def test_search_opens_a_stack_frames_and_selects_the_layer(page):
    srv = _open(page, "gpt2", (1280, 800))
    try:
        target = "transformer.h.7.attn.c_proj"
        assert f"/model/{target.replace('.', '/')}" not in page.evaluate("nnviz3d.paths()")
        page.fill("#search", target)
        page.press("#search", "Enter")
        page.wait_for_function(
            f"nnviz3d.selected === '/model/{target.replace('.', '/')}'", timeout=30_000
        )
        page.wait_for_function("!nnviz3d.flying")  # the camera flies there
        page.evaluate("nnviz3d.render()")
        at = page.evaluate(f"nnviz3d.project('{target}')")
        assert 0 < at["x"] < 1280 and 60 < at["y"] < 800
        # a name alone finds it too (the first layer called so)
        page.fill("#search", "lm_head")
        page.press("#search", "Enter")
        page.wait_for_function("nnviz3d.selected === '/model/lm_head'")
    finally:
        srv.close()


def test_frame_on_a_block_shows_its_neighbours(page):
    srv = _open(page, "gpt2", (1280, 800))
    try:
        page.evaluate("nnviz3d.select('transformer.h.0.attn.c_attn')")
        page.keyboard.press("f")
        page.wait_for_timeout(100)
        page.wait_for_function("!nnviz3d.flying")
        page.evaluate("nnviz3d.render()")
        box = page.evaluate("nnviz3d.rectOf('transformer.h.0.attn.c_attn')")
        assert box["w"] < 0.5 * 1280 and box["h"] < 0.6 * 800, box
        assert page.evaluate("nnviz3d.visibleBlocks") >= 3
    finally:
        srv.close()
