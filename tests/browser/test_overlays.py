"""Weight maps, bias bars, histogram ridges and the PCA scatter in a real browser, on the demo
CNN trained on real digits; hovering a weight cell shows the exact value it stands for."""

import torch

import nnviz3d
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.scene.weight_map import weight_grid
from nnviz3d.zoo import DigitsCNN
from tests.browser.conftest import hover, wait_ready


def train_watched(steps=17):
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    w = nnviz3d.watch(
        model,
        x[:1],
        record=False,
        open_browser=False,
        port=0,
        every=1,
        quiet=True,
        inputs=xv,
        labels=yv,
    )
    for i in range(steps):  # weight matrices travel at steps 0, 8, 16
        idx = slice(32 * i, 32 * i + 32)
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
    w.close()  # flushes the frames; the viewer keeps serving
    return model, w


def test_weight_maps_hover_values_and_detail_views(page):
    model, w = train_watched()
    try:
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.overlayStep === 16", timeout=30_000)
        shown = {(o["module"], o["name"], o["kind"]) for o in page.evaluate("nnviz3d.overlays")}
        assert ("head.1", "weight", "grid") in shown and ("head.1", "bias", "bars") in shown
        assert ("block.conv1", "weight", "grid") in shown  # conv kernels as tiles
        tiles = next(
            o
            for o in page.evaluate("nnviz3d.overlays")
            if o["module"] == "block.conv1" and o["name"] == "weight"
        )
        assert tiles["shape"] == [16 * 4 - 1, 16 * 4 - 1] and tiles["meta"]["layout"] == "tiles"
        assert page.locator("#legend-overlay").is_visible()

        # hover one cell of head.1's weight map, seen from above: the tooltip has its value
        row, col = 3, 5
        pos = page.evaluate(f"nnviz3d.cellPosition('head.1', {row}, {col})")
        facing = page.evaluate("nnviz3d.cellNormal('head.1')")  # the map stands upright
        page.evaluate(f"nnviz3d.lookAt({pos}, {[1.0 * f for f in facing]})")
        cell = page.evaluate(f"nnviz3d.weightCell('head.1', {row}, {col})")
        exact = model.head[1].weight[row, col].detach().half().item()
        assert cell["value"] == exact
        # the viewer derives each cell's colour from the value exactly as the builder does
        w16 = model.head[1].weight.detach().half().float().numpy()
        builder = weight_grid("head.1", w16, full_shape=[64, 32], method="none")
        assert cell["rgb"] == builder.arrays["colors"][row, col].tolist()
        assert (cell["lo"], cell["hi"]) == (builder.legend["lo"], builder.legend["hi"])
        page.mouse.move(cell["x"], cell["y"])
        page.wait_for_function(
            "nnviz3d.tooltip !== null && nnviz3d.tooltip.includes('weight[')", timeout=10_000
        )
        tip = page.evaluate("nnviz3d.tooltip")
        assert f"head.1 weight[{row}, {col}]" in tip, tip
        assert float(tip.split("= ")[1].split(" ")[0]) == float(f"{exact:.4g}")

        # selecting a layer brings its ridges (weights, gradients, activations) and scatter
        page.evaluate("nnviz3d.select('head.1')")
        page.wait_for_function(
            "nnviz3d.detailModule === 'head.1' && nnviz3d.overlays.some(o => o.kind === 'points')",
            timeout=20_000,
        )
        detail = {
            o["name"]: o for o in page.evaluate("nnviz3d.overlays") if o["channel"] == "detail"
        }
        assert {"weight_hist", "grad_hist", "weight_pca"} <= set(detail)
        assert detail["weight_hist"]["shape"] == [17, 64]
        assert detail["weight_pca"]["shape"] == [64, 3]  # head.1 has 64 output units

        # one validation digit through every layer, with a saliency map on the input
        assert page.evaluate("nnviz3d.inputCount") == 360
        page.evaluate("nnviz3d.inspect(3, 'gradient_x_input')")
        page.wait_for_function(
            "nnviz3d.inspection && nnviz3d.inspection.index === 3", timeout=30_000
        )
        info = page.evaluate("nnviz3d.inspection")
        assert info["label"] == int(load_digits_tensors()[1][1][3])
        assert info["method"] == "gradient_x_input" and info["target"] == info["prediction"]
        shown = {
            (o["module"], o["name"], o["kind"])
            for o in page.evaluate("nnviz3d.overlays")
            if o["channel"] == "inspect"
        }
        assert {
            ("input:x", "input", "slabs"),
            ("block.conv1", "activation", "slabs"),
            ("head.1", "activation", "grid"),
            ("input:x", "saliency", "grid"),
        } <= shown
        assert "predicted" in page.locator("#inspect").inner_text()
        # hover the head.1 unit grid from just in front: the tooltip names the layer, a value
        pos = page.evaluate("nnviz3d.inspectPosition('head.1')")
        tip = hover(page, pos, [-0.5, 0, 0], "head.1 activation")  # panels face -x
        assert "click: visualise this unit" in tip
        centre = page.evaluate(f"nnviz3d.screen({pos})")
        # the legend shows the hovered overlay's own colour scale and units
        legend = page.locator("#legend-overlay").inner_text()
        assert "head.1 activation" in legend and "activation value" in legend
        # clicking the unit asks for its feature visualisation (computed on a model copy)
        page.mouse.click(centre["x"] + 0.5, centre["y"] + 0.5)
        page.wait_for_function("nnviz3d.features.some(f => f.module === 'head.1')", timeout=60_000)
        feature = page.evaluate("nnviz3d.features")[0]
        assert page.evaluate("nnviz3d.chart.wanted").startswith("act head.1[")
        assert feature["activation"] > feature["random_activation"] and feature["shape"] == [
            1,
            8,
            8,
        ]

        # the loss landscape around the current weights, with the run's trajectory
        page.evaluate("nnviz3d.requestLandscape(7)")
        page.wait_for_function("nnviz3d.landscape !== null", timeout=60_000)
        land = page.evaluate("nnviz3d.landscape")
        assert land["shape"] == [7, 7] and land["path"] == 3  # weights kept at steps 0, 8, 16
        assert "PCA" in land["directions"]
        mid = page.evaluate("nnviz3d.landscapePoint(3, 3)")
        hover(page, mid, [0, 2.5, -0.01], "current weights")
        back = page.evaluate(f"nnviz3d.cellPosition('head.1', {row}, {col})")
        page.evaluate(f"nnviz3d.lookAt({back}, {[1.0 * f for f in facing]})")

        # the toggle hides the weight maps: the same spot no longer reports a cell
        page.evaluate("nnviz3d.showWeights(false)")
        page.mouse.move(cell["x"] + 1, cell["y"])
        page.wait_for_timeout(200)
        assert "weight[" not in (page.evaluate("nnviz3d.tooltip") or "")
        assert page.errors == []
    finally:
        w.close_viewer()


