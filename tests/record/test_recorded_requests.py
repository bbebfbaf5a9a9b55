"""Model requests answered during a run (Grad-CAM, feature visualisation, landscape) are
recorded and a replay answers the same requests from the recording, byte for byte; anything
else is refused with the reason and what the replay has."""

import threading

import pytest
import torch

import nnviz3d
from nnviz3d import zoo
from nnviz3d.protocol.codec import decode_frame
from nnviz3d.record import RunReader
from nnviz3d.record.recorded_requests import RecordedRequests

GRAD_CAM = ("inspect", (3, "grad_cam", 7))
FEATURE = ("feature", ("block.conv2", 1))
LANDSCAPE = ("landscape", (3,))


def _ask(w, kind, args, steps):
    """Ask between training steps, as the viewer does; train until it is answered."""
    got, done = {}, threading.Event()

    def reply(data, error):
        got.update(data=data, error=error)
        done.set()

    w.requests.request(kind, args, reply)
    for _ in range(600):
        if done.is_set():
            break
        steps()
        done.wait(0.05)
    assert done.is_set() and got["error"] is None, got.get("error")
    return got["data"]


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory):
    torch.manual_seed(0)
    model, _ = zoo.digits_cnn()
    model.train()
    xs, ys = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    path = tmp_path_factory.mktemp("run") / "requests.nnv3d"
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

    step()
    tracked = w.probes.track("block.conv1", 2)  # its mean activation becomes a metric
    for _ in range(2):
        step()
    live = {GRAD_CAM: _ask(w, *GRAD_CAM, step)}
    for _ in range(3):
        step()
    live[FEATURE] = _ask(w, *FEATURE, step)
    live[LANDSCAPE] = _ask(w, *LANDSCAPE, step)
    w.close()
    return path, live, tracked


def _replay(path):
    with RunReader(path) as reader:
        rows = reader.requests()
        inputs = reader.probe_inputs()
    return rows, RecordedRequests(lambda: RunReader(path), rows, inputs)


def _answer(replay, kind, args, step=None):
    out = {}
    replay.request(kind, args, lambda data, error: out.update(data=data, error=error), step=step)
    return out["data"], out["error"]


def test_recorded_requests_replay_byte_for_byte(recorded_run):
    path, live, _ = recorded_run
    rows, replay = _replay(path)
    assert sorted(r.kind for r in rows) == ["feature", "inspect", "landscape"]
    for (kind, args), data in live.items():
        answer, error = _answer(replay, kind, args, step=10**6)
        assert error is None and answer == data  # the same bytes the live viewer got
        header, _ = decode_frame(answer)
        row = replay.find(kind, args, None)
        assert header["step"] == row.step  # the answer says which step it is from
    assert header["overlays"][0]["meta"]["step"] == row.step  # the landscape's, for the panel


def test_replay_refuses_what_needs_the_model_with_the_reason(recorded_run):
    path, _, _ = recorded_run
    _, replay = _replay(path)
    data, error = _answer(replay, "inspect", (5, "grad_cam", 7))
    assert data is None
    assert "computed live only" in error and "Grad-CAM for input 3" in error
    assert "block.conv2 unit 1" in error and "landscape (3 × 3)" in error
    grad_cam = replay.find(*GRAD_CAM, None)
    data, error = _answer(replay, *GRAD_CAM, step=grad_cam.step - 1)  # before it was asked
    assert data is None and f"recorded at step {grad_cam.step}" in error
    assert replay.inputs == [3] and replay.count == 8 and replay.has_landscape


def test_tracked_units_replay_as_metrics(recorded_run):
    path, _, tracked = recorded_run
    with RunReader(path) as reader:  # the scalar rows `nnviz3d replay` loads into the chart
        steps = [step for step, _, s in reader.scalar_rows() if tracked in s]
    assert len(steps) >= 3  # every probed step after track(), in the replay's chart history


def test_alarms_replay_at_the_steps_they_fired_live(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    xs, ys = torch.randn(32, 8), torch.randint(0, 4, (32,))
    w = nnviz3d.watch(
        model,
        xs[:1],
        record=tmp_path / "alarms.nnv3d",
        serve=False,
        open_browser=False,
        quiet=True,
        every=1,
    )
    live = []
    w.add_listener(
        lambda header, _: live.append(
            (header["step"], sorted(a.get("message", "") for a in header.get("alarms", [])))
        )
    )
    opt = torch.optim.SGD(model.parameters(), lr=80.0)  # explodes within a few steps
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
    w.close()
    with RunReader(tmp_path / "alarms.nnv3d") as reader:
        replayed = []
        for _, step, kinds, data in reader.frames():
            header, _ = decode_frame(data)
            if kinds and header.get("type") == "probe":
                replayed.append(
                    (step, sorted(a.get("message", "") for a in header.get("alarms", [])))
                )
    fired = [(s, a) for s, a in live if a]
    assert fired, "the broken model raised no alarm"
    assert [(s, a) for s, a in replayed if a][: len(fired)] == fired
