"""``watch`` on real training loops: it never changes training, never blocks it, and what the
live view received is exactly what the recording replays."""

import asyncio
import base64
import concurrent.futures
import json
import os
import socket
import statistics
import time

import aiohttp
import pytest
import torch
from torch import nn

import nnviz3d
from nnviz3d import zoo
from nnviz3d.protocol import PROTOCOL_VERSION
from nnviz3d.record import RunReader


def train(model, steps, watcher=None, seed=0, batch=16):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    times = []
    for _ in range(steps):
        x = torch.randn(batch, 1, 8, 8, generator=g)
        y = torch.randint(0, 10, (batch,), generator=g)
        t = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if watcher is not None:
            watcher.step(loss=loss.item())
        times.append(time.perf_counter() - t)
    return times


def test_watching_changes_nothing_about_training(tmp_path):
    torch.manual_seed(0)
    a = zoo.DigitsCNN()
    b = zoo.DigitsCNN()
    b.load_state_dict(a.state_dict())
    with nnviz3d.watch(
        a, torch.randn(1, 1, 8, 8), record=tmp_path / "r", serve=False, every=1, strict=True
    ) as w:
        train(a, 12, w)
    train(b, 12)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in a.modules())
    x = torch.randn(2, 1, 8, 8)
    a.eval(), b.eval()
    assert torch.equal(a(x), b(x))
    # a frame per step, and one at close with the final weight maps (every=1: maps every 8th)
    assert (tmp_path / "r.nnv3d").exists() and w.stats()["frames"] == 13


def test_a_failing_probe_never_stops_training(capsys, caplog):
    model = nn.Sequential(nn.Linear(4, 4))
    w = nnviz3d.watch(model, torch.randn(1, 4), record=False, serve=False, every=1)

    def boom():
        raise RuntimeError("simulated probe failure")

    w.probes.weights = boom
    for _ in range(3):
        w.step(loss=1.0)
    said = caplog.text  # logged once (logger nnviz3d), never also printed
    assert said.count("simulated probe failure") == 1 and "training goes on" in said
    assert "simulated" not in capsys.readouterr().out
    w.close()
    strict = nnviz3d.watch(model, torch.randn(1, 4), record=False, serve=False, strict=True)
    strict.probes.weights = boom
    with pytest.raises(RuntimeError, match="simulated"):
        strict.step(loss=1.0)
    with pytest.raises(RuntimeError, match="simulated"):  # the final probe at close, too
        strict.close()
    assert not strict.probes.handles  # ... once every part is closed


def test_viewer_gone_keeps_training_and_recording(tmp_path, capsys, caplog):
    model, x = zoo.digits_cnn()
    model.train()
    w = nnviz3d.watch(
        model, x, record=tmp_path / "g.nnv3d", open_browser=False, port=0, every=1, quiet=True
    )
    train(model, 3, w)
    w.close_viewer()  # the server goes away mid-run
    train(model, 5, w)
    w.close()
    assert RunReader(tmp_path / "g.nnv3d").summary()["frames"] == 8 + 1  # + the final state
    # said once, through logging (pytest configures it), never printed too
    said = capsys.readouterr().out + caplog.text
    assert said.count("live view stopped") == 1 and "live view stopped" in caplog.text


