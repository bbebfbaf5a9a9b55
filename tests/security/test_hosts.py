"""DNS rebinding and cross-site use (issue 15): the server answers only to this machine's names
and the ones the user allows, on every route; only its own pages may use its websocket."""

import socket

import pytest

from nnviz3d.cli import main
from nnviz3d.server import SceneState, ServerThread, make_app
from nnviz3d.server.access import ACCESS
from nnviz3d.server.hosts import AllowedHosts, given_hosts, split_host
from nnviz3d.server.tls import lan_address
from tests.conftest import zoo_graph

FOREIGN = [
    "attacker.example:{port}",
    "attacker.example",
    "localhost.attacker.example:{port}",
    "127.0.0.1.nip.io:{port}",
    "localhost:{port}.attacker.example",
    "attacker.example:{port}:{port}",
    "0.0.0.0:{port}",
    "[::]:{port}",
    "",
    "ATTACKER.example.:{port}",
    "[::1].attacker.example",
    "localhost@attacker.example",
    "127.0.0.2.attacker.example",
    "10.11.12.13:{port}",
    "[fe80::1%25eth0]:{port}",
    "lo calhost",
    "localhost..",
    "%6cocalhost:{port}",
]
LOCAL = [
    "127.0.0.1:{port}",
    "localhost:{port}",
    "LOCALHOST:{port}",
    "localhost.:{port}",
    "[::1]:{port}",
    "[0:0:0:0:0:0:0:1]:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "127.0.0.1",
    "127.4.5.6:{port}",
]


def serve(host="127.0.0.1", **kw):
    state = SceneState(zoo_graph("digits_cnn"))
    return ServerThread(make_app(state, **kw), host, 0)


