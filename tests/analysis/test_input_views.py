"""One chosen input through every layer, with saliency, and the inspector that serves it
between training steps."""

import threading

import numpy as np
import pytest
import torch

from nnviz3d.analysis.input_views import inspect_input
from nnviz3d.live.inspector import InputInspector
from nnviz3d.protocol.overlay_frame import decode_overlays
from nnviz3d.zoo import DigitsCNN

MODULES = ["stem.0", "stem.2", "block.conv1", "down.1", "head.1", "head.3"]


def test_every_layer_output_and_the_prediction_for_one_input():
    torch.manual_seed(0)
    model = DigitsCNN().train()
    x = torch.rand(1, 1, 8, 8)
    overlays, info = inspect_input(model, x, MODULES)
    by = {(o.module, o.name): o for o in overlays}
    assert by[("input:x", "input")].arrays["values"].shape == (1, 8, 8)
    np.testing.assert_allclose(by[("input:x", "input")].arrays["values"][0], x[0, 0].numpy())
    with torch.no_grad():
        model.eval()
        conv = model.stem[0](x)[0]
        logits = model(x)[0]
    np.testing.assert_allclose(by[("stem.0", "activation")].arrays["values"], conv.numpy(),
                               rtol=1e-5, atol=1e-6)
    assert by[("head.3", "activation")].kind == "grid"
    assert info["prediction"] == int(logits.argmax())
    assert sum(info["probabilities"]) == pytest.approx(1, abs=1e-3)


def test_saliency_is_anchored_to_the_input_and_grad_cam_to_a_scene_block():
    torch.manual_seed(0)
    model = DigitsCNN().train()
    x = torch.rand(1, 1, 8, 8)
    overlays, info = inspect_input(model, x, MODULES, method="grad_cam", target=4)
    sal = [o for o in overlays if o.name == "saliency"]
    assert {o.module for o in sal} == {"input:x", "down.1"}
    assert info["target"] == 4 and info["layer"] == "down.1"
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_inspector_waits_for_a_step_while_training_and_runs_at_once_when_idle():
    torch.manual_seed(0)
    model = DigitsCNN()
    inputs = torch.rand(5, 1, 8, 8)
    insp = InputInspector(model, inputs, [0, 1, 2, 3, 4], MODULES, "input:x")
    got = []
    done = threading.Event()

    def reply(data, error):
        got.append((data, error))
        done.set()

    insp.request(2, "gradient", -1, reply)
    assert not done.wait(0.3)  # training is running: nothing happens until a step
    insp.step = 7
    insp.run_pending()
    header, overlays = decode_overlays(got[0][0])
    assert header["index"] == 2 and header["label"] == 2 and header["step"] == 7
    assert any(o.name == "saliency" for o in overlays)
    done.clear()
    insp.idle = True
    insp.request(9, "none", -1, reply)  # out of range: a clear error, not a crash
    assert done.wait(10)
    assert got[1][0] is None and "could not show input 9" in got[1][1]


def test_bad_probe_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="non-empty batch"):
        InputInspector(DigitsCNN(), torch.zeros(0, 1, 8, 8), None, MODULES, "input:x")
    with pytest.raises(ValueError, match="one label per input"):
        InputInspector(DigitsCNN(), torch.zeros(3, 1, 8, 8), [1, 2], MODULES, "input:x")
