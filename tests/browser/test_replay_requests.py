"""A replay answers the model requests made during the run from the recording (the panel
says so and from which step) and disables, with the reason, what needs the live model."""

import torch

import nnviz3d
from nnviz3d import zoo
from nnviz3d.protocol.codec import decode_frame
from nnviz3d.record import RunReader
from nnviz3d.replay import serve_replay
from tests.browser.conftest import wait_ready
from tests.record.test_recorded_requests import _ask

SHOTS = "/tmp/nnviz3d-replay-shots"


def record_run(path):
    """The digits CNN trained a few steps; Grad-CAM of input 3 (the panel's default target)
    and a 3 × 3 landscape asked during training. Returns the live Grad-CAM frame."""
    torch.manual_seed(0)
    model, _ = zoo.digits_cnn()
    model.train()
    xs, ys = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    w = nnviz3d.watch(
        model,
        xs[:1],
        record=path,
        serve=False,
        open_browser=False,
        quiet=True,
        every=1,
        inputs=xs[:8],
        labels=ys[:8].tolist(),
        health=False,
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        loss = torch.nn.functional.cross_entropy(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())

    for _ in range(3):
        step()
    grad_cam = _ask(w, "inspect", (3, "grad_cam", -1), step)
    _ask(w, "landscape", (3,), step)
    _ask(w, "feature", ("block.conv2", 1), step)
    for _ in range(2):
        step()
    w.close()
    return grad_cam


def test_replay_answers_recorded_requests_and_disables_the_rest(page, tmp_path):
    import os

    os.makedirs(SHOTS, exist_ok=True)
    path = tmp_path / "asked.nnv3d"
    live_header, _ = decode_frame(record_run(path))
    reader = RunReader(path)
    handle = serve_replay(reader, open_browser=False, port=0, quiet=True)
    try:
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(handle.url)
        wait_ready(page)
        note = page.locator("#inspect-replay")
        note.wait_for(state="visible", timeout=20_000)
        assert "recorded only" in note.inner_text()
        text = note.get_attribute("title")
        assert "Grad-CAM for input 3" in text and "landscape (3 × 3)" in text
        # the recorded Grad-CAM: the same answer as live, saying its step
        page.evaluate("nnviz3d.inspect(3, 'grad_cam')")
        page.wait_for_function("nnviz3d.inspection !== null", timeout=20_000)
        shown = page.evaluate("nnviz3d.inspection")
        for key in ("index", "method", "step", "prediction", "target"):
            assert shown[key] == live_header[key], key
        result = page.locator("#inspect-result").inner_text()
        assert f"recorded at step {live_header['step']}" in result
        assert not page.locator("#inspect-show").is_disabled()
        page.screenshot(path=f"{SHOTS}/recorded.png")
        # a new Grad-CAM (input 5): disabled, the reason in the panel
        assert page.evaluate("nnviz3d.inspect(5, 'grad_cam')") is False
        assert page.locator("#inspect-show").is_disabled()
        reason = page.locator("#inspect-result").inner_text()
        assert "computed live only" in reason and "Grad-CAM for input 3" in reason
        assert "computed live only" in page.locator("#inspect-show").get_attribute("title")
        assert page.locator("#btn-landscape").is_enabled()  # one was recorded
        # feature visualisation: the recorded unit is offered, a new one refused with the reason
        assert (
            "recorded visualisation" in page.evaluate("nnviz3d.unitAction('block.conv2', 1)")["tip"]
        )
        other = page.evaluate("nnviz3d.unitAction('block.conv2', 2)")
        assert other["allowed"] is False and "computed live only" in other["tip"]
        assert "block.conv2 unit 1" in other["tip"]  # and says what the replay has
        page.evaluate("nnviz3d.visualise('block.conv2', 2)")
        assert "computed live only" in page.locator("#inspect-result").inner_text()
        page.screenshot(path=f"{SHOTS}/disabled.png")
        assert page.errors == []
    finally:
        handle.close()
        reader.close()
