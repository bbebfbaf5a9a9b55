"""Readable at first sight (issue 16), in a real browser: the loss chart is a screen panel in a
corner that covers no block and no other panel, with a title, axis labels and tick numbers (a
plane facing the headset in VR); the embedding clouds stand beside their layers, big enough to
see in the overview, touching no block, each titled, with the classes named in the legend; a
colour scale that collapses to one value says "all = ..." and blocks without data are a grey
that stands out from the background."""

import re

import pytest
import torch

import nnviz3d
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.zoo import DigitsCNN
from tests.browser.conftest import wait_ready

PANELS = ["#toolbar", "#legend", "#timeline", "#info", "#health", "#inspect"]


def overlap(a, b) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def visible_rects(page) -> dict:
    """Screen rectangles of the viewer's visible panels (CSS px)."""
    return page.evaluate(
        """(ids) => Object.fromEntries(ids.map((id) => {
        const e = document.querySelector(id);
        if (!e || e.hidden || e.offsetParent === null && getComputedStyle(e).position !== 'fixed')
          return [id, null];
        const r = e.getBoundingClientRect();
        return [id, r.width && r.height ? {left: r.left, top: r.top, right: r.right, bottom: r.bottom} : null];
      }))""",
        PANELS,
    )


def projected_blocks(page) -> list:
    """Every block's projected outline on the screen (CSS px)."""
    return page.evaluate("""() => nnviz3d.blockBoxes.map((b) => {
        const xs = [], ys = [];
        for (let k = 0; k < 8; k++) {
          const p = nnviz3d.screen([k & 1 ? b.max[0] : b.min[0], k & 2 ? b.max[1] : b.min[1],
                                    k & 4 ? b.max[2] : b.min[2]]);
          xs.push(p.x); ys.push(p.y);
        }
        return {path: b.path, left: Math.min(...xs), right: Math.max(...xs),
                top: Math.min(...ys), bottom: Math.max(...ys)};
      })""")


