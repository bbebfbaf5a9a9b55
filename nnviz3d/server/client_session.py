"""One connected browser: an outbox that keeps the newest message per key.

A slow or stalled client never makes the server (or training) wait and never grows memory:
each kind of update has a key, and a newer update replaces the one still waiting to be sent.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

log = logging.getLogger("nnviz3d.server")
RATE = 40.0
"""Messages per second a client may send on average (a person clicking and scrubbing sends a
few; the timeline's scrub sends at most ~20)."""
BURST = 80
"""Messages a client may send at once before the rate applies."""


class ClientSession:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.following = True
        """Live mode: receives each new probe frame; False after a seek."""
        self.step: int | None = None
        """The step this client shows after a seek (None: the newest); a replay answers
        model requests with what was recorded at or before it."""
        self.detail: str | None = None
        """Module whose ridges and scatter this client shows (rebuilt as frames arrive)."""
        self.detail_version = -1
        self.detail_time = 0.0
        self.pending: dict[str, list[str | bytes]] = {}
        self.replaced = 0
        """Updates dropped because a newer one with the same key arrived first."""
        self.tokens = float(BURST)
        self._refilled = asyncio.get_running_loop().time()
        self.refused = 0
        """Messages dropped for arriving faster than :data:`RATE`."""
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._send_loop())

    def allow(self) -> bool:
        """Token bucket: True if this client may send one more message now."""
        now = asyncio.get_running_loop().time()
        self.tokens = min(BURST, self.tokens + (now - self._refilled) * RATE)
        self._refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False

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
