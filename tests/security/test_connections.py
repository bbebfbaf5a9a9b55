"""Half-open connections (issue 15): 1,100 connections that never finished their headers once
used up the process's file descriptors, and the training loop's own torch.save failed. The
server's connections are capped, time out, and its error log stays small."""

import io
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from nnviz3d.server import SceneState, ServerThread, make_app
from nnviz3d.server.connections import LogThrottle, accept_batch, default_limit
from tests.conftest import zoo_graph

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc fds")

ATTACKER = textwrap.dedent("""
    import socket, sys
    port, n = int(sys.argv[1]), int(sys.argv[2])
    socks = []
    for _ in range(n):  # each sends half a request and then nothing
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            s.send(b"GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nX-Slow: ")
        except OSError:
            pass
        socks.append(s)
    print("open", flush=True)
    sys.stdin.readline()
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    print(closed, flush=True)
""")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def get(port) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return int(s.recv(64).split()[1])


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.out = io.StringIO()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record):
        self.out.write(self.format(record) + "\n")


def test_half_open_connections_are_capped_timed_out_and_do_not_starve_the_process():
    log = Lines()
    for name in ("aiohttp", "asyncio", "nnviz3d"):
        logging.getLogger(name).addHandler(log)
    srv = ServerThread(
        make_app(SceneState(zoo_graph("digits_cnn"))),
        "127.0.0.1",
        0,
        max_connections=32,
        header_timeout=1.0,
    )
    base = fds()
    attacker = subprocess.Popen(
        [sys.executable, "-c", ATTACKER, str(srv.port), "300"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        peak = base
        started = time.monotonic()
        os.set_blocking(attacker.stdout.fileno(), False)
        while not attacker.stdout.readline():  # sample while the 300 connect
            peak = max(peak, fds())
            time.sleep(0.005)
            assert time.monotonic() - started < 30
        os.set_blocking(attacker.stdout.fileno(), True)
        during = [fds() for _ in range(20)]
        assert get(srv.port) == 200  # a person's request takes an idle connection's place
        peak = max([peak] + during)
        # the cap, and for an instant two accept batches more (connections.accept_batch)
        assert peak - base <= 32 + 2 * accept_batch(32) + 4, (base, peak)  # not 300
        time.sleep(2.5)  # the header timeout (1 s) has passed for every one of them
        assert fds() - base <= 2
        assert len(srv.site.guard.open) == 0
        attacker.stdin.write("report\n")
        attacker.stdin.flush()
        closed = int(attacker.stdout.readline())
        assert closed >= 298, closed  # every connection was closed by the server
        assert get(srv.port) == 200
    finally:
        attacker.kill()
        attacker.wait()
        srv.close()
        for name in ("aiohttp", "asyncio", "nnviz3d"):
            logging.getLogger(name).removeHandler(log)
    assert len(log.out.getvalue()) < 4000, log.out.getvalue()[:2000]


SERVER = textwrap.dedent("""
    import logging, os, resource, sys, tempfile
    logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
    from nnviz3d.server import SceneState, ServerThread, make_app
    from tests.conftest import zoo_graph
    state = SceneState(zoo_graph("digits_cnn"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))  # a low ulimit -n
    srv = ServerThread(make_app(state), "127.0.0.1", 0)
    print(srv.port, srv.max_connections, flush=True)
    sys.stdin.readline()
    with tempfile.TemporaryDirectory() as d:  # the training loop saves a checkpoint
        files = [open(os.path.join(d, f"ckpt{i}.pt"), "wb") for i in range(150)]
        print("saved", len(files), flush=True)
""")


def test_a_flood_of_1100_connections_leaves_the_training_loop_its_file_descriptors(tmp_path):
    logfile = tmp_path / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(logfile)],
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    socks = []
    try:
        port, cap = map(int, server.stdout.readline().split())
        assert cap == 32  # an eighth of 256
        started = time.monotonic()
        for _ in range(1100):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
                s.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:
                pass
            socks.append(s)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        server.stdin.write("save\n")
        server.stdin.flush()
        assert server.stdout.readline().split() == ["saved", "150"]
        assert server.wait(timeout=30) == 0
    finally:
        for s in socks:
            s.close()
        server.kill()
        server.wait()
    assert logfile.stat().st_size < 4000, logfile.read_text()[:2000]


def test_the_error_log_says_each_kind_once_per_interval():
    throttle = LogThrottle(every=10.0)
    logger = logging.getLogger("nnviz3d.test.throttle")
    logger.propagate = False
    logger.addFilter(throttle)
    log = Lines()
    logger.addHandler(log)
    try:
        for i in range(10_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                logger.error("accept failed for client %d", i, exc_info=True)
        logger.warning("another kind")
        for kind in throttle.kinds.values():
            kind[0] -= 11.0  # ten seconds later
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            logger.error("accept failed for client %d", 10_001, exc_info=True)
    finally:
        logger.removeHandler(log)
        logger.removeFilter(throttle)
    lines = log.out.getvalue()
    assert lines.count("Traceback") == 1 and lines.count("accept failed") == 2
    assert "and 9999 more like this" in lines and "another kind" in lines
    assert len(lines) < 2000


def test_the_default_cap_leaves_most_descriptors_to_the_process():
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert default_limit() == (
        256 if soft == resource.RLIM_INFINITY else max(8, min(256, soft // 8))
    )
    with pytest.raises(ValueError, match="max_connections"):
        ServerThread(
            make_app(SceneState(zoo_graph("digits_cnn"))), "127.0.0.1", 0, max_connections=-1
        )


def test_tls_handshakes_that_never_start_count_against_the_cap_and_time_out(tmp_path, monkeypatch):
    import http.client
    import ssl

    from nnviz3d.server.tls import self_signed, ssl_context

    monkeypatch.setenv("NNVIZ3D_HOME", str(tmp_path))
    cert, key = self_signed()
    srv = ServerThread(
        make_app(SceneState(zoo_graph("digits_cnn"))),
        "127.0.0.1",
        0,
        ssl_context=ssl_context(cert, key),
        max_connections=8,
        header_timeout=1.0,
    )
    client = ssl.create_default_context(cafile=str(cert))

    def https_get() -> int:
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=client, timeout=5)
        try:
            conn.request("GET", "/")
            return conn.getresponse().status
        finally:
            conn.close()

    base = fds()
    socks = []
    try:
        for _ in range(60):  # connect, then never say ClientHello
            socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
        time.sleep(0.3)
        server_side = fds() - base - len(socks)
        assert server_side <= 8 + 2 * accept_batch(8) + 2, server_side  # not 60
        assert https_get() == 200  # takes the place of the oldest stalled handshake
        time.sleep(2.5)
        assert fds() - base - len(socks) <= 2 and len(srv.site.guard.open) == 0
        assert https_get() == 200
    finally:
        for s in socks:
            s.close()
        srv.close()