def boxes_touch(a, b):
    return all(a[0][k] < b[1][k] and b[0][k] < a[1][k] for k in range(3))


def test_overlays_have_titles_scales_and_room_of_their_own(page):
    """Issue 16: every overlay is titled, carries its scale, stands clear of every block and of
    the toolbar; activation stacks flip and fan; the landscape is framed with the model."""
    _, w = train_watched()
    try:
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.overlayStep === 16", timeout=30_000)
        blocks = [[b["min"], b["max"]] for b in page.evaluate("nnviz3d.blockBoxes")]

        def titled(channel):
            return [t for t in page.evaluate("nnviz3d.overlayTitles") if t["channel"] == channel]

        def clear_of_blocks():
            for t in page.evaluate("nnviz3d.overlayTitles"):
                hit = [b for b in blocks if boxes_touch(t["box"], b)]
                assert not hit, (t["title"], t["box"], hit[:2])

        # a weight map per layer, each titled "module · weight shape · step" and drawn so
        weights = titled("weights")
        modules = {
            o["module"] for o in page.evaluate("nnviz3d.overlays") if o["channel"] == "weights"
        }
        assert {t["module"] for t in weights} == modules and len(weights) == len(modules)
        head = next(t for t in weights if t["module"] == "head.1")
        assert head["title"] == "head.1 · weight 64×32 · step 16", head
        assert all(t["drawn"] for t in weights)
        assert page.evaluate("nnviz3d.overlayTitles.filter(t => t.drawn.length === 0).length") == 0
        clear_of_blocks()

        # the selected layer's ridges and scatter: titled, named axes, clear of blocks, and
        # framed in view below the toolbar
        page.evaluate("nnviz3d.select('head.1')")
        page.wait_for_function(
            "nnviz3d.overlayTitles.filter(t => t.channel === 'detail').length >= 3", timeout=20_000
        )
        page.wait_for_timeout(900)  # the camera's flight
        page.evaluate("nnviz3d.render()")
        detail = {t["name"]: t for t in titled("detail")}
        assert {"weight_hist", "grad_hist", "weight_pca"} <= set(detail)
        assert detail["weight_hist"]["title"].startswith("head.1 · weight histogram · 64 bins")
        assert "PCA" in detail["weight_pca"]["title"]
        toolbar = page.locator("#toolbar").bounding_box()
        view = page.viewport_size
        for t in detail.values():
            s = page.evaluate(f"nnviz3d.screenBox({t['box']})")
            assert s["top"] > toolbar["y"] + toolbar["height"], (t["name"], s, toolbar)
            assert (
                s["left"] >= 0 and s["right"] <= view["width"] and s["bottom"] <= view["height"]
            ), s
        clear_of_blocks()

        # one input's activations: every stack titled with its channel; [ and ] flip the
        # selected layer's stack, a backslash fans every stack out
        page.evaluate("nnviz3d.select('block.conv1')")
        page.evaluate("nnviz3d.inspect(3, 'none')")
        page.wait_for_function(
            "nnviz3d.inspection && nnviz3d.inspection.index === 3", timeout=30_000
        )
        stacks = {
            o["module"]
            for o in page.evaluate("nnviz3d.overlays")
            if o["channel"] == "inspect" and o["kind"] == "slabs"
        }
        inspect = {t["module"]: t for t in titled("inspect")}
        assert stacks <= set(inspect) and len(stacks) >= 4
        assert inspect["block.conv1"]["title"] == "block.conv1 · activation 16×8×8 · channel 1/16"
        clear_of_blocks()
        slabs = page.evaluate("nnviz3d.slabs")
        assert slabs["front"]["block.conv1"] == 0 and slabs["channels"]["block.conv1"] == 16
        page.mouse.move(5, 400)
        page.keyboard.press("]")
        page.keyboard.press("]")
        slabs = page.evaluate("nnviz3d.slabs")
        assert slabs["front"]["block.conv1"] == 2 and slabs["front"]["block.conv2"] == 0
        assert any(
            t["title"].endswith("channel 3/16")
            for t in titled("inspect")
            if t["module"] == "block.conv1"
        )
        page.keyboard.press("[")
        page.keyboard.press("[")
        page.keyboard.press("[")
        assert page.evaluate("nnviz3d.slabs")["front"]["block.conv1"] == 15  # wraps round
        assert page.evaluate("nnviz3d.flipSlabs(null, 1)")["block.conv2"] == 1  # every stack
        page.keyboard.press("\\")
        assert page.evaluate("nnviz3d.slabs")["fanned"] is True
        fanned = {t["module"]: t for t in titled("inspect")}
        assert fanned["block.conv1"]["title"].endswith("16 channels")
        size = [
            fanned["block.conv1"]["box"][1][k] - fanned["block.conv1"]["box"][0][k]
            for k in range(3)
        ]
        assert size[2] > 0.9 and size[1] > 0.9  # spread out: a 4×4 wall, not one slab
        clear_of_blocks()
        page.keyboard.press("\\")
        assert page.evaluate("nnviz3d.slabs")["fanned"] is False

        # the landscape stands beside the model, titled, and Frame puts it in view
        page.evaluate("nnviz3d.requestLandscape(7)")
        page.wait_for_function("nnviz3d.landscapeBox !== null", timeout=60_000)
        land = titled("landscape")
        assert (
            len(land) == 1
            and land[0]["title"].startswith("loss landscape 7×7")
            and land[0]["drawn"]
        )
        clear_of_blocks()
        page.keyboard.press("Escape")
        page.evaluate("document.getElementById('btn-reset').click()")
        page.wait_for_timeout(900)
        page.click("#btn-frame")
        page.wait_for_timeout(900)
        assert page.evaluate("nnviz3d.inView(nnviz3d.landscapeBox)")
        assert page.errors == []
    finally:
        w.close_viewer()
