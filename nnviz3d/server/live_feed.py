"""Training data for the viewer: the newest probe frames, the loss history, the timeline.

Lives on the server's event loop; the watcher's worker thread hands frames in with
``loop.call_soon_threadsafe(feed.publish, ...)``. Seeks read older frames from the recording.
"""

from __future__ import annotations

import asyncio

from ..protocol import Timeline
from ..protocol.probe_frame import encode_scalars
from ..protocol.validate import to_json
from .client_session import ClientSession

FLUSH_SECONDS = 0.25


class LiveFeed:
    def __init__(self, reader_factory=None, live: bool = False) -> None:
        self.reader_factory = reader_factory
        """Callable returning a RunReader of the recording (for seeks), or None."""
        self.live = live
        self.latest: dict[str, tuple[int, bytes]] = {}
        """Newest frame per kinds key (``weight,grad``, ``act``, ``""``)."""
        self.scalar_rows: list[tuple[int, str, dict]] = []
        self.first_step = -1
        self.last_step = -1
        self.frames = 0
        self.sessions: set[ClientSession] = set()
        self._dirty = False
        self._reader = None

    # -- fed by the watcher or by a recording ------------------------------------------
    def publish(self, data: bytes, step: int, kinds: list[str], split: str,
                scalars: dict) -> None:
        key = ",".join(kinds)
        self.latest[key] = (step, data)
        if scalars:
            self.scalar_rows.append((step, split, scalars))
        if self.first_step < 0:
            self.first_step = step
        self.last_step = max(self.last_step, step)
        self.frames += 1
        self._dirty = True
        for s in self.sessions:
            if s.following:
                s.post(f"probe:{key}", data)

    def finish(self) -> None:
        self.live = False
        self._dirty = True

    # -- per client -----------------------------------------------------------------------
    def timeline(self) -> str:
        return to_json(Timeline(self.first_step, self.last_step, self.frames, self.live))

    def scalars_frame(self) -> bytes | None:
        return encode_scalars(self.scalar_rows) if self.scalar_rows else None

    def join(self, session: ClientSession) -> None:
        self.sessions.add(session)
        session.post("timeline", self.timeline())
        frame = self.scalars_frame()
        if frame:
            session.post("scalars", frame)
        self._post_latest(session)

    def leave(self, session: ClientSession) -> None:
        self.sessions.discard(session)

    def follow(self, session: ClientSession) -> None:
        session.following = True
        self._post_latest(session)

    async def seek(self, session: ClientSession, step: int) -> None:
        session.following = False
        frames = await asyncio.get_running_loop().run_in_executor(None, self._frames_at, step)
        session.post("seek", *frames)

    def _frames_at(self, step: int) -> list[bytes]:
        if self.reader_factory is not None:
            if self._reader is None:
                self._reader = self.reader_factory()
            return self._reader.at_step(step)
        return [d for s, d in sorted(self.latest.values(), key=lambda t: t[0]) if s <= step]

    def _post_latest(self, session: ClientSession) -> None:
        for key, (_, data) in sorted(self.latest.items(), key=lambda kv: kv[1][0]):
            session.post(f"probe:{key}", data)

    async def flush_forever(self) -> None:
        """Send timeline and loss history to every client a few times per second."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if not self._dirty:
                continue
            self._dirty = False
            text = self.timeline()
            frame = self.scalars_frame()
            for s in self.sessions:
                s.post("timeline", text)
                if frame:
                    s.post("scalars", frame)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
