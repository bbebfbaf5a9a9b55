"""Run the aiohttp app on a background thread with its own event loop (non-blocking), its
connections capped and timed out and its error log throttled (nnviz3d/server/connections.py)."""

from __future__ import annotations

import asyncio
import errno
import logging
import threading

from aiohttp import web

from .connections import HEADER_TIMEOUT, CappedSite, LogThrottle, default_limit

DEFAULT_PORT = 8765
log = logging.getLogger("nnviz3d.server")
http_log = logging.getLogger("nnviz3d.server.http")
"""aiohttp's request-handling errors, throttled like the loop's."""
THROTTLE = LogThrottle()
for _logger in (log, http_log):
    _logger.addFilter(THROTTLE)


class ServerThread:
    """Starts at construction; ``url`` says where; ``close()`` stops it and joins the thread."""

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        ssl_context=None,
        token: str | None = None,
        max_connections: int | None = None,
        header_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        self.app = app
        self.host = host
        self.ssl_context = ssl_context
        self.token = token
        """The access token in the printed URL (nnviz3d/server/access.py), or None."""
        self.requested_port = DEFAULT_PORT if port is None else port
        self.note: str | None = None
        if max_connections is not None and max_connections < 1:
            raise ValueError(f"max_connections must be 1 or more, got {max_connections}")
        self.max_connections = max_connections or default_limit()
        """Open connections at most (default :data:`~.connections.MAX_CONNECTIONS`, fewer
        under a low ``ulimit -n``); more take an idle one's place or are closed at once."""
        self.header_timeout = header_timeout
        """Seconds a connection may take to send a request's headers."""
        self.site: CappedSite | None = None
        from .access import ACCESS

        if ACCESS in app:  # it answers to what this bind address reaches (hosts.py)
            app[ACCESS].hosts.bind(host)
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_log_loop_error)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="nnviz3d-server", daemon=True
        )
        self._thread.start()
        self._runner = web.AppRunner(
            app, access_log=None, keepalive_timeout=header_timeout, logger=http_log
        )
        self.port = self._call(self._start())

    def _call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> int:
        await self._runner.setup()
        try:
            site = self._site(self.requested_port)
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE and self.requested_port != 0:
                raise
            await site.stop()
            site = self._site(0)
            await site.start()
            self.note = f"port {self.requested_port} is in use"
        self.site = site
        return site.port

    def _site(self, port: int) -> CappedSite:
        return CappedSite(
            self._runner,
            self.host,
            port,
            ssl_context=self.ssl_context,
            max_connections=self.max_connections,
            handshake_timeout=self.header_timeout,
        )

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (post work with ``loop.call_soon_threadsafe``)."""
        return self._loop

    @property
    def url(self) -> str:
        """The page's URL (with the token, if any). A server on every interface (0.0.0.0 or
        ::) is reached through this machine's LAN address, or localhost without one."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            from .tls import lan_address

            host = lan_address() or "localhost"
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.ssl_context is not None else "http"
        query = f"?token={self.token}" if self.token else ""
        return f"{scheme}://{host}:{self.port}/{query}"

    def run(self, coro, timeout: float = 30.0):
        """Run a coroutine on the server's loop and wait for its result."""
        return self._call(coro, timeout)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._call(self._runner.cleanup(), timeout=10)
        except Exception as exc:  # a stalled client can hold the shutdown up: stop anyway
            log.debug("server cleanup did not finish: %r", exc)
        try:
            self._call(_cancel_pending(), timeout=5)
        except Exception as exc:
            log.debug("could not cancel the server's tasks: %r", exc)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """The loop's errors (``socket.accept() out of system resource``...) through the
    throttled log, not asyncio's, which logs every one with its traceback."""
    exc = context.get("exception")
    message = str(context.get("message", "error"))
    log.error(
        "server loop: %s",
        message,
        extra={"kind": message[:30]},
        exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
    )


async def _cancel_pending() -> None:
    """Cancel what the server left running (handlers of clients that never said goodbye), so
    the loop closes without 'Task was destroyed but it is pending' noise."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
