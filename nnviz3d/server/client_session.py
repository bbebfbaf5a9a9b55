"""One connected browser: an outbox that keeps the newest message per key.

A slow or stalled client never makes the server (or training) wait and never grows memory:
each kind of update has a key, and a newer update replaces the one still waiting to be sent.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger("nnviz3d.server")


class ClientSession:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.following = True
        """Live mode: receives each new probe frame; False after a seek."""
        self.detail: str | None = None
        """Module whose ridges and scatter this client shows (rebuilt as frames arrive)."""
        self.detail_version = -1
        self.detail_time = 0.0
        self.pending: dict[str, list[str | bytes]] = {}
        self.replaced = 0
        """Updates dropped because a newer one with the same key arrived first."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._send_loop())

    def post(self, key: str, *parts: str | bytes) -> None:
        if key in self.pending:
            self.replaced += 1
        self.pending[key] = list(parts)
        self._wake.set()

    async def _send_loop(self) -> None:
        try:
            while not self.ws.closed:
                await self._wake.wait()
                self._wake.clear()
                while self.pending and not self.ws.closed:
                    key = next(iter(self.pending))
                    parts = self.pending.pop(key)
                    for part in parts:
                        if isinstance(part, str):
                            await self.ws.send_str(part)
                        else:
                            await self.ws.send_bytes(part)
        except (ConnectionError, RuntimeError) as exc:  # the browser went away
            log.debug("client send loop ended: %s", exc)

    def close(self) -> None:
        self._task.cancel()
