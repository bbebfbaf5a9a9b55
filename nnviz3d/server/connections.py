"""Connections a hostile or broken client cannot use to starve the process it lives in.

The server shares its process, and so its file descriptors, with the user's training loop:
1,100 connections that never finish their headers once made that loop's own ``torch.save``
fail with "Too many open files". So:

- **A cap** on open connections (:data:`MAX_CONNECTIONS`, or an eighth of the process's
  file descriptor limit when that is lower: :func:`default_limit`). At the cap a new
  connection first takes the place of the oldest one that is idle (no request in progress:
  headers not finished, or a keep-alive with nothing to do), so a person's reload still gets
  through a flood; when every connection is busy it is closed at once.
- **A deadline** (:data:`HEADER_TIMEOUT`) to finish the headers of each request, and the TLS
  handshake: aiohttp's keep-alive timer, which also closes a connection that never sends a
  request, is set to it.
- **A quiet error log** (:class:`LogThrottle`): one line per kind of error every
  :data:`LOG_EVERY` seconds, its traceback only the first time, with a count of the ones left
  out; 25 s of the attack above once wrote 51 MB of tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time

from aiohttp import web

MAX_CONNECTIONS = 256
HEADER_TIMEOUT = 5.0
"""Seconds a connection may take to send a request's headers (or its TLS handshake)."""
LOG_EVERY = 10.0
LISTEN_BACKLOG = 128
log = logging.getLogger("nnviz3d.server")


def default_limit() -> int:
    """:data:`MAX_CONNECTIONS`, or an eighth of ``ulimit -n`` when that is lower: with the
    accept batches (:func:`accept_batch`) the server then holds at most a fifth of the
    process's descriptors, whatever the limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # (Windows has no resource module)
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_CONNECTIONS
    return max(8, min(MAX_CONNECTIONS, soft // 8))


def accept_batch(limit: int) -> int:
    """How many sockets asyncio accepts in one go before any of them is counted (it is the
    ``backlog`` given to ``create_server``): a quarter of the cap, so a flood holds at most
    the cap and two batches (1.5 x the cap) for an instant. The kernel's queue of connections
    not yet accepted, which costs no descriptors, is then set to :data:`LISTEN_BACKLOG`."""
    return max(4, min(LISTEN_BACKLOG, limit // 4))


class CappedSite(web.BaseSite):
    """A TCP site (like ``web.TCPSite``) whose connections are capped (module docstring).
    TLS starts after a connection is counted (``loop.start_tls``), so a connection over the
    cap is closed before any handshake, and handshakes count against the cap too."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None,
        port: int,
        *,
        ssl_context=None,
        max_connections: int = MAX_CONNECTIONS,
        handshake_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=accept_batch(max_connections))
        self._host, self._port = host, port
        self.guard = ConnectionGuard(runner, max_connections, handshake_timeout, ssl_context)

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        sockets = self._server.sockets if self._server is not None else ()
        return sockets[0].getsockname()[1] if sockets else self._port

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self.guard, self._host, self._port, backlog=self._backlog
        )
        for listening in self._server.sockets:  # a longer queue in the kernel (no fds) than
            with socket.fromfd(listening.fileno(), listening.family, listening.type) as s:
                s.listen(LISTEN_BACKLOG)  # the batch asyncio accepts at once


class ConnectionGuard:
    """The protocol factory: aiohttp's request handler per connection, up to ``limit``."""

    def __init__(
        self, runner: web.BaseRunner, limit: int, handshake_timeout: float, ssl_context=None
    ) -> None:
        if limit < 1:
            raise ValueError(f"max_connections must be 1 or more, got {limit}")
        self.runner = runner
        self.limit = limit
        self.handshake_timeout = handshake_timeout
        self.ssl_context = ssl_context
        self.open: dict[_Counted, None] = {}
        """Connections counted against the cap, oldest first."""
        self.refused = 0
        self.evicted = 0

    def __call__(self) -> asyncio.Protocol:
        if len(self.open) >= self.limit and not self._evict_idle():
            self.refused += 1
            return _Refused()
        conn = _Counted(self, self.runner.server())
        self.open[conn] = None
        return conn

    def _evict_idle(self) -> bool:
        for conn in self.open:
            if conn.idle():
                self.evicted += 1
                conn.close()
                self.open.pop(conn, None)
                return True
        return False