def http(
    port,
    path="/",
    host: str | None = "127.0.0.1",
    method="GET",
    headers=(),
    address="127.0.0.1",
    version="1.1",
):
    """One raw HTTP request (any Host, or none): (status, body text)."""
    lines = [f"{method} {path} HTTP/{version}"]
    if host is not None:
        lines.append(f"Host: {host.format(port=port)}")
    lines += [f"{k}: {v}" for k, v in dict(headers).items()] + ["Connection: close", "", ""]
    with socket.create_connection((address, port), timeout=10) as s:
        s.sendall("\r\n".join(lines).encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and b" 101 " in data.split(b"\r\n", 1)[0]:
                break  # an upgraded websocket stays open
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode("utf-8", "replace")


WS = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def ws_status(port, host="127.0.0.1:{port}", origin=None, address="127.0.0.1"):
    headers = dict(WS, **({"Origin": origin.format(port=port)} if origin else {}))
    lines = ["GET /ws HTTP/1.1", f"Host: {host.format(port=port)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()] + ["", ""]
    with socket.create_connection((address, port), timeout=10) as s:
        s.sendall("\r\n".join(lines).encode())
        return int(s.recv(4096).split()[1])


def every_route(app):
    """(method, path) of every route the app has, a real file for the static ones, so that a
    route added later is covered without editing this test."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info()
        if "directory" in info:
            path = (
                info["prefix"]
                + "/"
                + next(p for p in info["directory"].iterdir() if p.is_file()).name
            )
        else:
            path = info.get("path") or info["formatter"].replace("{", "").replace("}", "")
        out.append((route.method, path))
    return out


def test_a_foreign_host_is_refused_on_every_route_and_method():
    srv = serve()
    try:
        routes = every_route(srv.app)
        assert {p for _, p in routes} >= {"/", "/ws", "/export.glb"}
        assert any(p.startswith("/assets/") for _, p in routes)
        routes += [
            ("OPTIONS", "/"),
            ("POST", "/"),
            ("GET", "/no-such-page"),
            ("GET", "/assets/../../pyproject.toml"),
            ("PUT", "/export.glb"),
        ]
        for method, path in routes:
            status, body = http(srv.port, path, "attacker.example:{port}", method)
            assert status == 403, (method, path)
            if method != "HEAD":
                assert "--allow-host attacker.example" in body, (method, path)
            for host in FOREIGN:
                assert http(srv.port, path, host, method)[0] == 403, (method, path, host)
        for host in LOCAL:  # every spelling of this machine is served
            assert http(srv.port, "/", host)[0] == 200, host
            assert http(srv.port, "/export.glb", host)[0] == 200, host
        assert http(srv.port, "/", None)[0] == 400  # aiohttp: HTTP/1.1 requires a Host
        status, body = http(srv.port, "/", None, version="1.0")
        assert status == 403 and "without a Host header" in body
    finally:
        srv.close()


def test_the_websocket_needs_a_known_host_and_its_own_origin():
    srv = serve()
    try:
        assert ws_status(srv.port) == 101  # a script (no Origin) on a good Host
        assert ws_status(srv.port, origin="http://127.0.0.1:{port}") == 101
        assert ws_status(srv.port, "localhost:{port}", "http://localhost:{port}") == 101
        assert ws_status(srv.port, "localhost:{port}", "http://127.0.0.1:{port}") == 101
        assert ws_status(srv.port, "LOCALHOST:{port}", "http://LocalHost:{port}") == 101
        assert ws_status(srv.port, "[::1]:{port}", "http://[::1]:{port}") == 101
        for host in FOREIGN:  # a rebinding page: foreign Host, Origin equal to it
            assert ws_status(srv.port, host or "x", "http://" + (host or "x")) == 403, host
        for origin in [
            "http://attacker.example:{port}",
            "http://attacker.example",
            "null",
            "http://localhost:1",
            "http://localhost:3000",
            "file://",
            "http://localhost.attacker.example:{port}",
            "chrome-extension://abc",
            "http://127.0.0.1:{port}/path",
            "http://user@127.0.0.1:{port}",
            "http://127.0.0.1.nip.io:{port}",
            "http://127.0.0.1:99999999",
            "ws://attacker.example:{port}",
            "http://[::]:{port}",
        ]:
            assert ws_status(srv.port, origin=origin) == 403, origin
    finally:
        srv.close()


def test_cross_site_requests_other_than_navigations_are_refused():
    srv = serve()
    try:
        img = {
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "no-cors",
            "Sec-Fetch-Dest": "image",
        }
        assert http(srv.port, "/export.glb", headers=img)[0] == 403
        assert (
            http(srv.port, "/export.glb", headers=dict(img, **{"Sec-Fetch-Site": "same-site"}))[0]
            == 403
        )  # http://localhost:3000 is same-site
        frame = {
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "iframe",
        }
        assert http(srv.port, "/", headers=frame)[0] == 403
        link = {
            "Sec-Fetch-Site": "cross-site",
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
        }  # a link from a notebook: the page opens
        assert http(srv.port, "/", headers=link)[0] == 200
        own = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
        assert http(srv.port, "/export.glb", headers=own)[0] == 200
    finally:
        srv.close()


def test_names_the_user_allows(monkeypatch):
    monkeypatch.delenv("NNVIZ3D_ALLOW_HOSTS", raising=False)
    srv = serve(allow_hosts=["Viewer.Example."])
    try:
        assert http(srv.port, "/", "viewer.example")[0] == 200
        assert http(srv.port, "/", "VIEWER.EXAMPLE:443")[0] == 200
        assert http(srv.port, "/", "sub.viewer.example")[0] == 403
        # a reverse proxy's page: its origin may use any port
        assert ws_status(srv.port, "viewer.example", "https://viewer.example") == 101
        assert ws_status(srv.port, origin="https://viewer.example") == 101
        assert ws_status(srv.port, origin="https://attacker.example") == 403
    finally:
        srv.close()
    monkeypatch.setenv("NNVIZ3D_ALLOW_HOSTS", "a.example, b.example")
    assert given_hosts(["c.example"]) == ["c.example", "a.example", "b.example"]
    monkeypatch.delenv("NNVIZ3D_ALLOW_HOSTS")
    for bad in ["http://x.example", "x.example:80", "a/b", "", "*.example", "x y", "[::1"]:
        with pytest.raises(ValueError, match="--allow-host takes a host name"):
            given_hosts([bad])
    srv = serve(allow_hosts=["*"])  # the check off, on purpose
    try:
        assert http(srv.port, "/", "anything.example")[0] == 200
    finally:
        srv.close()


def test_beyond_loopback_the_machines_own_addresses_are_served():
    srv = serve(host="0.0.0.0", token="a-token-for-the-lan-0123")
    try:
        hosts = srv.app[ACCESS].hosts
        auth = {"Authorization": "Bearer a-token-for-the-lan-0123"}
        assert http(srv.port, "/", "127.0.0.1", headers=auth)[0] == 200
        assert http(srv.port, "/", socket.gethostname().lower(), headers=auth)[0] == 200
        assert http(srv.port, "/", "attacker.example", headers=auth)[0] == 403
        lan = lan_address()
        if lan:  # reached on the LAN address, asked for by it: the URL the server prints
            assert lan in srv.url
            assert http(srv.port, "/", lan, headers=auth, address=lan)[0] == 200
            assert hosts.allows(lan)
        # an address is allowed when the connection arrived on it, whatever the interface
        assert hosts.allows("192.0.2.7", local_address="::ffff:192.0.2.7")
        assert not hosts.allows("192.0.2.7", local_address="192.0.2.8")
    finally:
        srv.close()
    loopback = AllowedHosts()
    loopback.bind("127.0.0.1")  # a loopback server: not under the machine's name
    assert not loopback.allows("192.0.2.7") and not loopback.allows("attacker.example")


def test_host_headers_are_parsed_strictly():
    assert split_host("LocalHost.:8765") == "localhost"
    assert split_host("[::1]:80") == "::1" and split_host("[::ffff:127.0.0.1]") == "127.0.0.1"
    for bad in [
        "",
        ":80",
        "[::1",
        "[::1]x",
        "a:b",
        "a b",
        "a/b",
        "[::1]:",
        "x:80:80",
        "\u0430ttacker.example",
        "a\r\nb",
    ]:
        assert split_host(bad) is None or split_host(bad) not in ("localhost", "127.0.0.1"), bad


def test_allow_host_on_the_command_line(monkeypatch, capsys):
    seen = {}

    def fake_view(*args, **kw):
        seen.update(kw)
        raise ValueError("stop here")

    monkeypatch.setattr("nnviz3d.viewer.view", fake_view)
    assert (
        main(
            [
                "view",
                "nnviz3d.zoo:digits_cnn",
                "--no-browser",
                "--allow-host",
                "a.example",
                "--allow-host",
                "b.example",
            ]
        )
        == 2
    )
    assert seen["allow_hosts"] == ["a.example", "b.example"]
    monkeypatch.undo()
    assert (
        main(
            [
                "view",
                "nnviz3d.zoo:digits_cnn",
                "--no-browser",
                "--port",
                "0",
                "--allow-host",
                "http://a.example",
            ]
        )
        == 2
    )
    assert "--allow-host takes a host name" in capsys.readouterr().err
