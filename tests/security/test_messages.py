"""Malformed websocket messages (issue 15): each gets an error reply, the session lives (a good
message after it is served), and the server logs no traceback for it."""

import asyncio
import json
import logging

import aiohttp
import pytest

from nnviz3d.protocol import PROTOCOL_VERSION
from nnviz3d.protocol.validate import MAX_CLIENT_MESSAGE, parse_client_message
from nnviz3d.server import LiveFeed, SceneState, ServerThread, make_app
from tests.conftest import run_async, zoo_graph

HELLO = json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "test"})
GOOD = json.dumps({"type": "collapse", "path": "stem"})
"""A message the server answers with a new scene (scene_info)."""

MALFORMED = [
    '{"type": ["x"]}',
    '{"type": {"a": 1}}',
    '{"type": 7}',
    '{"type": null}',
    '{"type": true}',
    '{"x": 1}',
    "[" * 50_000,
    "{" * 30_000,
    '{"a":' * 12_000,
    "[" * 30_000 + "]" * 30_000,
    '{"type": "seek", "step": %d}' % 2**64,
    '{"type": "seek", "step": %d}' % -(2**64),
    '{"type": "seek", "step": %d}' % 2**63,
    '{"type": "seek", "step": %d}' % 2**53,
    '{"type": "seek", "step": 1%s}' % ("0" * 5000),
    '{"type": "seek", "step": 1e999}',
    '{"type": "seek", "step": 1.0}',
    '{"type": "seek", "step": 1.5}',
    '{"type": "seek", "step": -0.0}',
    '{"type": "seek", "step": NaN}',
    '{"type": "seek", "step": Infinity}',
    '{"type": "seek", "step": -Infinity}',
    '{"type": "seek", "step": "3"}',
    '{"type": "seek", "step": true}',
    '{"type": "seek", "step": null}',
    '{"type": "seek"}',
    '{"type": "seek", "step": [1]}',
    '{"type": "seek", "step": {"$gt": 0}}',
    '{"type": "expand", "path": {"a": {"b": {"c": [[[[[[]]]]]]}}}}',
    '{"type": "expand", "path": %s}' % ('{"a":' * 2000 + "1" + "}" * 2000),
    '{"type": "expand", "path": "\\ud800"}',
    '{"type": "expand", "path": "\\udfff\\ud800x"}',
    '{"type": "\\ud800"}',
    '{"type": "expand", "path": "a", "\\udc00": 1}',
    '{"type": "expand", "path": "no.such.module"}',
    '{"type": "expand", "path": ""}',
    '{"type": "inspect", "index": -1}',
    '{"type": "inspect", "index": %d}' % 2**64,
    '{"type": "visualise", "module": "stem", "unit": -5}',
    '{"type": "track", "module": "stem", "unit": %d}' % 2**70,
    '{"type": "landscape", "steps": 1000000}',
    '{"type": "landscape", "steps": -3}',
    '{"type": "detail", "path": "no.such"}',
    '{"type": "hello", "protocol": 1, "client": "x"}',
    '{"type": "follow", "extra": 1}',
    '{"type": "follow", "%s": 1}' % ("k" * 30_000),
    '"just a string"',
    "17",
    "null",
    "",
    " ",
    "\x00",
    "{",
    '{"type": "follow"} trailing',
    '{"type": "unknown-kind"}',
    '{"type": "%s"}' % ("t" * 40_000),
]


def serve(feed=None):
    return ServerThread(make_app(SceneState(zoo_graph("digits_cnn")), feed), "127.0.0.1", 0)


@pytest.fixture
def errors():
    """ERROR records of the server's loggers (tracebacks included)."""
    records = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append
    names = ("aiohttp", "asyncio", "nnviz3d")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield records
    for name in names:
        logging.getLogger(name).removeHandler(handler)


async def next_text(ws, want=None, timeout=5.0) -> dict:
    """The next JSON text message (of type ``want``), skipping binary frames."""
    while True:
        msg = await ws.receive(timeout=timeout)
        assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
        if msg.type == aiohttp.WSMsgType.TEXT:
            data = json.loads(msg.data)
            if want is None or data["type"] == want:
                return data


