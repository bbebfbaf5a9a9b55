"""Run the aiohttp app on a background thread with its own event loop (non-blocking)."""

from __future__ import annotations

import asyncio
import errno
import logging
import threading

from aiohttp import web

DEFAULT_PORT = 8765
log = logging.getLogger("nnviz3d.server")


class ServerThread:
    """Starts at construction; ``url`` says where; ``close()`` stops it and joins the thread."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1",
                 port: int | None = None, *, ssl_context=None, token: str | None = None) -> None:
        self.app = app
        self.host = host
        self.ssl_context = ssl_context
        self.token = token
        """The access token in the printed URL (nnviz3d/server/access.py), or None."""
        self.requested_port = DEFAULT_PORT if port is None else port
        self.note: str | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="nnviz3d-server",
                                        daemon=True)
        self._thread.start()
        self._runner = web.AppRunner(app, access_log=None)
        self.port = self._call(self._start())

    def _call(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> int:
        await self._runner.setup()
        try:
            site = web.TCPSite(self._runner, self.host, self.requested_port,
                               ssl_context=self.ssl_context)
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE and self.requested_port != 0:
                raise
            site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
            await site.start()
            self.note = f"port {self.requested_port} is in use"
        return site._server.sockets[0].getsockname()[1]

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


async def _cancel_pending() -> None:
    """Cancel what the server left running (handlers of clients that never said goodbye), so
    the loop closes without 'Task was destroyed but it is pending' noise."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
