"""What the page shows is dated and repeatable (issue 17): the line under the timeline says how
old each view is, the timeline marks which steps hold which kinds, a vanishing network still
shows its gradient flow, and a replay seeked to a step shows what the live view showed there."""

import torch

import nnviz3d
from nnviz3d import zoo
from nnviz3d.record import RunReader
from nnviz3d.replay import serve_replay
from tests.browser.conftest import wait_ready

KINDS = ("weight", "grad", "act", "mat")


def _overlap(a, b) -> bool:
    return not (
        a["x"] + a["w"] <= b["x"]
        or b["x"] + b["w"] <= a["x"]
        or a["y"] + a["h"] <= b["y"]
        or b["y"] + b["h"] <= a["y"]
    )


def _rect(page, selector):
    return page.evaluate(
        f"(() => {{ const e = document.querySelector({selector!r}); "
        f"if (!e || e.hidden) return null; const r = e.getBoundingClientRect(); "
        f"return {{x: r.left, y: r.top, w: r.width, h: r.height}}; }})()"
    )


def _shown(page) -> dict:
    """What the page shows at its step, through window.nnviz3d."""
    page.evaluate("nnviz3d.render()")
    ages = page.evaluate("nnviz3d.viewAges")
    return {
        "step": page.evaluate("nnviz3d.step"),
        "colors": page.evaluate("nnviz3d.blockColors"),
        "ages": [(a["kind"], a["step"], a["age"]) for a in ages["ages"]],
        "age_text": ages["text"],
        "alarms": sorted(
            (a["alarm"], a["module"], a["step"]) for a in page.evaluate("nnviz3d.currentAlarms")
        ),
        "loss": page.evaluate("nnviz3d.chart.latest"),
        "weights_step": page.evaluate("nnviz3d.overlayStep"),
    }


