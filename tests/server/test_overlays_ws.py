"""Overlays over the real websocket: weight maps on join, detail on request, clear errors."""

import asyncio
import json

import aiohttp
import torch

from nnviz3d.capture import capture_graph
from nnviz3d.capture.probes import Probes
from nnviz3d.protocol.overlay_frame import decode_overlays
from nnviz3d.server import LiveFeed, SceneState, ServerThread, make_app
from tests.server.test_app import join, run
from tests.server.test_probe_history import frame


async def next_overlays(ws, channel, timeout=20):
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.BINARY and b'"overlays"' in msg.data[:400]:
            header, overlays = decode_overlays(msg.data)
            if header["channel"] == channel:
                return header, overlays


async def next_error(ws, timeout=20):
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "error":
            return json.loads(msg.data)


def test_weights_on_join_and_detail_on_request():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    graph = capture_graph(model, torch.randn(1, 6))
    probes = Probes(model)
    feed = LiveFeed()
    for step in range(3):
        feed.ingest(frame(model, probes, step, matrices=step == 2), step, ["weight"])
    srv = ServerThread(make_app(SceneState(graph), feed), "127.0.0.1", 0)

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await join(s, srv.url)
            header, weights = await next_overlays(ws, "weights")
            assert header["step"] == 2
            names = {(o.module, o.name, o.kind) for o in weights}
            assert names == {
                ("0", "weight", "grid"),
                ("0", "bias", "bars"),
                ("2", "weight", "grid"),
                ("2", "bias", "bars"),
            }
            grid = next(o for o in weights if o.module == "0" and o.name == "weight")
            exact = model[0].weight.detach().half().float().numpy()
            assert (grid.arrays["values"] == exact).all()
            await ws.send_str(json.dumps({"type": "detail", "path": "0"}))
            header, detail = await next_overlays(ws, "detail")
            assert header["module"] == "0"
            assert {o.name for o in detail} == {"weight_hist", "weight_pca"}
            await ws.send_str(json.dumps({"type": "detail", "path": "no.such"}))
            err = await next_error(ws)
            assert err["code"] == "not_found" and "no.such" in err["message"]
            # requests that need the live model get a clear answer when there is none
            for msg in (
                {"type": "inspect", "index": 0},
                {"type": "visualise", "module": "0", "unit": 1},
                {"type": "landscape"},
            ):
                await ws.send_str(json.dumps(msg))
                err = await next_error(ws)
                assert "needs the live model and probe inputs" in err["message"], err
            await ws.close()

    try:
        run(go())
    finally:
        srv.close()


def test_embedding_progress_and_errors_reach_every_viewer():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    feed = LiveFeed()
    srv = ServerThread(
        make_app(SceneState(capture_graph(model, torch.randn(1, 6))), feed), "127.0.0.1", 0
    )

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await join(s, srv.url)
            await asyncio.sleep(0.3)  # joined
            srv.loop.call_soon_threadsafe(
                feed.embedding_news,
                "error",
                {"layer": "0", "step": 4, "message": "ValueError: features contain 3 NaN"},
            )
            err = await next_error(ws)
            assert err["code"] == "embedding_failed" and "3 NaN" in err["message"]
            assert err["fatal"] is False
            await ws.close()

    try:
        run(go())
    finally:
        srv.close()
