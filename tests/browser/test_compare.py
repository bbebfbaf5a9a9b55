"""nnviz3d compare in a real browser: run A's scene coloured by B - A, seekable."""

from nnviz3d.compare import serve_compare
from tests.browser.conftest import wait_ready
from tests.compare.test_runs import record_run


def test_compare_two_learning_rates(page, tmp_path):
    a = record_run(tmp_path / "a.nnv3d", 0.01)
    b = record_run(tmp_path / "b.nnv3d", 0.5)
    handle = serve_compare(a, b, open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.compare !== '' && nnviz3d.step !== null", timeout=30_000)
        assert "B - A" in page.evaluate("nnviz3d.compare")
        # opens coloured by the difference; the legend says which steps and which scale
        page.wait_for_function("nnviz3d.colorBy === 'weight_norm'", timeout=10_000)
        page.wait_for_timeout(300)
        assert "B − A: weight norm" in page.locator("#legend").inner_text()
        entries = {e["entry"]: e["text"] for e in page.evaluate("nnviz3d.colorScale")}
        assert float(entries["min"]) <= float(entries["max"])
        assert "A step 5 · B step 5 (same step)" in entries["note"]
        assert "symmetric log scale" in entries["note"]
        # both losses on one chart
        chart = page.evaluate("nnviz3d.chartView")
        assert chart["shown"] and chart["series"] == ["loss A", "loss B"]
        colours = {
            tuple(page.evaluate(f"nnviz3d.blockColor('{m}')"))
            for m in ("stem.0", "block.conv1", "down.0", "head.1", "head.3")
        }
        assert len(colours) > 1  # the difference is not the same everywhere
        # the shared timeline: seeking shows that step's differences
        page.evaluate("nnviz3d.seek(2)")
        page.wait_for_function("nnviz3d.step === 2", timeout=20_000)
        page.evaluate("nnviz3d.select('head.1')")  # one block stands for both runs' layer
        page.wait_for_selector("#info canvas", timeout=10_000)
        info = page.locator("#info").inner_text()
        assert "weights · B − A" in info and "Δ min" in info and "Δ max" in info
        assert "A step 2 · B step 2" in info
        assert page.errors == []
    finally:
        handle.close()


def test_compare_two_model_files_diverging_colours_and_difference_maps(page, tmp_path):

    import numpy as np
    import torch

    from nnviz3d.zoo import DigitsCNN
    from tests.compare.test_models import NamedMLP, mlp, pruned_with_outlier, save

    torch.manual_seed(0)
    a = DigitsCNN().eval()
    b = pruned_with_outlier(a)  # block.conv1 50 % pruned, one weight of head.3 + 1000
    torch.save(b.state_dict(), tmp_path / "b.pt")
    handle = serve_compare(
        save(a, tmp_path / "a.safetensors"),
        str(tmp_path / "b.pt"),
        open_browser=False,
        quiet=True,
        port=0,
    )
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function(
            "nnviz3d.compare !== '' && nnviz3d.overlays.length > 0", timeout=30_000
        )
        page.wait_for_function("nnviz3d.colorBy === 'weight_norm'", timeout=10_000)
        page.wait_for_timeout(300)
        legend = page.locator("#legend").inner_text()
        assert "B − A: weight norm" in legend and "B − A: weights & biases" in legend
        entries = {e["entry"]: e["text"] for e in page.evaluate("nnviz3d.colorScale")}
        assert float(entries["min"]) <= float(entries["max"]) and "symmetric log" in entries["note"]
        outlier = page.evaluate("nnviz3d.blockColor('head.3')")
        pruned = page.evaluate("nnviz3d.blockColor('block.conv1')")
        same = [page.evaluate(f"nnviz3d.blockColor('{m}')") for m in ("stem.0", "block.conv2")]
        assert outlier[0] > outlier[2]  # red: the norm grew (by ~1000)
        assert all(min(c) > 0.8 for c in same)  # white: no difference
        # the pruned layer's norm fell by ~0.15, 7000 times less than the outlier's rise: on a
        # linear scale it would be white; on the symmetric-log scale it is clearly blue
        assert (
            pruned[2] > pruned[0] + 0.3 and max(abs(x - y) for x, y in zip(pruned, same[0])) > 0.5
        )
        cell = page.evaluate("nnviz3d.weightCell('head.3', 0, 0)")
        assert cell["value"] == 1000
        flat = page.evaluate("nnviz3d.weightCell('head.1', 2, 7)")
        assert flat["value"] == 0
        assert page.evaluate("nnviz3d.comparePartner('head.3')") == "head.3"
        assert page.errors == []
    finally:
        handle.close()

    # renamed layers: selecting A's layer names the B layer it was matched with
    torch.manual_seed(1)
    handle = serve_compare(
        save(mlp(), tmp_path / "seq.safetensors"),
        save(NamedMLP(), tmp_path / "named.safetensors"),
        open_browser=False,
        quiet=True,
        port=0,
    )
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.compare !== ''", timeout=30_000)
        assert page.evaluate("nnviz3d.comparePartner('2')") == "fc2"
        page.evaluate("nnviz3d.select('2')")
        page.wait_for_function(
            "document.querySelector('#info').innerText.includes('fc2')", timeout=10_000
        )
        assert np.isfinite(page.evaluate("nnviz3d.blockColor('0')")).all()
        assert page.errors == []
    finally:
        handle.close()