class _Counted(asyncio.Protocol):
    """aiohttp's request handler, counted until its connection is lost; with TLS, given the
    connection once the handshake is done."""

    def __init__(self, guard: ConnectionGuard, handler) -> None:
        self.guard = guard
        self.handler = handler
        self.transport: asyncio.BaseTransport | None = None
        self.handed = False
        """True once the handler has the connection (after the TLS handshake, if any)."""
        self.early: list[bytes] = []
        """Data that came with the end of the handshake, before the handler had the
        connection (TLS 1.3 clients send their request with their Finished message)."""

    def connection_made(self, transport) -> None:
        self.transport = transport
        if self.guard.ssl_context is None:
            self._hand(transport)
        else:
            transport.pause_reading()  # the ClientHello is for the TLS layer
            asyncio.get_running_loop().create_task(self._start_tls(transport))

    async def _start_tls(self, raw) -> None:
        try:
            tls = await asyncio.get_running_loop().start_tls(
                raw,
                self,
                self.guard.ssl_context,
                server_side=True,
                ssl_handshake_timeout=self.guard.handshake_timeout,
            )
        except (TimeoutError, OSError, ssl.SSLError, RuntimeError) as exc:
            log.debug("TLS handshake failed: %r", exc)  # (start_tls closed the connection)
            self.guard.open.pop(self, None)
            return
        if tls is None or tls.is_closing():
            self.guard.open.pop(self, None)
            return
        self.transport = tls
        self._hand(tls)

    def _hand(self, transport) -> None:
        self.handed = True
        self.handler.connection_made(transport)
        early, self.early = self.early, []
        for data in early:
            self.handler.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self.handed:
            self.handler.data_received(data)
        elif sum(map(len, self.early)) < 1 << 20:
            self.early.append(data)
        else:
            self.close()

    def eof_received(self):
        return self.handler.eof_received() if self.handed else None

    def pause_writing(self) -> None:
        if self.handed:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.handed:
            self.handler.resume_writing()

    def connection_lost(self, exc) -> None:
        self.guard.open.pop(self, None)
        if self.handed:
            self.handler.connection_lost(exc)

    def idle(self) -> bool:
        """Connected, and in its TLS handshake or waiting for a request's headers (aiohttp's
        own test for its keep-alive timer); False when unsure."""
        if self.transport is None:
            return False
        if not self.handed:
            return True
        waiter = getattr(self.handler, "_waiter", None)
        return waiter is not None and not waiter.done()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class _Refused(asyncio.Protocol):
    """A connection over the cap: closed as soon as it is made."""

    def connection_made(self, transport) -> None:
        transport.abort()


class LogThrottle(logging.Filter):
    """Lets one record per kind (logger, message template, ``extra={"kind": ...}``, exception
    type: never the arguments, which a client may vary at will) through every ``every``
    seconds; the first of a kind keeps its traceback, later ones say how many were left out."""

    def __init__(self, every: float = LOG_EVERY) -> None:
        super().__init__()
        self.every = every
        self.kinds: dict[tuple, list] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        key = (record.name, str(record.msg)[:200], getattr(record, "kind", ""), type(exc).__name__)
        now = time.monotonic()
        seen = self.kinds.get(key)
        if seen is None:
            if len(self.kinds) > 1000:  # kinds are message templates: a few dozen at most
                self.kinds.clear()
            self.kinds[key] = [now, 0]
            return True
        if now - seen[0] < self.every:
            seen[1] += 1
            return False
        message = record.getMessage()
        record.msg = f"{message} [and {seen[1]} more like this in {now - seen[0]:.0f} s]"
        record.args = record.exc_info = record.exc_text = None
        seen[0], seen[1] = now, 0
        return True
