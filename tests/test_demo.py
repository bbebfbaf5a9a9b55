"""`nnviz3d demo` headless, and the replay of what it recorded."""

import asyncio
import concurrent.futures
import json
import subprocess
import sys
import types

import aiohttp
import pytest

from nnviz3d.protocol import PROTOCOL_VERSION
from nnviz3d.protocol.probe_frame import decode_probe
from nnviz3d.record import RunReader
from nnviz3d.record.run_file import EMBEDDING
from nnviz3d.replay import serve_replay
from tests.conftest import shared_dir


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One headless demo of 120 steps (every step probed, as the demo does) for both tests,
    whichever workers run them: a second demo process would train and compile numba's UMAP
    code again."""

    def build(folder):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "nnviz3d",
                "demo",
                "--steps",
                "120",
                "--no-browser",
                "--port",
                "0",
                "--record",
                str(folder / "demo.nnv3d"),
                "--every",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        (folder / "result.json").write_text(
            json.dumps({"returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr})
        )

    folder = shared_dir(tmp_path_factory, "demo", build)
    r = types.SimpleNamespace(**json.loads((folder / "result.json").read_text()))
    return folder / "demo.nnv3d", r


@pytest.mark.umap
def test_demo_runs_headless_for_n_steps_and_learns(demo_run):
    run, r = demo_run
    assert r.returncode == 0, r.stderr[-2000:]
    assert "120 steps" in r.stdout
    acc = float(r.stdout.split("validation accuracy ")[1].split(";")[0])
    assert acc > 0.5  # real digits, real learning: chance is 0.1
    s = RunReader(run).summary()
    assert s["steps"] == 120 and s["first_step"] == 0 and s["last_step"] == 119


@pytest.mark.umap
def test_replay_serves_the_recorded_frames_byte_for_byte(demo_run):
    run, r = demo_run
    assert r.returncode == 0, r.stderr[-2000:]
    reader = RunReader(run)
    handle = serve_replay(reader, open_browser=False, port=0, quiet=True)

    async def seek(step):
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(handle.url + "ws")
            await ws.send_str(
                json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "t"})
            )
            timeline = None
            while timeline is None:
                msg = await ws.receive(timeout=30)
                if msg.type == aiohttp.WSMsgType.TEXT and '"timeline"' in msg.data:
                    timeline = json.loads(msg.data)
            await ws.send_str(json.dumps({"type": "seek", "step": step}))
            got = []
            want = len(reader.at_step(step))
            while len(got) < want:
                msg = await ws.receive(timeout=30)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    header, _ = (
                        decode_probe(msg.data) if b'"probe"' in msg.data[:64] else (None, None)
                    )
                    if header is not None and header["step"] <= step:
                        got.append(msg.data)
            await ws.close()
            return timeline, got

    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            timeline, frames = pool.submit(asyncio.run, seek(12)).result(timeout=120)
        assert timeline["first_step"] == 0 and timeline["last_step"] == 119
        probes = sum(kinds != [EMBEDDING] for _, _, kinds, _ in reader.frames())
        assert not timeline["live"] and timeline["frames"] == probes  # embeddings aside
        assert frames[-len(reader.at_step(12)) :] == reader.at_step(12)
    finally:
        handle.close()
