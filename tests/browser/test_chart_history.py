"""A long run's loss chart in a real browser: a page that joins gets the server's (bounded)
history whole, then only the rows new since each push, appended by the chart; when the server
decimates its history the chart gets it whole again, so the page's copy stays bounded too."""

import torch

import nnviz3d
from nnviz3d.server.probe_history import ScalarHistory
from tests.browser.conftest import wait_ready

LIMIT = 1000


def train(w, model, x, steps: int) -> None:
    for _ in range(steps):
        loss = model(x).pow(2).mean()
        loss.backward()
        w.step(loss=loss.item())


def test_the_chart_appends_increments_and_stays_bounded(page):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    x = torch.randn(16, 4)
    w = nnviz3d.watch(model, x, record=False, open_browser=False, port=0, quiet=True, health=False)
    try:
        w.feed.scalars = ScalarHistory(LIMIT)  # set before any row: compactions come soon
        train(w, model, x, 600)
        page.goto(w.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.chart.rows >= 600", timeout=30_000)
        train(w, model, x, 300)
        page.wait_for_function(
            "nnviz3d.chart.rows >= 900 && nnviz3d.chart.appended > 0", timeout=30_000
        )
        train(w, model, x, 2000)  # past the limit: the server decimates, the page follows
        epoch = w.feed.scalars.epoch
        assert epoch > 0
        page.wait_for_function(  # the newest rows arrived, and the page holds a bounded copy
            f"nnviz3d.chart.latest && nnviz3d.chart.latest.step === {w.step_index}", timeout=30_000
        )
        page.wait_for_timeout(1000)  # a few more pushes
        rows = page.evaluate("nnviz3d.chart.rows")
        assert 0 < rows <= 2 * LIMIT
    finally:
        w.close()
        w.close_viewer()
