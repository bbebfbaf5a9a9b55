"""Names from a model, a file or a recording are text, never HTML: a safetensors file whose
tensor names (and file name) carry markup, and a recorded run whose module names, metric names,
alarm messages, recipe title, bookmarks and tour captions carry markup, are shown literally in
every place the viewer shows a name; no element is injected, no handler runs, the page never
navigates. Very long names are clamped; bidi override characters cannot reorder the text."""

from __future__ import annotations

from pathlib import Path

import safetensors.torch
import torch

import nnviz3d
from nnviz3d.capture.formats import open_model_file
from nnviz3d.capture.weight_frame import file_weights
from nnviz3d.recipe import Recipe
from nnviz3d.record import RunReader
from nnviz3d.replay import serve_replay
from nnviz3d.viewer import view
from tests.security.conftest import hover, wait_ready

IMG = "<img src=x onerror=__pwned=1>"
SVG = '"><svg onload=__pwned=2>'
OPTION = "</option><img src=x onerror=__pwned=3>"
LINK = "<a href=//evil>click</a>"
META = '<meta http-equiv=refresh content="0;url=https://evil.example">'
MODULES = [IMG, SVG, OPTION, LINK]
"""Module names (torch forbids dots in them; a file's tensor names split at dots)."""
RTL = "\u202egnp"
LONG = "L" * 10_000
INJECTED = "img[src='x'], svg, meta[http-equiv], a[href*='evil'], iframe, [onerror], [onload]"


def watch_requests(page) -> list[str]:
    """URLs the page asks for that are not the viewer's own server."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "127.0.0.1" not in r.url else None)
    return seen


def assert_nothing_injected(page, url: str, requests: list[str]) -> None:
    assert page.evaluate(f"document.querySelectorAll({INJECTED!r}).length") == 0
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.url.split("#")[0] == url.split("#")[0]
    assert requests == []
    assert page.errors == []


def test_a_safetensors_file_with_markup_names_shows_them_as_text(page, tmp_path):
    tensors = {f"{m}.weight": torch.randn(6, 4) for m in MODULES}
    tensors[f"{LONG}.weight"] = torch.randn(2, 2)
    tensors[f"{RTL}.weight"] = torch.randn(2, 2)
    path = tmp_path / "<img src=x onerror=__pwned=9>.safetensors"
    safetensors.torch.save_file(tensors, path)
    handle = view(
        graph=open_model_file(path),
        weights=file_weights(path),
        open_browser=False,
        quiet=True,
        port=0,
    )
    requests = watch_requests(page)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.overlays.length > 0", timeout=30_000)
        assert_nothing_injected(page, handle.url, requests)
        # the file name: page title, status line, the model name the viewer reports
        assert path.name in page.title()
        assert path.name in page.locator("#status").inner_text()
        assert page.evaluate("nnviz3d.model") == path.name
        # the layer search offers every path as it is
        values = page.locator("#paths option").evaluate_all("os => os.map(o => o.value)")
        assert set(MODULES) <= set(values)
        assert page.evaluate("nnviz3d.labelCount") > 0  # troika draws labels as text
        page.evaluate("nnviz3d.setColorBy('weight_norm')")
        for module in MODULES:
            assert page.evaluate("m => nnviz3d.select(m)", module)
            assert page.locator("#info h2").inner_text() == module
            assert page.locator("#info td[data-field='path']").inner_text() == module
            # hover one weight cell from above: the tooltip and the overlay legend name the layer
            page.wait_for_timeout(600)  # the selection's camera flight ends
            cell = page.evaluate("m => nnviz3d.cellPosition(m, 2, 2)", module)
            assert hover(page, cell, [0, 1.5, -0.01], f"{module} weight").startswith(module)
            assert module in page.locator("#legend-overlay .name").inner_text()
            page.mouse.move(2, 790)
        # a 10,000-character name is clamped (with an ellipsis); its title keeps more
        assert page.evaluate("m => nnviz3d.select(m)", LONG)
        h2 = page.locator("#info h2").inner_text()
        assert len(h2) <= 200 and h2.endswith("…") and h2.startswith("LLLL")
        assert len(page.locator("#info h2 bdi").get_attribute("title")) > 1000
        # a right-to-left override cannot reverse what follows it: it is shown as U+FFFD
        assert page.evaluate("m => nnviz3d.select(m)", RTL)
        assert page.locator("#info h2").inner_text() == "\ufffdgnp"
        assert_nothing_injected(page, handle.url, requests)
    finally:
        handle.close()


class Named(torch.nn.Module):
    """A model whose layers are named with markup."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential()
        self.body.add_module(IMG, torch.nn.Linear(8, 16))
        self.body.add_module(SVG, torch.nn.ReLU())
        self.body.add_module(OPTION, torch.nn.Linear(16, 16))
        self.body.add_module(LINK, torch.nn.Linear(16, 2))

    def forward(self, x):
        return self.body(x)


