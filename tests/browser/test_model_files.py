"""A model file in the viewer: weight statistics, histograms and weight maps, as for a live
model (read from the file, nothing unpickled)."""

import safetensors.torch
import torch

from nnviz3d.capture.formats import open_model_file
from nnviz3d.capture.weight_frame import file_weights
from nnviz3d.viewer import view
from nnviz3d.zoo import DigitsCNN
from tests.browser.conftest import wait_ready


def test_a_safetensors_file_shows_its_weights(page, tmp_path):
    torch.manual_seed(0)
    model = DigitsCNN().eval()
    path = tmp_path / "digits.safetensors"
    safetensors.torch.save_file(model.state_dict(), path)
    handle = view(
        graph=open_model_file(path),
        weights=file_weights(path),
        open_browser=False,
        quiet=True,
        port=0,
    )
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.overlays.length > 0", timeout=30_000)
        shown = {(o["module"], o["name"]) for o in page.evaluate("nnviz3d.overlays")}
        assert ("head.1", "weight") in shown and ("block.conv1", "weight") in shown
        cell = page.evaluate("nnviz3d.weightCell('head.1', 3, 5)")
        assert cell["value"] == model.head[1].weight[3, 5].detach().half().item()
        page.evaluate("nnviz3d.setColorBy('weight_norm')")
        page.wait_for_timeout(300)
        assert "weight norm (log)" in page.locator("#legend").inner_text()
        colours = {
            tuple(page.evaluate(f"nnviz3d.blockColor('{m}')"))
            for m in ("stem.0", "block.conv1", "head.1", "head.3")
        }
        assert len(colours) == 4  # four layers, four norms
        assert page.errors == []
    finally:
        handle.close()
