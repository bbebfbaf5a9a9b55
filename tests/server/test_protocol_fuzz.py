"""Hostile websocket clients (random bytes, wrong versions, huge or malformed messages, floods)
never crash the server, never raise inside it, and never make it unresponsive to a
well-behaved client."""

import asyncio
import json
import logging

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnviz3d.protocol import PROTOCOL_VERSION
from nnviz3d.protocol.messages import CLIENT_MESSAGES
from nnviz3d.protocol.validate import MAX_CLIENT_MESSAGE
from nnviz3d.server import SceneState, ServerThread, make_app
from tests.conftest import run_async, zoo_graph


class Errors(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def server():
    errors = Errors()
    for name in ("aiohttp.server", "aiohttp.web", "asyncio", "nnviz3d"):
        logging.getLogger(name).addHandler(errors)
    srv = ServerThread(make_app(SceneState(zoo_graph("digits_cnn"))), "127.0.0.1", 0)
    srv.errors = errors
    yield srv
    srv.close()
    for name in ("aiohttp.server", "aiohttp.web", "asyncio", "nnviz3d"):
        logging.getLogger(name).removeHandler(errors)


HELLO = json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "fuzz"})
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.builds(
        lambda t, rest: json.dumps({"type": t, **rest}),
        st.sampled_from(sorted(CLIENT_MESSAGES)) | st.text(max_size=10),
        st.dictionaries(
            st.sampled_from(
                ["path", "step", "index", "module", "unit", "method", "protocol", "steps", "x"]
            ),
            json_values,
            max_size=4,
        ),
    ),
    st.builds(lambda v: json.dumps({"type": "hello", "protocol": v, "client": "x"}), json_values),
    # issue 15: a type that is no string, nesting past the recursion limit, integers beyond
    # 64 bits, NaN/Infinity, lone surrogates, objects where scalars belong
    st.builds(lambda t: json.dumps({"type": t}), json_values),
    st.builds(lambda n, c: c * n, st.integers(900, 12_000), st.sampled_from(["[", '{"a":'])),
    st.builds(
        lambda t, f, v: '{"type": "%s", "%s": %s}' % (t, f, v),
        st.sampled_from(sorted(CLIENT_MESSAGES)),
        st.sampled_from(["step", "index", "unit", "steps", "target", "protocol", "path"]),
        st.sampled_from(
            [
                "NaN",
                "Infinity",
                "-Infinity",
                "1e999",
                str(2**64),
                str(-(2**64)),
                "-1",
                "1.5",
                '"\\ud800"',
                '{"a": [[{}]]}',
                "1" + "0" * 5000,
            ]
        ),
    ),
)


async def hostile(url, first_hello: bool, payloads: list) -> None:
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url + "ws", max_msg_size=0)
        if first_hello:
            await ws.send_str(HELLO)
        for p in payloads:
            if ws.closed:
                break
            try:
                await (ws.send_bytes(p) if isinstance(p, bytes) else ws.send_str(p))
            except ConnectionError:  # the server closed it (a message over the size limit)
                break
        try:  # read whatever comes back for a moment; errors or a close are both fine
            while True:
                msg = await ws.receive(timeout=0.2)
                if msg.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
        except TimeoutError:
            pass
        await ws.close()


async def polite(url) -> dict:
    """A well-behaved client: hello, then the welcome and the scene, within 5 s."""
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(url + "ws", max_msg_size=0)
        await ws.send_str(HELLO)
        welcome = json.loads((await ws.receive(timeout=5)).data)
        await ws.close()
        return welcome


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(first_hello=st.booleans(), payloads=st.lists(messages, min_size=1, max_size=6))
def test_fuzzed_messages_never_break_the_server(server, first_hello, payloads):
    run_async(hostile(server.url, first_hello, payloads))
    assert run_async(polite(server.url))["type"] == "welcome"
    assert server.errors.records == []


def test_huge_messages_and_floods(server):
    async def go():
        async with aiohttp.ClientSession() as s:
            # a message over the limit closes that connection, nothing else
            ws = await s.ws_connect(server.url + "ws", max_msg_size=0)
            await ws.send_str(HELLO)
            await ws.send_str("x" * (MAX_CLIENT_MESSAGE + 10))
            while True:  # the scene and timeline arrive, then the close
                msg = await ws.receive(timeout=5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
            assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
            # a flood of 2,000 messages: rate-limited, told so, and the server still answers
            flood = await s.ws_connect(server.url + "ws", max_msg_size=0)
            await flood.send_str(HELLO)
            seek = json.dumps({"type": "follow"})
            await asyncio.gather(*(flood.send_str(seek) for _ in range(2000)))
            said = []
            try:
                while True:
                    msg = await flood.receive(timeout=1.0)
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        said.append(json.loads(msg.data))
            except TimeoutError:
                pass
            assert any(m.get("code") == "rate_limited" for m in said)
            assert sum(m.get("code") == "rate_limited" for m in said) <= 3
            welcome = await polite(server.url)
            await flood.close()
            return welcome

    assert run_async(go())["type"] == "welcome"
    assert server.errors.records == []
