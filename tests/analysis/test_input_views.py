"""One chosen input through every layer, with saliency; feature visualisation and the loss
landscape on a copy of the model; the requests served between training steps."""

import threading

import numpy as np
import pytest
import torch

from nnviz3d.analysis.input_views import inspect_input
from nnviz3d.live.model_requests import ModelRequests
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
    np.testing.assert_allclose(
        by[("stem.0", "activation")].arrays["values"], conv.numpy(), rtol=1e-5, atol=1e-6
    )
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
    insp = ModelRequests(model, inputs, [0, 1, 2, 3, 4], MODULES, "input:x")
    got = []
    done = threading.Event()

    def reply(data, error):
        got.append((data, error))
        done.set()

    insp.request("inspect", (2, "gradient", -1), reply)
    assert not done.wait(0.3)  # training is running: nothing happens until a step
    insp.step = 7
    insp.run_pending()
    header, overlays = decode_overlays(got[0][0])
    assert header["index"] == 2 and header["label"] == 2 and header["step"] == 7
    assert any(o.name == "saliency" for o in overlays)
    done.clear()
    insp.idle = True
    insp.request("inspect", (9, "none", -1), reply)  # out of range: a clear error, not a crash
    assert done.wait(10)
    assert got[1][0] is None and "inspect failed (IndexError: there are 5" in got[1][1]


def test_bad_probe_inputs_are_refused_clearly():
    with pytest.raises(ValueError, match="non-empty batch"):
        ModelRequests(DigitsCNN(), torch.zeros(0, 1, 8, 8), None, MODULES, "input:x")
    with pytest.raises(ValueError, match="one label per input"):
        ModelRequests(DigitsCNN(), torch.zeros(3, 1, 8, 8), [1, 2], MODULES, "input:x")


def wait_reply():
    got, done = [], threading.Event()

    def reply(data, error):
        got.append((data, error))
        done.set()

    return got, done, reply


def test_feature_visualisation_runs_on_a_copy_off_the_training_thread():
    torch.manual_seed(0)
    model = DigitsCNN()
    before = [p.detach().clone() for p in model.parameters()]
    req = ModelRequests(model, torch.rand(4, 1, 8, 8), None, MODULES, "input:x")
    got, done, reply = wait_reply()
    req.request("feature", ("block.conv1", 2), reply)
    req.step = 5
    req.run_pending()  # copies the model, returns at once; a thread does the work
    assert done.wait(60), "no answer"
    data, error = got[0]
    assert error is None
    header, (o,) = decode_overlays(data)
    assert header["channel"] == "feature" and header["unit"] == 2 and header["step"] == 5
    assert o.kind == "slabs" and o.name == "feature:2" and o.arrays["values"].shape == (1, 8, 8)
    assert o.meta["activation"] > o.meta["random_activation"]
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert all(p.requires_grad for p in model.parameters())


def test_landscape_with_the_trajectory_of_the_run():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    req = ModelRequests(model, x, y.tolist(), ["1"], "input:x")
    assert req.can_landscape
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for step in range(6):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        req.snapshot(step)
    seen = []
    got, done, reply = wait_reply()
    req.request("landscape", (5,), reply, lambda d, t: seen.append((d, t)))
    req.run_pending()
    assert done.wait(60)
    data, error = got[0]
    assert error is None, error
    header, (surface,) = decode_overlays(data)
    assert surface.kind == "surface" and surface.arrays["values"].shape == (5, 5)
    assert surface.arrays["path"].shape == (6, 2) and "PCA" in surface.meta["directions"]
    assert seen[-1] == (25, 25)
    # the centre of the grid is the current weights
    with torch.no_grad():
        now = torch.nn.functional.cross_entropy(model(x), y).item()
    assert surface.meta["center_loss"] == pytest.approx(now, rel=1e-5)
    assert surface.arrays["values"][2, 2] == pytest.approx(now, rel=1e-4)
