"""Who may use the server: tokens off loopback, same-origin websockets, headers, TLS."""

import json
import ssl

import aiohttp
import pytest

from nnviz3d.cli import main
from nnviz3d.protocol import PROTOCOL_VERSION
from nnviz3d.server import SceneState, ServerThread, make_app, viewer_dir
from nnviz3d.server.access import CSP, choose_token, is_loopback
from nnviz3d.server.tls import lan_address, qr_text, self_signed, ssl_context
from tests.conftest import run_async, zoo_graph

TOKEN = "t0ken-for-tests-0123456789"


def serve(host="127.0.0.1", token=None, context=None):
    state = SceneState(zoo_graph("digits_cnn"))
    return ServerThread(make_app(state, token=token), host, 0, ssl_context=context, token=token)


run = run_async


async def fetch(url, **kw):
    ssl_ctx = kw.pop("ssl", None)
    async with aiohttp.ClientSession() as s:
        async with s.get(url, ssl=ssl_ctx, **kw) as r:
            body = (await r.read()).decode("utf-8", "replace")
            return r.status, dict(r.headers), body, {k: v.value for k, v in r.cookies.items()}


async def handshake(url, **kw):
    """Open the websocket and say hello; the welcome's type, or the HTTP status refused."""
    ssl_ctx = kw.pop("ssl", None)
    async with aiohttp.ClientSession() as s:
        try:
            ws = await s.ws_connect(url, ssl=ssl_ctx, **kw)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.send_str(
            json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "test"})
        )
        msg = await ws.receive(timeout=10)
        await ws.close()
        return json.loads(msg.data)["type"]


def test_loopback_needs_no_token_and_sends_security_headers():
    srv = serve()
    try:
        status, headers, text, _ = run(fetch(srv.url))
        assert status == 200 and "<canvas" in text
        assert headers["Content-Security-Policy"] == CSP
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert run(handshake(srv.url + "ws")) == "welcome"
    finally:
        srv.close()


def test_a_foreign_origin_cannot_open_the_websocket():
    srv = serve()
    try:
        origin = f"http://127.0.0.1:{srv.port}"
        assert run(handshake(srv.url + "ws", origin=origin)) == "welcome"
        assert run(handshake(srv.url + "ws", origin="http://evil.example")) == 403
        assert run(handshake(srv.url + "ws", origin=f"http://localhost:{srv.port + 1}")) == 403
    finally:
        srv.close()


def test_beyond_loopback_every_request_needs_the_token():
    srv = serve(host="0.0.0.0", token=choose_token("0.0.0.0", None))
    try:
        assert srv.token and len(srv.token) >= 40 and f"?token={srv.token}" in srv.url
        base = f"http://127.0.0.1:{srv.port}/"
        status, _, text, _ = run(fetch(base))
        assert status == 403 and "access token" in text
        assert run(fetch(base + "?token=wrong-token-xyz"))[0] == 403
        asset = next((viewer_dir() / "assets").glob("index-*.js")).name
        assert run(fetch(base + "assets/" + asset))[0] == 403
        assert run(handshake(base + "ws")) == 403
        # the token moves into the cookie and out of the address bar: 303 to / (query kept)
        status, headers, _, cookies = run(
            fetch(base + f"?protocol=1&token={srv.token}", allow_redirects=False)
        )
        assert status == 303 and headers["Location"] == "/?protocol=1"
        assert cookies["nnviz3d_token"] == srv.token
        assert "samesite=lax" in headers["Set-Cookie"].lower()
        assert "httponly" in headers["Set-Cookie"].lower()
        # the page's cookie carries the token to the assets and the websocket
        jar = {"nnviz3d_token": srv.token}
        assert run(fetch(base + "assets/" + asset, cookies=jar))[0] == 200
        assert run(fetch(base, cookies=jar))[0] == 200
        assert (
            run(handshake(base + "ws", headers={"Cookie": f"nnviz3d_token={srv.token}"}))
            == "welcome"
        )
        auth = {"Authorization": f"Bearer {srv.token}"}
        assert run(fetch(base, headers=auth))[0] == 200
    finally:
        srv.close()


def test_static_files_refuse_traversal_and_listing():
    srv = serve()
    try:
        for path in (
            "assets/../../../../etc/passwd",
            "assets/%2e%2e/%2e%2e/pyproject.toml",
            "assets/..%2f..%2f__init__.py",
            "assets/",
            "assets",
        ):
            status, _, text, _ = run(fetch(srv.url + path))
            assert status in (403, 404), path
            assert "root:" not in text and "[project]" not in text
    finally:
        srv.close()


def test_tokens_are_chosen_sensibly(monkeypatch):
    monkeypatch.delenv("NNVIZ3D_TOKEN", raising=False)
    assert choose_token("127.0.0.1", None) is None and choose_token("::1", None) is None
    assert choose_token("localhost", TOKEN) == TOKEN
    assert choose_token("192.168.1.20", None) != choose_token("192.168.1.20", None)
    monkeypatch.setenv("NNVIZ3D_TOKEN", TOKEN)
    assert choose_token("0.0.0.0", None) == TOKEN
    with pytest.raises(ValueError, match="at least 8 characters"):
        choose_token("0.0.0.0", "short")
    assert is_loopback("127.0.0.2") and not is_loopback("0.0.0.0")


def test_tls_self_signed_certificate_serves_https(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ3D_HOME", str(tmp_path))
    cert, key = self_signed()
    assert cert.parent == tmp_path / "tls" and (key.stat().st_mode & 0o077) == 0
    assert self_signed() == (cert, key)  # made once, then reused
    assert cert.stat().st_mtime == self_signed()[0].stat().st_mtime
    srv = serve(context=ssl_context(cert, key))
    try:
        assert srv.url.startswith("https://127.0.0.1:")
        client = ssl.create_default_context(cafile=str(cert))  # trusts exactly this cert
        status, headers, _, _ = run(fetch(srv.url, ssl=client))
        assert status == 200 and headers["Content-Security-Policy"] == CSP
        assert run(handshake(srv.url.replace("https", "wss") + "ws", ssl=client)) == "welcome"
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            run(fetch(srv.url, ssl=ssl.create_default_context()))  # not a public CA's
    finally:
        srv.close()
    with pytest.raises(ValueError, match="cannot use the TLS certificate"):
        ssl_context(cert, tmp_path / "missing.pem")


def test_qr_code_and_cli_options(capsys):
    text = qr_text("https://192.168.1.20:8765/?token=abc")
    lines = text.splitlines()
    assert len(lines) > 10 and len({len(line) for line in lines}) == 1
    assert main(["view", "nnviz3d.zoo:digits_cnn", "--certfile", "c.pem", "--no-browser"]) == 2
    assert "--certfile and --keyfile go together" in capsys.readouterr().err
    assert lan_address() is None or not lan_address().startswith("127.")


def test_static_files_have_their_content_types():
    srv = serve()
    try:
        assets = viewer_dir() / "assets"
        want = {".js": ("text/javascript",), ".css": ("text/css",), ".woff": ("font/woff",)}
        for suffix, ctypes in want.items():
            name = next(assets.glob(f"*{suffix}")).name
            status, headers, _, _ = run(fetch(srv.url + "assets/" + name))
            assert status == 200 and headers["Content-Type"].startswith(ctypes), name
            assert headers["X-Content-Type-Options"] == "nosniff"
    finally:
        srv.close()