def digits_run(**kwargs):
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    w = nnviz3d.watch(
        model, x[:1], record=False, open_browser=False, port=0, every=1, quiet=True, **kwargs
    )

    def train(steps):
        for _ in range(steps):
            idx = torch.randint(0, len(y), (64,))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
            if w.step_index % 5 == 0:
                w.validation(loss=loss.item() * 1.1)

    return w, train, (xv, yv)


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_the_loss_chart_is_a_labelled_screen_panel_over_no_block_and_no_panel(page, size):
    w, train, _ = digits_run()
    try:
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.goto(w.url)
        wait_ready(page)
        train(30)
        page.wait_for_function("nnviz3d.chartView.shown && nnviz3d.step >= 29", timeout=60_000)
        page.wait_for_timeout(900)  # the default view flies clear of the panel (0.6 s)
        page.evaluate("nnviz3d.render()")
        chart = page.evaluate("nnviz3d.chartView")
        assert chart["orientation"] == "screen" and chart["world"] is None
        r = chart["rect"]
        # in the bottom-right corner, inside the window, readable
        assert r["right"] <= size[0] and r["bottom"] <= size[1] and r["left"] > size[0] / 2
        assert r["top"] > size[1] / 2 and r["width"] >= 300 and r["height"] >= 150
        assert chart["title"] == "loss" and chart["xLabel"] == "step"
        assert chart["yLabel"].startswith("loss")
        assert len(chart["xTicks"]) >= 3 and len(chart["yTicks"]) >= 2
        assert all(re.fullmatch(r"\d+", t) for t in chart["xTicks"])
        # no block of the default view lies under it
        under = [b["path"] for b in projected_blocks(page) if overlap(b, r)]
        assert under == []
        assert page.evaluate("nnviz3d.clearance")["under"] == 0
        # nor does it cover a panel, the info panel of a selected block included
        page.evaluate("nnviz3d.select('block.conv1')")
        page.wait_for_selector("#info canvas", timeout=10_000)
        rects = visible_rects(page)
        assert rects["#info"] and rects["#legend"] and rects["#timeline"] and rects["#toolbar"]
        for name, rect in rects.items():
            assert rect is None or not overlap(rect, r), f"the chart covers {name}"
        assert page.evaluate("nnviz3d.chartView.rect") == r  # it stays where it was
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def test_embedding_clouds_are_seen_beside_their_layers_titled_and_their_classes_named(page):
    w, train, (xv, yv) = digits_run(
        inputs=xv_digits(),
        labels=yv_digits(),
        embed=["pool", "head.2"],
        embed_every=1,
        embed_method="pca",
    )
    try:
        page.goto(w.url)
        wait_ready(page)
        train(3)
        page.wait_for_function("nnviz3d.clouds.length === 2", timeout=60_000)
        page.wait_for_timeout(900)  # the default view re-frames to take the clouds in
        page.evaluate("nnviz3d.render()")
        clouds = {c["layer"]: c for c in page.evaluate("nnviz3d.clouds")}
        blocks = page.evaluate("nnviz3d.blockBoxes")
        lo = [min(b["min"][k] for b in blocks) for k in range(3)]
        hi = [max(b["max"][k] for b in blocks) for k in range(3)]
        extent = max(top - bottom for bottom, top in zip(lo, hi))
        view = page.viewport_size
        chart = page.evaluate("nnviz3d.chartView.rect")
        for layer, c in clouds.items():
            assert re.fullmatch(rf"{re.escape(layer)} · PCA · step \d+", c["title"])
            side = [c["max"][k] - c["min"][k] for k in range(3)]
            assert min(side) >= 0.08 * extent  # seen in the overview
            for b in blocks:  # touching no block
                assert any(
                    c["max"][k] <= b["min"][k] or b["max"][k] <= c["min"][k] for k in range(3)
                ), f"{layer}'s cloud cuts {b['path']}"
            # beside its own block: within one cloud size of it along x, level with it along z
            own = next(b for b in blocks if b["path"] == "/model/" + layer.replace(".", "/"))
            gap = max(c["min"][0] - own["max"][0], own["min"][0] - c["max"][0], 0)
            assert (
                gap <= 1.5 * side[0]
                and c["min"][2] <= own["max"][2]
                and own["min"][2] <= c["max"][2]
            )
            # in the default view: on the screen, a fair size, not under the chart
            centre = [(c["min"][k] + c["max"][k]) / 2 for k in range(3)]
            at = page.evaluate(f"nnviz3d.screen({centre})")
            assert 0 < at["x"] < view["width"] and 60 < at["y"] < view["height"]
            top = page.evaluate(f"nnviz3d.screen({[centre[0], c['max'][1], centre[2]]})")
            bottom = page.evaluate(f"nnviz3d.screen({[centre[0], c['min'][1], centre[2]]})")
            assert bottom["y"] - top["y"] >= 0.08 * view["height"]
            assert not (
                chart
                and chart["left"] < at["x"] < chart["right"]
                and chart["top"] < at["y"] < chart["bottom"]
            )
        # the clouds touch each other neither
        a, b = clouds.values()
        assert any(a["max"][k] <= b["min"][k] or b["max"][k] <= a["min"][k] for k in range(3))
        # the classes are named in the legend without hovering: ten swatches, ten labels
        legend = page.evaluate("nnviz3d.classLegend")
        assert [e["label"] for e in legend] == [str(k) for k in range(10)]
        assert len({e["color"] for e in legend}) == 10
        assert page.locator("#legend-classes").is_visible()
        assert "pool, head.2" in page.locator("#legend-classes").inner_text()
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def xv_digits():
    return load_digits_tensors()[1][0][:120]


def yv_digits():
    return load_digits_tensors()[1][1][:120]


def test_a_hostile_long_layer_name_is_text_and_clamped_in_a_title_and_the_legend(page):
    from collections import OrderedDict

    name = "<img src=x onerror=alert(1)>" + "x" * 200
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        OrderedDict(
            [("fc", torch.nn.Linear(8, 8)), (name, torch.nn.ReLU()), ("out", torch.nn.Linear(8, 3))]
        )
    )
    xs, ys = torch.randn(60, 8), torch.randint(0, 3, (60,))
    w = nnviz3d.watch(
        model,
        xs[:1],
        record=False,
        open_browser=False,
        port=0,
        every=1,
        quiet=True,
        inputs=xs,
        labels=ys,
        embed=[name],
        embed_every=1,
        embed_method="pca",
    )
    try:
        page.goto(w.url)
        wait_ready(page)
        for _ in range(3):
            loss = torch.nn.functional.cross_entropy(model(xs), ys)
            loss.backward()
            w.step(loss=loss.item())
        page.wait_for_function("nnviz3d.clouds.length === 1", timeout=60_000)
        title = page.evaluate("nnviz3d.clouds[0].title")
        assert title.startswith("<img src=x onerror") and "…" in title and len(title) < 70
        assert page.locator("#legend-classes img").count() == 0
        assert page.locator("img").count() == 0  # nowhere in the page
        assert [e["label"] for e in page.evaluate("nnviz3d.classLegend")] == ["0", "1", "2"]
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def srgb(c: float) -> float:
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def luminance(rgb) -> float:
    def lin(v):
        v = v / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def pixel(page, x, y):
    """The colour drawn on the canvas at CSS px (x, y)."""
    return page.evaluate(
        """([x, y]) => {
        const c = document.getElementById('scene'), s = c.width / c.clientWidth;
        const t = document.createElement('canvas'); t.width = c.width; t.height = c.height;
        const g = t.getContext('2d'); g.drawImage(c, 0, 0);
        return Array.from(g.getImageData(Math.round(x * s), Math.round(y * s), 1, 1).data);
      }""",
        [x, y],
    )


