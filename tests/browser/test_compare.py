"""nnviz3d compare in a real browser: run A's scene coloured by B - A, seekable."""

from nnviz3d.compare import serve_compare
from tests.browser.conftest import wait_ready
from tests.test_compare import record_run


def test_compare_two_learning_rates(page, tmp_path):
    a = record_run(tmp_path / "a.nnv3d", 0.01)
    b = record_run(tmp_path / "b.nnv3d", 0.5)
    handle = serve_compare(a, b, open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.compare !== '' && nnviz3d.step !== null",
                               timeout=30_000)
        assert "B - A" in page.evaluate("nnviz3d.compare")
        page.evaluate("nnviz3d.setColorBy('weight_norm')")
        page.wait_for_timeout(300)
        assert "B − A: weight norm" in page.locator("#legend").inner_text()
        colours = {tuple(page.evaluate(f"nnviz3d.blockColor('{m}')"))
                   for m in ("stem.0", "block.conv1", "down.0", "head.1", "head.3")}
        assert len(colours) > 1  # the difference is not the same everywhere
        # the shared timeline: seeking shows that step's differences
        page.evaluate("nnviz3d.seek(2)")
        page.wait_for_function("nnviz3d.step === 2", timeout=20_000)
        page.evaluate("nnviz3d.select('head.1')")  # one block stands for both runs' layer
        page.wait_for_selector("#info canvas", timeout=10_000)
        assert page.errors == []
    finally:
        handle.close()