def test_replay_seeked_to_the_last_step_shows_what_live_showed(page, tmp_path):
    torch.manual_seed(0)
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    path = tmp_path / "digits.nnv3d"
    # the default schedule: kinds are probed at different steps, so views have different ages
    w = nnviz3d.watch(model, x, record=path, open_browser=False, port=0, quiet=True)
    try:
        page.goto(w.url)
        wait_ready(page)
        for _ in range(40):
            loss = torch.nn.functional.cross_entropy(
                model(torch.randn(32, 1, 8, 8)), torch.randint(0, 10, (32,))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
        last = w.step_index
        w.close()  # the recording is complete; the viewer keeps serving
        page.wait_for_function(
            f"nnviz3d.step === {last} && nnviz3d.timeline.last_step === "
            f"{last} && !nnviz3d.timeline.live",
            timeout=30_000,
        )
        page.evaluate("nnviz3d.setColorBy('grad_norm')")
        page.wait_for_timeout(500)  # the newest weight maps' overlay is built off the loop
        live = _shown(page)
        # the age line names every kind with its step; older views say by how much
        ages = dict((k, (s, a)) for k, s, a in live["ages"])
        assert set(ages) == set(KINDS)
        for kind, (step, age) in ages.items():
            assert step is not None and step <= last and age == last - step, (kind, ages)
        assert "weights" in live["age_text"] and "weight maps" in live["age_text"]
        # the timeline's tick rows hold each kind's newest step
        marks = page.evaluate("nnviz3d.stepMarks")
        for kind in KINDS:
            assert marks["kinds"][kind]["last"] == ages[kind][0], kind
            assert ages[kind][0] in marks["kinds"][kind]["steps"]
        assert marks["rect"] and marks["rect"]["h"] > 0
    finally:
        w.close()
        w.close_viewer()

    handle = serve_replay(RunReader(path), open_browser=False, port=0, quiet=True)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.timeline !== null && nnviz3d.step !== null", timeout=30_000)
        page.evaluate("nnviz3d.setColorBy('grad_norm')")
        page.evaluate(f"nnviz3d.seek({last})")
        page.wait_for_function(f"nnviz3d.step === {last} && !nnviz3d.live", timeout=20_000)
        page.wait_for_timeout(800)  # the seek's answer, and its weight maps
        replay = _shown(page)
        assert replay == live
        assert page.evaluate("nnviz3d.stepMarks")["kinds"] == marks["kinds"]
        # an early step: older views, and kinds not captured yet say so
        page.evaluate("nnviz3d.seek(0)")
        page.wait_for_function("nnviz3d.step === 0", timeout=20_000)
        page.wait_for_timeout(800)
        early = {k: s for k, s, _ in _shown(page)["ages"]}
        assert all(s in (0, None) for s in early.values()), early
        assert page.errors == []
    finally:
        handle.close()


class Scale(torch.nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_a_vanishing_network_still_shows_its_gradient_flow(page):
    torch.manual_seed(0)
    # a sigmoid stack behind tiny scales: every layer but the last gets ~1e-12 of a gradient
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        Scale(1e-6),
        torch.nn.Sigmoid(),
        torch.nn.Linear(16, 16),
        Scale(1e-6),
        torch.nn.Sigmoid(),
        torch.nn.Linear(16, 2),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    w = nnviz3d.watch(
        model, torch.randn(1, 8), record=False, open_browser=False, port=0, every=1, quiet=True
    )
    try:
        for _ in range(3):
            loss = torch.nn.functional.cross_entropy(
                model(torch.randn(16, 8)), torch.randint(0, 2, (16,))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function(
            "nnviz3d.currentAlarms.some(a => a.alarm === 'vanishing')", timeout=30_000
        )
        vanishing = {
            a["module"] for a in page.evaluate("nnviz3d.currentAlarms") if a["alarm"] == "vanishing"
        }
        assert {"0", "3"} <= vanishing
        page.evaluate("nnviz3d.showFlow(true)")
        page.evaluate("nnviz3d.render()")
        style = page.evaluate("nnviz3d.flowVanishing")
        # the vanishing layers are drawn in their own style, and something is visible
        assert {"0", "3"} <= set(style["layers"]) and style["visible"]
        assert style["particles"] >= 2 * len(style["layers"]) and style["dashed"] > 0
        assert {"0", "3"} <= set(style["labels"]) and style["labelText"].startswith("vanishing")
        classes = page.evaluate("nnviz3d.flow")["classes"]
        assert classes["0"] == "vanishing" and classes["3"] == "vanishing"
        # the labels are on the canvas
        for point in style["labelPoints"]:
            at = page.evaluate(f"nnviz3d.screen({point})")
            assert 0 <= at["x"] <= 1280 and 0 <= at["y"] <= 800, at
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def test_the_age_line_is_readable_and_clear_of_the_panels(page):
    torch.manual_seed(0)
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    w = nnviz3d.watch(model, x, record=False, open_browser=False, port=0, quiet=True)
    try:
        for _ in range(12):
            loss = torch.nn.functional.cross_entropy(
                model(torch.randn(8, 1, 8, 8)), torch.randint(0, 10, (8,))
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
        for size in ({"width": 1280, "height": 800}, {"width": 1920, "height": 1080}):
            page.set_viewport_size(size)
            page.goto(w.url)
            wait_ready(page)
            page.wait_for_function("nnviz3d.viewAges.text.includes('weights')", timeout=30_000)
            page.wait_for_timeout(300)
            rects = page.evaluate("nnviz3d.timelineRects")
            ages = rects["tl-ages"]
            assert ages and ages["h"] <= 34 and ages["w"] > 100, rects
            bar = page.evaluate("nnviz3d.toolbarRect")
            assert not _overlap(ages, bar)
            for other in ("#chart-panel", "#legend", "#info", "#health"):
                r = _rect(page, other)
                if r and r["w"] > 0:
                    assert not _overlap(ages, r), other
            # the text is all there: no clipping of the line's own box
            assert page.evaluate(
                "(() => { const e = document.getElementById('tl-ages'); "
                "return e.scrollWidth <= e.clientWidth + 1; })()"
            )
            fs = page.evaluate("getComputedStyle(document.getElementById('tl-ages')).fontSize")
            assert float(fs.rstrip("px")) >= 11
        assert page.errors == []
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
        w.close()
        w.close_viewer()
