"""The real aiohttp server on a loopback port, spoken to by real websocket clients."""

import asyncio
import json

import aiohttp
import pytest

from nnviz3d.protocol import PROTOCOL_VERSION, decode_scene
from nnviz3d.server import SceneState, ServerThread, make_app
from tests.conftest import run_async, zoo_graph


@pytest.fixture
def server():
    state = SceneState(zoo_graph("gpt2"), depth=3)
    srv = ServerThread(make_app(state), "127.0.0.1", 0)
    yield srv
    srv.close()


def hello(version=PROTOCOL_VERSION):
    return json.dumps({"type": "hello", "protocol": version, "client": "test"})


async def join(session, url, version=PROTOCOL_VERSION, **kw):
    ws = await session.ws_connect(url + "ws", **kw)
    await ws.send_str(hello(version))
    return ws


async def receive(ws, timeout=30):
    """The next message that is not a timeline update."""
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "timeline":
            continue
        return msg


async def receive_json(ws):
    return json.loads((await receive(ws)).data)


async def receive_scene(ws):
    welcome = await receive_json(ws)
    info = await receive_json(ws)
    frame = (await receive(ws)).data
    return welcome, info, frame


run = run_async


def test_handshake_then_whole_scene(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await join(s, server.url)
            welcome, info, frame = await receive_scene(ws)
            assert welcome == {
                "type": "welcome",
                "protocol": PROTOCOL_VERSION,
                "server": welcome["server"],
                "model": "GPT2LMHeadModel",
            }
            assert info["type"] == "scene_info" and info["bytes"] == len(frame)
            header, arrays = decode_scene(frame)
            assert len(header["blocks"]) == info["blocks"] == 20
            assert arrays["block_position"].shape == (20, 3)
            await ws.close()

    run(go())


def test_late_joiner_and_concurrent_clients_get_the_same_scene(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            first = await join(s, server.url)
            _, _, frame1 = await receive_scene(first)
            await asyncio.sleep(0.2)
            late = await join(s, server.url)
            _, _, frame2 = await receive_scene(late)
            assert frame1 == frame2
            await first.close()
            await late.close()

    run(go())


def test_expand_is_broadcast_to_every_client(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            a = await join(s, server.url)
            b = await join(s, server.url)
            await receive_scene(a)
            await receive_scene(b)
            await a.send_str(json.dumps({"type": "expand", "path": "transformer.h.3"}))
            for ws in (a, b):
                info = await receive_json(ws)
                header, _ = decode_scene((await receive(ws)).data)
                assert info["version"] == header["version"] == 2
                paths = {blk["path"] for blk in header["blocks"]}
                assert "/model/transformer/h/3/attn" in paths
            await a.send_str(json.dumps({"type": "collapse", "path": "transformer.h.3"}))
            await receive_json(a)
            header, _ = decode_scene((await receive(a)).data)
            assert "/model/transformer/h/3" in {blk["path"] for blk in header["blocks"]}
            await a.close()
            await b.close()

    run(go())


def test_wrong_protocol_version_gets_a_clear_fatal_error(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await join(s, server.url, version=PROTOCOL_VERSION + 41)
            msg = await receive_json(ws)
            assert msg["type"] == "error" and msg["code"] == "protocol_mismatch"
            assert msg["fatal"] and f"protocol {PROTOCOL_VERSION + 41}" in msg["message"]
            closing = await receive(ws)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    run(go())


def test_unknown_client_that_does_not_say_hello_is_refused(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(server.url + "ws")
            await ws.send_str(json.dumps({"type": "expand", "path": "x"}))
            msg = await receive_json(ws)
            assert msg["code"] == "bad_handshake" and msg["fatal"]

    run(go())


def test_bad_messages_get_error_replies_and_the_session_survives(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await join(s, server.url)
            await receive_scene(ws)
            for bad, code in [
                ("nonsense", "bad_message"),
                (json.dumps({"type": "expand", "path": "no.such"}), "not_found"),
                (json.dumps({"type": "expand", "path": "transformer.h.0.ln_1"}), "not_found"),
            ]:
                await ws.send_str(bad)
                msg = await receive_json(ws)
                assert msg["type"] == "error" and msg["code"] == code and not msg["fatal"]
            await ws.send_bytes(b"\x00\x01")
            msg = await receive_json(ws)
            assert msg["code"] == "bad_message"
            await ws.close()

    run(go())


def test_no_permessage_deflate_even_when_the_client_offers_it(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await s.ws_connect(server.url + "ws", compress=15)
            assert ws.compress == 0
            await ws.close()

    run(go())


def test_serves_the_built_viewer(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.get(server.url) as r:
                assert r.status == 200 and "text/html" in r.headers["Content-Type"]
                page = await r.text()
            assert '<canvas id="scene">' in page
            script = page.split('src="./assets/')[1].split('"')[0]
            async with s.get(server.url + "assets/" + script) as r:
                assert r.status == 200 and "javascript" in r.headers["Content-Type"]
            async with s.get(server.url + "assets/../../graph.py") as r:
                assert r.status in (403, 404)

    run(go())


def test_port_in_use_picks_another_and_says_so():
    state = SceneState(zoo_graph("digits_cnn"))
    first = ServerThread(make_app(state), "127.0.0.1", 0)
    try:
        second = ServerThread(make_app(state), "127.0.0.1", first.port)
        try:
            assert second.port != first.port and "in use" in second.note
        finally:
            second.close()
    finally:
        first.close()