def steps_of(model, n, train=True):
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01 if train else 0.0
    )
    w = nnviz3d.watch(
        model, torch.randn(1, 8), record=False, open_browser=False, port=0, every=1, quiet=True
    )
    for _ in range(n):
        loss = torch.nn.functional.cross_entropy(
            model(torch.randn(16, 8)), torch.randint(0, 2, (16,))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
    return w


def test_one_layer_with_gradients_says_all_equal_and_no_data_blocks_stand_out(page):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    model[0].requires_grad_(False)  # only the last layer has gradients
    w = steps_of(model, 3)
    try:
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.probeModules.includes('2')", timeout=30_000)
        page.evaluate("nnviz3d.setColorBy('grad_norm')")
        page.wait_for_function("nnviz3d.colorScale !== null")
        entries = {e["entry"]: e for e in page.evaluate("nnviz3d.colorScale")}
        assert "min" not in entries and "max" not in entries  # no range pretending to be one
        m = re.fullmatch(r"all = (\S+) \(1 block with data\)", entries["all"]["text"])
        assert m and float(m.group(1)) > 0  # a number, not NaN
        assert entries["all"]["color"] == "rgb(33, 145, 140)"  # viridis' middle
        assert "no data" in entries["nodata"]["text"]
        only = page.evaluate("nnviz3d.blockColor('2')")
        assert only[1] > only[0] and only[2] > only[0]  # the teal middle, not an end of the map
        # the blocks without data: a mid-grey, in the legend and on the screen, far from the
        # background
        grey = page.evaluate("nnviz3d.blockColor('0')")
        assert grey == page.evaluate("nnviz3d.blockColor('1')")
        assert max(grey) - min(grey) < 1e-6 and 0.1 < grey[0] < 0.5
        assert entries["nodata"]["color"] == "rgb(124, 124, 124)"
        page.evaluate("nnviz3d.render()")
        at = page.evaluate("nnviz3d.project('/model/0')")
        drawn = pixel(page, at["x"], at["y"])
        background = pixel(page, 4, page.viewport_size["height"] / 2)
        ratio = (luminance(drawn) + 0.05) / (luminance(background) + 0.05)
        assert ratio >= 3, (drawn, background)
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def test_all_equal_values_say_all_equal_and_keep_a_finite_scale(page):
    torch.manual_seed(0)
    model = torch.nn.Sequential(*(torch.nn.Linear(8, 8) for _ in range(3)))
    with torch.no_grad():
        for layer in model[1:]:
            layer.load_state_dict(model[0].state_dict())
    w = steps_of(model, 2, train=False)  # lr 0: the weights stay equal in norm
    try:
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.probeModules.includes('2')", timeout=30_000)
        page.evaluate("nnviz3d.setColorBy('weight_norm')")
        page.wait_for_function("nnviz3d.colorScale !== null")
        entries = {e["entry"]: e for e in page.evaluate("nnviz3d.colorScale")}
        assert "all" in entries, entries
        m = re.fullmatch(r"all = (\S+) \(3 blocks\)", entries["all"]["text"])
        assert m, entries
        norm = torch.cat([p.flatten() for p in model[0].parameters()]).norm().item()
        assert float(m.group(1)) == pytest.approx(norm, rel=1e-3)  # 4 significant digits
        colours = [page.evaluate(f"nnviz3d.blockColor('{k}')") for k in "012"]
        assert colours[0] == colours[1] == colours[2]
        for e in page.locator("#legend-scale [data-scale]").all_inner_texts():
            assert "NaN" not in e and "Inf" not in e
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def test_in_vr_the_chart_stands_in_the_scene_facing_the_headset(page):
    from tests.browser.xr_helpers import enter_vr, wait_frames

    w, train, _ = digits_run()
    try:
        train(6)
        enter_vr(page, w.url)
        page.wait_for_function(
            "nnviz3d.chartView.orientation === 'world' && nnviz3d.chartView.world", timeout=20_000
        )
        wait_frames(page)
        chart = page.evaluate("nnviz3d.chartView")
        assert chart["rect"] is None  # the desktop panel is away
        lo, hi = chart["world"]["min"], chart["world"]["max"]
        for b in page.evaluate("nnviz3d.blockBoxes"):  # it cuts through no block
            assert any(hi[k] <= b["min"][k] or b["max"][k] <= lo[k] for k in range(3))
        page.evaluate("nnviz3d.exitVR()")
        page.wait_for_function(
            "nnviz3d.chartView.orientation === 'screen' && nnviz3d.chartView.rect", timeout=20_000
        )
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()
