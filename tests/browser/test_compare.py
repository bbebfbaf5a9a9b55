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


def test_compare_two_model_files_diverging_colours_and_difference_maps(page, tmp_path):
    import copy

    import numpy as np
    import torch

    from nnviz3d.zoo import DigitsCNN
    from tests.compare.test_models import NamedMLP, mlp, save

    torch.manual_seed(0)
    a = DigitsCNN().eval()
    b = copy.deepcopy(a)
    with torch.no_grad():
        b.head[3].weight.mul_(1.5)  # "fine-tuned" head: its norm grows by half
    handle = serve_compare(save(a, tmp_path / "a.safetensors"), save(b, tmp_path / "b.safetensors"),
                           open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.compare !== '' && nnviz3d.overlays.length > 0",
                               timeout=30_000)
        page.evaluate("nnviz3d.setColorBy('weight_norm')")
        page.wait_for_timeout(300)
        legend = page.locator("#legend").inner_text()
        assert "B − A: weight norm" in legend and "(log)" not in legend
        changed = page.evaluate("nnviz3d.blockColor('head.3')")
        same = page.evaluate("nnviz3d.blockColor('stem.0')")
        assert changed[0] > changed[2]  # red: the norm grew
        assert min(same) > 0.8  # white: no difference
        cell = page.evaluate("nnviz3d.weightCell('head.3', 2, 7)")
        expected = (b.head[3].weight - a.head[3].weight)[2, 7].detach().half().item()
        assert cell["value"] == expected
        flat = page.evaluate("nnviz3d.weightCell('head.1', 2, 7)")
        assert flat["value"] == 0
        assert page.evaluate("nnviz3d.comparePartner('head.3')") == "head.3"
        assert page.errors == []
    finally:
        handle.close()

    # renamed layers: selecting A's layer names the B layer it was matched with
    torch.manual_seed(1)
    handle = serve_compare(save(mlp(), tmp_path / "seq.safetensors"),
                           save(NamedMLP(), tmp_path / "named.safetensors"),
                           open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.compare !== ''", timeout=30_000)
        assert page.evaluate("nnviz3d.comparePartner('2')") == "fc2"
        page.evaluate("nnviz3d.select('2')")
        page.wait_for_function("document.querySelector('#info').innerText.includes('fc2')",
                               timeout=10_000)
        assert np.isfinite(page.evaluate("nnviz3d.blockColor('0')")).all()
        assert page.errors == []
    finally:
        handle.close()
