"""The connection matrix and the spectral layout (web/src/topologyViews.ts) in real Chromium on
the digits CNN and GPT-2: one cell per visible edge, following expand/collapse; hovering a cell
lights both blocks and the tooltip names the edge; a click selects; the spectral layout moves the
blocks and brings them back exactly; the matrix stays clear of the blocks at the default view;
markup in module names is drawn as text."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnviz3d.capture import capture_graph
from nnviz3d.layout import layout_depth, layout_graph
from nnviz3d.server import SceneState, ServerThread, make_app
from tests.browser.conftest import serve, wait_ready

MODELS = {"digits_cnn": None, "gpt2": 3}
"""The digits CNN at its default view; GPT-2 at depth 3 (its layers closed, to open one)."""


@pytest.fixture(scope="module")
def servers():
    made = {name: serve(name, depth=depth) for name, depth in MODELS.items()}
    made["gpt2-all"] = serve("gpt2", depth="all")  # 152 blocks folded in lines: names on hover
    yield made
    for srv, _ in made.values():
        srv.close()


def open_view(page, servers, name: str, matrix=True):
    srv, _ = servers[name]
    page.goto(srv.url)
    wait_ready(page)
    if matrix:
        page.evaluate("nnviz3d.setMatrix(true)")
        page.wait_for_function("!nnviz3d.flying", timeout=20_000)
        page.evaluate("nnviz3d.render()")


def expected_edges(state: SceneState) -> set[tuple[str, str, str]]:
    layout = layout_graph(state.graph, layout_depth(state.depth), state.expanded, state.collapsed)
    return {(e.src, e.dst, e.kind) for e in layout.edges}


def shown_edges(page) -> list[tuple[str, str, str]]:
    return [(c["src"], c["dst"], c["kind"]) for c in page.evaluate("nnviz3d.matrixCells()")]


def overlap(a, b) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("name", [*MODELS, "gpt2-all"])
def test_off_by_default_then_one_cell_per_visible_edge_clear_of_the_blocks(page, servers, name):
    open_view(page, servers, name, matrix=False)
    before = page.evaluate("nnviz3d.topology()")
    assert before["matrix"] is False and before["layout"] == "layers" and before["cells"] == 0
    assert page.locator("#btn-matrix").get_attribute("aria-pressed") == "false"
    page.keyboard.press("m")
    page.wait_for_function("nnviz3d.topology().matrix && !nnviz3d.flying", timeout=20_000)
    page.evaluate("nnviz3d.render()")
    assert page.locator("#btn-matrix").get_attribute("aria-pressed") == "true"
    topo = page.evaluate("nnviz3d.topology()")
    cells = shown_edges(page)
    want = expected_edges(servers[name][1])
    assert topo["cells"] == len(cells) == len(want) > 10
    assert set(cells) == want
    assert topo["rows"] == page.evaluate("nnviz3d.nodeCount")
    assert topo["named"] is (topo["rows"] <= 48)
    # at the default 1280x800 view the wall is in view and covers no block
    rect = topo["rect"]
    assert rect["w"] > 150 and rect["h"] > 150  # CSS px
    assert rect["x"] >= 0 and rect["y"] >= 0 and rect["x"] + rect["w"] <= 1280
    assert rect["y"] + rect["h"] <= 800
    for path in page.evaluate("nnviz3d.paths()"):
        block = page.evaluate("p => nnviz3d.rectOf(p)", path)
        assert not overlap(rect, block), (path, rect, block)
    assert page.errors == []


@pytest.mark.parametrize("name", list(MODELS))
def test_hovering_a_cell_lights_both_blocks_and_a_click_selects(page, servers, name):
    open_view(page, servers, name)
    cells = page.evaluate("nnviz3d.matrixCells()")
    cell = next(c for c in cells if c["src"] and c["dst"] and not c["src"].startswith("input"))
    before = {p: page.evaluate("p => nnviz3d.shownColor(p)", p) for p in (cell["src"], cell["dst"])}
    page.mouse.move(cell["point"]["x"], cell["point"]["y"])
    page.wait_for_function("nnviz3d.topology().hovered !== null", timeout=10_000)
    hovered = page.evaluate("nnviz3d.topology().hovered")
    assert hovered["kind"] == "cell"
    tip = page.evaluate("nnviz3d.tooltip")
    assert f"{cell['src']} → {cell['dst']}" in tip
    for path, was in before.items():
        now = page.evaluate("p => nnviz3d.shownColor(p)", path)
        assert sum(now) > sum(was) + 0.1, (path, was, now)  # lit towards white
    page.mouse.click(cell["point"]["x"], cell["point"]["y"])
    src_path = "/model/" + cell["src"].replace(".", "/")
    page.wait_for_function(f"nnviz3d.selected === {src_path!r}", timeout=10_000)
    assert page.locator("#info h2").inner_text() == cell["src"]
    # off the wall the lighting goes
    page.mouse.move(5, 400)
    page.wait_for_function("nnviz3d.topology().hovered === null", timeout=10_000)
    assert page.errors == []


def test_the_matrix_follows_expand_and_collapse(page, servers):
    open_view(page, servers, "gpt2")
    state = servers["gpt2"][1]
    first = page.evaluate("nnviz3d.topology()")
    version = page.evaluate("nnviz3d.sceneVersion")
    try:
        page.evaluate("nnviz3d.expand('transformer.h.0')")
        page.wait_for_function(f"nnviz3d.sceneVersion > {version} && nnviz3d.ready")
        opened = page.evaluate("nnviz3d.topology()")
        assert opened["matrix"] is True
        assert opened["rows"] == page.evaluate("nnviz3d.nodeCount") > first["rows"]
        assert set(shown_edges(page)) == expected_edges(state)
        assert opened["cells"] == len(expected_edges(state)) > first["cells"]
        assert any(src.startswith("transformer.h.0.") for src, _, _ in shown_edges(page))
        version = page.evaluate("nnviz3d.sceneVersion")
        page.evaluate("nnviz3d.collapse('transformer.h.0')")
        page.wait_for_function(f"nnviz3d.sceneVersion > {version} && nnviz3d.ready")
        assert page.evaluate("nnviz3d.topology().cells") == first["cells"]
    finally:
        state.expanded.clear()
        state.collapsed.clear()
        state.rebuild()
    assert page.errors == []


@pytest.mark.parametrize("name", list(MODELS))
def test_spectral_layout_moves_the_blocks_and_back_exactly(page, servers, name):
    open_view(page, servers, name, matrix=False)
    layered = page.evaluate("nnviz3d.blockBoxes")
    page.click("#btn-layout")
    assert page.evaluate("nnviz3d.topology().layout") == "spectral"
    assert page.locator("#btn-layout").inner_text() == "Layout: spectral"
    page.wait_for_function("nnviz3d.topology().progress > 0 && nnviz3d.topology().moving")
    page.wait_for_function("!nnviz3d.topology().moving", timeout=20_000)
    assert page.evaluate("nnviz3d.topology().progress") == 1
    spectral = page.evaluate("nnviz3d.blockBoxes")
    moved = [
        max(abs(a - b) for a, b in zip(s["min"], lay["min"], strict=True))
        for s, lay in zip(spectral, layered, strict=True)
    ]
    assert sum(m > 0.5 for m in moved) >= len(moved) // 2, moved
    # the sizes stay; the blocks spread over about the layered layout's length
    for s, lay in zip(spectral, layered, strict=True):
        size = [b - a for a, b in zip(s["min"], s["max"], strict=True)]
        lay_size = [b - a for a, b in zip(lay["min"], lay["max"], strict=True)]
        assert size == pytest.approx(lay_size, abs=1e-5)

    def extent(boxes):
        return max(
            max(b["max"][k] for b in boxes) - min(b["min"][k] for b in boxes) for k in (0, 2)
        )

    assert 0.5 * extent(layered) < extent(spectral) < 2 * extent(layered)
    for i, a in enumerate(spectral):  # no two blocks intersect
        for c in spectral[i + 1 :]:
            assert not all(
                a["min"][k] < c["max"][k] and c["min"][k] < a["max"][k] for k in range(3)
            ), (a["path"], c["path"])
    page.keyboard.press("l")
    page.wait_for_function("!nnviz3d.topology().moving", timeout=20_000)
    topo = page.evaluate("nnviz3d.topology()")
    assert topo["layout"] == "layers" and topo["progress"] == 0
    assert page.evaluate("nnviz3d.blockBoxes") == layered  # exactly where the scene put them
    assert page.errors == []


IMG = "<img src=x onerror=__pwned=1>"
SVG = '"><svg onload=__pwned=2>'
LINK = "<a href=//evil>click</a>"


def test_markup_in_module_names_is_drawn_as_text(page):
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module(IMG, nn.Linear(4, 8))
    model.add_module(SVG, nn.ReLU())
    model.add_module(LINK, nn.Linear(8, 2))
    state = SceneState(capture_graph(model, (torch.randn(1, 4),)))
    srv = ServerThread(make_app(state), "127.0.0.1", 0)
    try:
        page.goto(srv.url)
        wait_ready(page)
        page.evaluate("nnviz3d.setMatrix(true)")
        page.evaluate("nnviz3d.setLayout('spectral', false)")
        page.wait_for_function("!nnviz3d.flying", timeout=20_000)
        page.evaluate("nnviz3d.render()")
        topo = page.evaluate("nnviz3d.topology()")
        assert topo["cells"] == len(expected_edges(state)) >= 3 and topo["named"] is True
        names = {c["src"] for c in page.evaluate("nnviz3d.matrixCells()")}
        assert {IMG, SVG} <= names
        rows = page.evaluate("nnviz3d.topology().rows")
        tips = []
        for r in range(rows):
            at = page.evaluate(f"nnviz3d.matrixRow({r})")
            page.mouse.move(at["x"], at["y"])
            page.wait_for_function("nnviz3d.topology().hovered !== null", timeout=10_000)
            tips.append(page.evaluate("nnviz3d.tooltip"))
        assert any(IMG in t for t in tips) and any(LINK in t for t in tips), tips
        injected = "img[src='x'], svg, a[href*='evil'], [onerror], [onload]"
        assert page.evaluate(f"document.querySelectorAll({injected!r}).length") == 0
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.errors == []
    finally:
        srv.close()


class TwoParts(nn.Module):
    """Two inputs, two outputs, nothing shared: a graph of two parts of three blocks each."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(5, 2)

    def forward(self, x, y):
        return self.a(x), self.b(y)