async def joined(session, url):
    ws = await session.ws_connect(url + "ws", max_msg_size=0)
    await ws.send_str(HELLO)
    assert (await next_text(ws, "welcome"))["type"] == "welcome"
    return ws


async def still_served(ws) -> None:
    await ws.send_str(GOOD)
    assert (await next_text(ws, "scene_info"))["blocks"] > 0


def test_each_malformed_message_gets_an_error_and_the_session_lives(errors):
    srv = serve()

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await joined(s, srv.url)
            for i, text in enumerate(MALFORMED):
                if i % 30 == 29:
                    await asyncio.sleep(1.0)  # stay under the rate limit (40/s, bursts of 80)
                await ws.send_str(text)
                reply = await next_text(ws, "error")
                assert reply["code"] in ("bad_message", "not_found"), text[:80]
                assert not reply["fatal"] and len(reply["message"]) < 600, text[:80]
                await still_served(ws)
            await ws.send_bytes(b'{"type": "follow"}')  # binary frames: text only
            assert "JSON text" in (await next_text(ws, "error"))["message"]
            await still_served(ws)
            await ws.close()

    try:
        run_async(go())
    finally:
        srv.close()
    assert errors == []


def test_messages_over_the_size_limit_close_that_socket_and_nothing_else(errors):
    """Over the limit, aiohttp stops reading the frame and closes with 1009 (Message Too Big):
    the server never buffers more than the limit. Invalid UTF-8 closes with 1007."""
    srv = serve()

    async def go():
        async with aiohttp.ClientSession() as s:
            for big in ("x" * 10_000_000, b"\x00" * 10_000_000, '"' + "a" * MAX_CLIENT_MESSAGE):
                ws = await joined(s, srv.url)
                try:
                    await (ws.send_bytes(big) if isinstance(big, bytes) else ws.send_str(big))
                except ConnectionError:  # closed while the rest was still being sent
                    pass
                while not ws.closed:
                    msg = await ws.receive(timeout=10)
                    if msg.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.ERROR,
                    ):
                        break
                assert ws.close_code in (
                    aiohttp.WSCloseCode.MESSAGE_TOO_BIG,
                    aiohttp.WSCloseCode.ABNORMAL_CLOSURE,
                )
                if len(big) < 100_000:
                    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            ws = await joined(s, srv.url)
            await ws.send_frame(b'{"type": "\xed\xa0\x80"}', aiohttp.WSMsgType.TEXT)
            while (await ws.receive(timeout=10)).type not in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            ):
                pass
            assert ws.close_code == aiohttp.WSCloseCode.INVALID_TEXT
            ws = await joined(s, srv.url)  # the server goes on
            await still_served(ws)
            await ws.close()
            # an oversized or binary first message: refused, no traceback
            for first in ("x" * 200_000, b"\x01\x02"):
                ws = await s.ws_connect(srv.url + "ws", max_msg_size=0)
                await (ws.send_bytes(first) if isinstance(first, bytes) else ws.send_str(first))
                while (await ws.receive(timeout=10)).type not in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                ):
                    pass

    try:
        run_async(go())
    finally:
        srv.close()
    assert errors == []


def test_a_message_the_server_fails_to_serve_fails_alone(errors):
    """Whatever the checks let through and the server then fails on (here a recording that
    cannot be read) gets a server_error reply; the session goes on; the log says it once."""

    def unreadable():
        raise OSError("the recording is gone")

    srv = serve(LiveFeed(reader_factory=unreadable))

    async def go():
        async with aiohttp.ClientSession() as s:
            ws = await joined(s, srv.url)
            for step in (3, 2**53 - 1, -(2**53 - 1)) * 10:
                await ws.send_str(json.dumps({"type": "seek", "step": step}))
                reply = await next_text(ws, "error")
                assert reply["code"] == "server_error" and not reply["fatal"]
            await still_served(ws)
            await ws.close()

    try:
        run_async(go())
    finally:
        srv.close()
    failed = [r for r in errors if "could not serve a client message" in r.getMessage()]
    assert len(failed) <= 1 and len(errors) == len(failed)  # throttled: once per 10 s


def test_the_validator_never_raises():
    for text in MALFORMED + ["x" * 10_000_000, b"\xff\xfe", b'{"type": "\xed\xa0\x80"}']:
        assert isinstance(parse_client_message(text).type, str)  # a message or an error