async def _collect_live(url, stop, frames):
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url + "ws")
        await ws.send_str(
            json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "test"})
        )
        while not stop.is_set():
            try:
                msg = await ws.receive(timeout=0.2)
            except TimeoutError:
                continue
            if msg.type == aiohttp.WSMsgType.BINARY and msg.data[12:40].find(b'"probe"') >= 0:
                frames.append(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        await ws.close()


def test_live_frames_are_the_recorded_frames_byte_for_byte(tmp_path):
    import threading

    model, x = zoo.digits_cnn()
    model.train()
    w = nnviz3d.watch(
        model, x, record=tmp_path / "live.nnv3d", open_browser=False, port=0, every=1, quiet=True
    )
    stop, frames = threading.Event(), []
    pool = concurrent.futures.ThreadPoolExecutor(1)
    fut = pool.submit(asyncio.run, _collect_live(w.url, stop, frames))
    time.sleep(1.0)
    for _ in range(20):
        train(model, 1, w)
        time.sleep(0.05)  # a pace this client keeps up with: nothing is coalesced away
    w.close()
    time.sleep(1.0)
    stop.set()
    fut.result(timeout=30)
    w.close_viewer()
    recorded = [d for _, _, _, d in RunReader(tmp_path / "live.nnv3d").frames()]
    assert len(recorded) == 20 + 1  # + the final state's weight maps, taken at close
    assert frames[-21:] == recorded


def stalled_client(url: str) -> socket.socket:
    """A websocket client with a 4 KiB receive buffer that says hello and never reads."""
    host, port = url.split("//")[1].strip("/").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b"101" in sock.recv(1024).split(b"\r\n")[0]
    payload = json.dumps(
        {"type": "hello", "protocol": PROTOCOL_VERSION, "client": "stalled"}
    ).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
    return sock


def test_stalled_client_does_not_slow_training_or_grow_memory():
    """Two identical runs side by side, steps interleaved so both see the same machine noise:
    one server has a client that never reads, the other has none."""
    torch.manual_seed(0)

    def mlp():
        return nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )

    x = torch.randn(64, 784)
    y = torch.randint(0, 10, (64,))
    runs = []
    for _ in range(2):
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        w = nnviz3d.watch(
            model, x[:1], record=False, open_browser=False, port=0, every=1, quiet=True
        )
        runs.append((model, opt, w, []))

    def step(model, opt, w, times):
        t = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
        times.append(time.perf_counter() - t)

    sock = stalled_client(runs[0][2].url)
    pending, replaced = [], 0
    for i in range(160):  # well within the server's 30 s heartbeat
        for run in runs:
            step(*run)
        if i % 20 == 19:
            sessions = list(runs[0][2].feed.sessions)
            pending += [len(s.pending) for s in sessions]
            replaced = max(replaced, sum(s.replaced for s in sessions))
    stalled_median = statistics.median(runs[0][3][20:])
    free_median = statistics.median(runs[1][3][20:])
    for _, _, w, _ in runs:
        w.close()
        w.close_viewer()
    sock.close()
    assert stalled_median < free_median * 1.3, (stalled_median, free_median)
    assert pending and max(pending) <= 8  # newest per key: a handful of messages at most
    assert replaced > 0  # updates were coalesced instead of queued
    assert runs[0][2].stats()["dropped"] == 0


def test_a_tracked_unit_becomes_a_metric_of_the_run(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    w = nnviz3d.watch(
        model,
        torch.randn(1, 4),
        record=tmp_path / "t.nnv3d",
        serve=False,
        every=1,
        quiet=True,
        strict=True,
    )
    xs = [torch.randn(8, 4) for _ in range(6)]
    with w:
        for i, x in enumerate(xs):
            if i == 2:
                assert w.probes.track("0", 3) == "act 0[3]"
            model(x).sum().backward()
            w.step(loss=1.0)
    with pytest.raises(ValueError, match="not a layer whose activations are probed"):
        w.probes.track("nope", 0)
    rows = RunReader(tmp_path / "t.nnv3d").scalar_rows()
    values = [(step, sc["act 0[3]"]) for step, _, sc in rows if "act 0[3]" in sc]
    # from the step it was asked for on, each value is that unit's batch mean
    assert [s for s, _ in values] == [2, 3, 4, 5]
    with torch.no_grad():
        expect = [model[0](xs[s])[:, 3].mean().item() for s in (2, 3, 4, 5)]
    # the weights do not change here (no optimiser), so the recorded means are exact
    assert [v for _, v in values] == pytest.approx(expect, rel=1e-6)


def test_two_runs_with_the_same_settings_line_up_on_the_guaranteed_steps(tmp_path):
    """The default schedule on the digits CNN, twice, with an 8-step guarantee: both
    recordings hold every kind at steps 0-3 (calibration) and at every multiple of 8, whatever
    each machine measured; the weight maps too; and stats() states the coverage."""
    probed = []
    for k in range(2):
        torch.manual_seed(0)
        model, _ = zoo.digits_cnn()
        path = tmp_path / f"run{k}.nnv3d"
        w = nnviz3d.watch(
            model, torch.randn(1, 1, 8, 8), serve=False, record=path, max_interval=8, strict=True
        )
        train(model, 41, w)
        w.close()
        stats = w.stats()
        assert all(c["max_gap"] <= 8 for c in stats["coverage"].values()), stats["coverage"]
        assert stats["schedule"]["max_interval"] == 8
        with RunReader(path) as reader:
            steps: dict[str, set[int]] = {}
            for _, step, kinds, _ in reader.frames():
                for kind in kinds:
                    steps.setdefault(kind, set()).add(step)
        probed.append(steps)
    guaranteed = {0, 1, 2, 3} | set(range(0, 41, 8))
    for steps in probed:
        for kind in ("weight", "grad", "act", "mat"):  # "mat": the weight maps
            assert guaranteed <= steps[kind], (kind, sorted(steps[kind]))