def recorded_run(path: Path) -> None:
    """A few steps of ``Named`` under nnviz3d.watch with markup metric names; a NaN weight
    raises health alarms (whose messages carry the layer names)."""
    torch.manual_seed(0)
    model = Named()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    w = nnviz3d.watch(model, torch.randn(1, 8), record=path, serve=False, every=1, quiet=True)
    try:
        for step in range(5):
            if step == 3:
                with torch.no_grad():
                    getattr(model.body, OPTION).weight[0, 0] = float("nan")
            loss = torch.nn.functional.cross_entropy(
                model(torch.randn(16, 8)), torch.randint(0, 2, (16,))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item(), **{META: 0.5 + step, IMG: float(step)})
    finally:
        w.close()


def test_a_recorded_run_with_markup_names_shows_them_as_text(page, tmp_path):
    run = tmp_path / "named.nnv3d"
    recorded_run(run)
    mark = {"name": META, "position": [6.0, 5.0, -6.0], "target": [0.0, 0.0, 0.0], "caption": LINK}
    recipe = Recipe(
        path=tmp_path / "r.toml",
        model="named",
        title=SVG,
        bookmarks=[mark],
        tour=[{**mark, "caption": IMG, "seconds": 30.0, "bookmark": META}],
    )
    handle = serve_replay(RunReader(run), open_browser=False, quiet=True, port=0, recipe=recipe)
    requests = watch_requests(page)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.evaluate("nnviz3d.seek(4)")
        page.wait_for_function("nnviz3d.step === 4", timeout=30_000)
        page.wait_for_function("nnviz3d.alarms.length > 0", timeout=20_000)
        page.evaluate("nnviz3d.select('body.' + " + repr(IMG) + ")")
        page.wait_for_timeout(300)
        assert_nothing_injected(page, handle.url, requests)
        # the recipe: its title in the page title, bookmark names and captions as text
        page.wait_for_function("nnviz3d.recipe !== null", timeout=10_000)
        assert SVG in page.title()
        options = page.locator("#bookmarks option")
        assert options.all_inner_texts()[1:] == [META[:39] + "…"]  # clamped in the menu
        assert options.nth(1).get_attribute("value") == META
        assert options.nth(1).get_attribute("title") == LINK
        page.select_option("#bookmarks", META)
        page.wait_for_function("!document.getElementById('toast').hidden")
        assert page.locator("#toast").inner_text() == LINK
        # the tour caption
        page.evaluate("nnviz3d.playTour()")
        page.wait_for_function("nnviz3d.tour.playing")
        assert page.locator("#tour-caption").inner_text() == IMG
        page.evaluate("nnviz3d.stopTour()")
        # metric names: the chart's menu
        page.wait_for_function(f"nnviz3d.chart.names.includes({META!r})", timeout=20_000)
        menu = page.locator("#chart-metric option")
        assert {META, IMG} <= set(menu.evaluate_all("os => os.map(o => o.value)"))
        assert {META[:39] + "…", IMG} <= set(menu.all_inner_texts())
        page.select_option("#chart-metric", META)
        page.wait_for_function(f"nnviz3d.chart.shown === {META!r}")
        # alarms: the health panel names the layers; their messages are the titles
        page.wait_for_function(
            f"nnviz3d.alarms.some(a => a.module === 'body.' + {OPTION!r})", timeout=20_000
        )
        items = page.locator("#health li[data-alarm='nan']").evaluate_all(
            "ls => ls.map(l => [l.dataset.module, l.innerText, l.title])"
        )
        module, text, title = next(i for i in items if i[0] == f"body.{OPTION}")
        assert f"body.{OPTION}" in text and f"body.{OPTION}" in title
        # the info panel and the block tooltip of each layer
        for module in MODULES:
            path = f"body.{module}"
            assert page.evaluate("m => nnviz3d.select(m)", path)
            assert page.locator("#info h2").inner_text() == path
            page.click("#btn-reset")  # the panel closes: nothing covers the block
            page.wait_for_timeout(600)  # the reset's camera flight ends
            box = page.evaluate("p => nnviz3d.xrPoint(p)", path)  # the block's centre
            assert hover(page, box, [-2.5, 2, -2.5], path).startswith(path)
            page.mouse.move(2, 790)
        # every panel's text shows the names literally
        assert f"body.{IMG}" in page.locator("#health").inner_text()
        assert_nothing_injected(page, handle.url, requests)
    finally:
        handle.close()


def test_no_viewer_module_writes_markup():
    """The viewer builds its DOM from elements and text (web/src/dom.ts): no innerHTML,
    outerHTML, insertAdjacentHTML or document.write anywhere in its sources."""
    src = Path(__file__).parents[2] / "web" / "src"
    sinks = (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "srcdoc",
        "createContextualFragment",
    )
    found = [
        f"{p.relative_to(src)}:{n + 1}"
        for p in src.rglob("*.ts")
        for n, line in enumerate(p.read_text().splitlines())
        if any(s in line for s in sinks) and not line.lstrip().startswith("//")
    ]
    assert found == []