def test_spectral_layout_of_disconnected_small_parts(page):
    state = SceneState(capture_graph(TwoParts(), (torch.randn(1, 4), torch.randn(1, 5))))
    srv = ServerThread(make_app(state), "127.0.0.1", 0)
    try:
        page.goto(srv.url)
        wait_ready(page)
        layered = page.evaluate("nnviz3d.blockBoxes")
        page.evaluate("nnviz3d.setLayout('spectral', false)")
        spectral = page.evaluate("nnviz3d.blockBoxes")
        assert len(spectral) == 6
        centres = [[(a + b) / 2 for a, b in zip(s["min"], s["max"], strict=True)] for s in spectral]
        # every block has a place of its own (parts side by side, no two blocks on one spot)
        for i, p in enumerate(centres):
            for q in centres[i + 1 :]:
                assert max(abs(u - v) for u, v in zip(p, q, strict=True)) > 0.2, (p, q)
        page.evaluate("nnviz3d.setLayout('layers', false)")
        assert page.evaluate("nnviz3d.blockBoxes") == layered
        assert page.errors == []
    finally:
        srv.close()


def test_the_spectral_layout_declines_more_blocks_than_it_can_place_quickly(page):
    """401 alternating layers (no run of identical siblings to stack): more blocks than the
    dense eigensolver places in about a second, so the layout stays and a toast says why."""
    layers = [nn.Linear(2, 2) if i % 2 else nn.Tanh() for i in range(401)]
    graph = capture_graph(nn.Sequential(*layers), (torch.randn(1, 2),), strategies="hooks")
    state = SceneState(graph, depth="all")
    srv = ServerThread(make_app(state), "127.0.0.1", 0)
    try:
        page.goto(srv.url)
        wait_ready(page, timeout=120_000)
        assert page.evaluate("nnviz3d.nodeCount") > 400
        page.keyboard.press("l")
        topo = page.evaluate("nnviz3d.topology()")
        assert topo["layout"] == "layers" and topo["progress"] == 0
        assert "up to 400 blocks" in page.locator("#toast").inner_text()
        page.evaluate("nnviz3d.setMatrix(true)")  # the matrix has no such bound: names on hover
        topo = page.evaluate("nnviz3d.topology()")
        assert topo["cells"] == len(expected_edges(state)) and topo["named"] is False
        assert page.errors == []
    finally:
        srv.close()
