"""Live training in a real browser: the timeline moves, colours follow a quantity, the info
panel shows the stats, and seeking replays a recorded step."""

import threading
import time

import torch

import nnviz3d
from nnviz3d import zoo
from tests.browser.conftest import wait_ready


def test_timeline_moves_during_live_training(page, tmp_path):
    torch.manual_seed(0)
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    w = nnviz3d.watch(
        model, x, record=tmp_path / "live.nnv3d", open_browser=False, port=0, every=1, quiet=True
    )
    stop = threading.Event()

    def train():
        while not stop.is_set():
            xb = torch.randn(32, 1, 8, 8)
            yb = torch.randint(0, 10, (32,))
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
            if w.step_index % 10 == 0:
                w.validation(loss=loss.item() * 1.1)
            time.sleep(0.03)

    trainer = threading.Thread(target=train, daemon=True)
    try:
        page.goto(w.url)
        wait_ready(page)
        trainer.start()
        page.wait_for_function("nnviz3d.step !== null && nnviz3d.timeline !== null", timeout=60_000)
        first = page.evaluate("nnviz3d.step")
        page.wait_for_function(f"nnviz3d.step > {first} + 5", timeout=60_000)
        assert page.evaluate("nnviz3d.live") is True
        assert page.locator("#timeline").is_visible()
        assert page.evaluate("nnviz3d.timeline.live") is True
        # colour by gradient norm: blocks with data change colour, the legend says so
        before = page.evaluate("nnviz3d.blockColor('/model/block/conv1')")
        page.evaluate("nnviz3d.setColorBy('grad_norm')")
        page.wait_for_function("nnviz3d.colorBy === 'grad_norm'")
        page.wait_for_timeout(300)
        after = page.evaluate("nnviz3d.blockColor('/model/block/conv1')")
        assert after != before
        assert "gradient norm" in page.locator("#legend").inner_text().lower()
        # the info panel shows the latest stats and a histogram
        page.evaluate("nnviz3d.select('block.conv1')")
        page.wait_for_selector("#info canvas", timeout=10_000)
        assert "norm" in page.locator("#info").inner_text()
        # track one unit: its mean activation becomes a metric the chart draws
        page.evaluate("nnviz3d.track('block.conv1', 2)")
        page.wait_for_function("nnviz3d.chart.shown === 'act block.conv1[2]'", timeout=30_000)
        assert page.locator("#chart-box").is_visible()
        # seek to a recorded step: the view leaves live mode and shows that step
        page.evaluate("nnviz3d.seek(3)")
        page.wait_for_function("nnviz3d.step === 3 && nnviz3d.live === false", timeout=20_000)
        page.evaluate("nnviz3d.follow()")
        page.wait_for_function("nnviz3d.live === true && nnviz3d.step > 3", timeout=20_000)
        assert page.errors == []
    finally:
        stop.set()
        if trainer.is_alive():
            trainer.join(timeout=10)
        w.close()
        w.close_viewer()


def watched_steps(model, steps=3):
    """``model`` (8 inputs, 2 classes) trained a few SGD steps under a serving watcher."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    w = nnviz3d.watch(
        model, torch.randn(1, 8), record=False, open_browser=False, port=0, every=1, quiet=True
    )
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(
            model(torch.randn(16, 8)), torch.randint(0, 2, (16,))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
    return w


def test_health_panel_lists_an_alarm_and_flies_to_its_layer(page):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 2),
    )
    with torch.no_grad():
        model[2].bias.fill_(-100.0)  # kills the ReLUs after it
    w = watched_steps(model)
    try:
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.alarms.length > 0", timeout=30_000)
        alarms = page.evaluate("nnviz3d.alarms")
        found = {(a["alarm"], a["module"]) for a in alarms}
        # the dead ReLUs, and (truthfully) the zero gradients they leave the layers below
        assert ("dead", "3") in found and ("vanishing", "0") in found
        panel = page.locator("#health")
        assert panel.is_visible() and "dead" in panel.inner_text().lower()
        # the alarmed blocks glow and carry a badge (one instance each)
        page.wait_for_function("nnviz3d.badges.includes('3')", timeout=10_000)
        assert page.evaluate("nnviz3d.badgeCount") == len(page.evaluate("nnviz3d.badges"))
        panel.locator("li[data-module='3']").click()
        page.wait_for_function("nnviz3d.selected === '/model/3'")
    finally:
        w.close()
        w.close_viewer()


class Scale(torch.nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_gradient_flow_tells_vanishing_from_normal_layers(page):
    torch.manual_seed(0)
    # the 1e-6 scale starves the first layer of gradient: 1e-6 of the others'
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16),
        Scale(1e-6),
        torch.nn.Linear(16, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 2),
    )
    w = watched_steps(model)
    try:
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.probeModules.includes('4')", timeout=30_000)
        page.evaluate("nnviz3d.showFlow(true)")
        flow = page.evaluate("nnviz3d.flow")
        assert flow["enabled"] and flow["classes"]["0"] == "vanishing"
        assert flow["classes"]["4"] == "normal" and flow["classes"]["2"] == "normal"
        assert (
            flow["counts"]["vanishing"] >= 1
            and flow["counts"]["normal"] > flow["counts"]["vanishing"]
        )
        assert page.locator("#legend-flow").is_visible()
        # particles move between frames
        first = flow["first"]
        page.wait_for_function(
            f"nnviz3d.flow.first.some((v, i) => Math.abs(v - {first}[i]) > 1e-4)", timeout=10_000
        )
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()
