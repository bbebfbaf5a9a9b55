"""Training data for the viewer: the newest probe frames, the loss history, the timeline.

Lives on the server's event loop; the watcher's worker thread hands frames in with
``loop.call_soon_threadsafe(feed.publish, ...)``. Seeks read older frames from the recording,
and each layer's embedding at or before the step sought (so clouds follow the timeline).
"""

from __future__ import annotations

import asyncio
import bisect
import threading

from ..protocol import ErrorMessage, InputsInfo, Progress, RecipeInfo, Timeline
from ..protocol.codec import decode_frame
from ..protocol.overlay_frame import encode_overlays
from ..protocol.probe_frame import decode_probe
from ..protocol.validate import to_json
from ..record.run_file import EMBEDDING, RunFileError
from ..scene.weight_map import weight_overlays
from .client_session import ClientSession
from .probe_history import ProbeHistory, ScalarHistory
from .step_marks import StepMarks

FLUSH_SECONDS = 0.25
DETAIL_SECONDS = 1.0
"""Ridges of a selected layer are rebuilt at most this often while a run goes on."""
EMBEDDING_HISTORY = 64
"""Embeddings kept per layer for seeks in a run that is not recorded (thinned evenly when
full: every other one goes, so they still span the run)."""


class LiveFeed:
    def __init__(self, reader_factory=None, live: bool = False) -> None:
        self.reader_factory = reader_factory
        """Callable returning a RunReader of the recording (for seeks), or None."""
        self.live = live
        self.latest: dict[str, tuple[int, bytes]] = {}
        """Newest frame per kinds key (``weight,grad``, ``act``, ``""``)."""
        self.scalars = ScalarHistory()
        """Every metric reported (the loss chart's history)."""
        self.first_step = -1
        self.last_step = -1
        self.frames = 0
        self.marks = StepMarks()
        """Which steps hold which probe kinds (the timeline's ticks)."""
        self.sessions: set[ClientSession] = set()
        self.history = ProbeHistory()
        self.matrix_frame: tuple[int, bytes] | None = None
        """Newest probe frame that carried weight matrices (source of the weight overlays)."""
        self._weights: tuple[int, bytes] | None = None
        self.requests = None
        """ModelRequests (nnviz3d/live/model_requests.py) when probe inputs were given."""
        self.embeddings: dict[str, bytes] = {}
        """Newest embedding frame per layer."""
        self._embedding_keys: dict[str, tuple] = {}
        """Identity of each layer's newest embedding (``("live", step, method)``)."""
        self._embedding_history: dict[str, list[tuple[int, tuple, bytes]]] = {}
        """Unrecorded runs: ``(step, key, frame)`` per layer, for seeks."""
        self._embedding_index: dict[str, list[tuple[int, int]]] = {}
        """Recorded runs: ``(step, seq)`` of each layer's embeddings in the recording."""
        self._indexed_seq = -(2**63)
        self._index_lock = threading.Lock()
        self._shown: dict[ClientSession, dict[str, tuple]] = {}
        """The embedding each client was last sent per layer (nothing is sent twice)."""
        self.recipe: dict | None = None
        """View settings and bookmarks of a scene recipe, sent to every client on join."""
        self.track = None
        """``track(module, unit) -> metric name`` of a live run's probes, or None."""
        self._dirty = False
        self._reader = None
        self._scalars_sent: dict[ClientSession, tuple[int, int | None, int]] = {}
        """Per client, ``(epoch, start, end)`` of the metrics history it was posted: the
        rows ``start:end`` of that epoch's history (start None: the whole history). A push
        sends only the rows after ``end`` (or, while the last one still waits in the
        client's outbox, the same rows and the new ones together)."""

    # -- fed by the watcher or by a recording ------------------------------------------
    def ingest(self, data: bytes, step: int, kinds: list[str]) -> None:
        """Take one probe frame in (live or from a recording), without sending it."""
        if kinds == [EMBEDDING]:
            self._keep_embedding(data, step=step)  # the row's step (checked), not the header's
            return
        key = ",".join(kinds)
        self.latest[key] = (step, data)
        self.frames += 1
        self.first_step = step if self.first_step < 0 else min(self.first_step, step)
        self.last_step = max(self.last_step, step)
        self.marks.add(step, kinds)
        if kinds:
            header = self.history.add(data)
            if header.get("matrices"):
                self.matrix_frame = (step, data)

    def publish(self, data: bytes, step: int, kinds: list[str], split: str, scalars: dict) -> None:
        if kinds == [EMBEDDING]:
            header, _ = decode_frame(data)
            self.publish_embedding(header.get("layer", ""), data)
            return
        self.ingest(data, step, kinds)
        key = ",".join(kinds)
        if scalars:
            self.scalars.append(step, split, scalars)
        self._dirty = True
        followers = [s for s in self.sessions if s.following]
        for s in followers:
            s.post(f"probe:{key}", data)
        if followers and self.matrix_frame and self.matrix_frame[0] == step:
            asyncio.get_running_loop().create_task(self._post_weights(followers, step))

    def publish_embedding(self, layer: str, data: bytes) -> None:
        """A new embedding: kept, and sent to the clients following the run (one that
        sought an earlier step keeps the cloud of that step)."""
        layer, key = self._keep_embedding(data, layer)
        if key is None:
            return
        for s in self.sessions:
            if s.following:
                self._post_embedding(s, layer, key, data)

    def _keep_embedding(self, data: bytes, layer: str | None = None, step: int | None = None):
        """Take an embedding frame in: the newest per layer (by step; an older one that
        arrives late is kept for seeks only). ``(layer, key)``, key None when not newest."""
        header, _ = decode_frame(data)
        layer = header.get("layer", "") if layer is None else layer
        step = int(header.get("step", 0)) if step is None else step
        key = ("live", step, str(header.get("method", "")))
        if self.reader_factory is None:
            history = self._embedding_history.setdefault(layer, [])
            if len(history) >= EMBEDDING_HISTORY:
                del history[1::2]
            bisect.insort(history, (step, key, data), key=lambda t: t[0])
        newest = self._embedding_keys.get(layer)
        if newest is not None and newest[1] > step:
            return layer, None
        self.embeddings[layer] = data
        self._embedding_keys[layer] = key
        return layer, key

    def _post_embedding(self, session: ClientSession, layer: str, key: tuple, data: bytes) -> None:
        shown = self._shown.setdefault(session, {})
        if shown.get(layer) != key:
            shown[layer] = key
            session.post(f"overlays:embedding:{layer}", data)

    def _post_newest_embeddings(self, session: ClientSession) -> None:
        for layer, data in self.embeddings.items():
            self._post_embedding(session, layer, self._embedding_keys[layer], data)

    def _embeddings_at(self, step: int, shown: dict[str, tuple]) -> list[tuple]:
        """``(layer, key, frame)`` of each layer's embedding at or before ``step`` that
        differs from ``shown`` (run on an executor thread: it reads the recording)."""
        out = []
        with self._index_lock:
            if self.reader_factory is None:
                for layer, history in self._embedding_history.items():
                    i = bisect.bisect_right(history, step, key=lambda t: t[0]) - 1
                    if i >= 0 and history[i][1] != shown.get(layer):
                        out.append((layer, history[i][1], history[i][2]))
                return out
            if self._reader is None:
                self._reader = self.reader_factory()
            for seq, at, layer in self._reader.embedding_index(self._indexed_seq):
                bisect.insort(self._embedding_index.setdefault(layer, []), (at, seq))
                self._indexed_seq = seq
            for layer, rows in self._embedding_index.items():
                i = bisect.bisect_right(rows, (step, float("inf"))) - 1
                if i >= 0 and ("run", rows[i][1]) != shown.get(layer):
                    out.append((layer, ("run", rows[i][1]), self._reader.embedding(rows[i][1])))
        return out

    def embedding_news(self, kind: str, payload) -> None:
        """Progress and errors of the embedding process, for every client."""
        if kind == "progress":
            text = to_json(Progress(f"embed:{payload['stage']}", 0, 1))
        elif kind == "result":
            text = to_json(Progress(f"embed:{payload['stage']}", 1, 1))
        elif kind == "error":
            text = to_json(
                ErrorMessage(
                    "embedding_failed",
                    f"embedding {payload.get('layer') or ''} failed: {payload['message']}",
                )
            )
        else:
            return
        for s in self.sessions:
            s.post(f"embed:{kind}", text)

    def finish(self) -> None:
        self.live = False
        self._dirty = True

    # -- per client -----------------------------------------------------------------------
    def timeline(self) -> str:
        return to_json(
            Timeline(self.first_step, self.last_step, self.frames, self.live, self.marks.message())
        )

    def scalars_frame(self) -> bytes | None:
        return self.scalars.frame()

    def join(self, session: ClientSession) -> None:
        self.sessions.add(session)
        if self.recipe is not None:
            session.post("recipe", to_json(RecipeInfo(self.recipe)))
        session.post("timeline", self.timeline())
        self._post_scalars(session)
        self._post_latest(session)
        if self.matrix_frame:
            asyncio.get_running_loop().create_task(
                self._post_weights([session], self.matrix_frame[0])
            )
        self._post_newest_embeddings(session)
        if self.requests is not None:
            r = self.requests
            replay = getattr(r, "replay", False)  # RecordedRequests: answers from the recording
            session.post(
                "inputs",
                to_json(
                    InputsInfo(
                        r.count,
                        r.labels,
                        not r.idle,
                        r.has_landscape if replay else r.can_landscape,
                        replay=r.describe() if replay else "",
                        recorded=r.inputs if replay else [],
                        features=[list(f) for f in r.features] if replay else [],
                    )
                ),
            )

    def request(self, session: ClientSession, kind: str, args: tuple) -> None:
        """Ask the model for ``kind`` (inspect, feature, landscape); the answer (or an error
        reply) is posted to ``session`` when the work is done, progress while it runs."""
        loop = asyncio.get_running_loop()

        def reply(data: bytes | None, error: str | None) -> None:
            if data is not None:
                loop.call_soon_threadsafe(session.post, f"overlays:{kind}", data)
            else:
                loop.call_soon_threadsafe(
                    session.post,
                    "error",
                    to_json(ErrorMessage(f"{kind}_failed", error or f"{kind} failed")),
                )

        shown = [0.0]

        def progress(done: int, total: int, *_) -> None:
            now = loop.time()
            if done == total or now - shown[0] >= 0.2:  # a few updates per second at most
                shown[0] = now
                loop.call_soon_threadsafe(
                    session.post, f"progress:{kind}", to_json(Progress(kind, done, total))
                )

        if getattr(self.requests, "replay", False):  # answered from the recording
            self.requests.request(kind, args, reply, progress, step=session.step)
        else:
            self.requests.request(kind, args, reply, progress)

    def leave(self, session: ClientSession) -> None:
        self.sessions.discard(session)
        self._shown.pop(session, None)
        self._scalars_sent.pop(session, None)

    def follow(self, session: ClientSession) -> None:
        session.following = True
        session.step = None
        self._post_latest(session)
        self._post_newest_embeddings(session)
        if self.matrix_frame:
            asyncio.get_running_loop().create_task(
                self._post_weights([session], self.matrix_frame[0])
            )

    async def seek(self, session: ClientSession, step: int) -> None:
        session.following = False
        session.step = step
        loop = asyncio.get_running_loop()
        try:
            frames = await loop.run_in_executor(None, self._frames_at, step)
        except RunFileError as exc:  # the recording is damaged past what replay read
            session.post("error", to_json(ErrorMessage("seek_failed", str(exc))))
            return
        session.post("seek", *frames)
        try:
            clouds = await loop.run_in_executor(
                None, self._embeddings_at, step, dict(self._shown.get(session, {}))
            )
        except RunFileError as exc:
            session.post("error", to_json(ErrorMessage("seek_failed", str(exc))))
            clouds = []
        if not session.following:  # not back in live mode meanwhile
            for layer, key, data in clouds:
                self._post_embedding(session, layer, key, data)
        source = None
        for data in frames:  # in recording order: the last one with matrices is the newest
            header, _ = decode_probe(data)
            if header.get("matrices"):
                source = (header["step"], data)
        if source is not None:
            built = await loop.run_in_executor(None, self._weights_frame, *source)
            session.post("overlays:weights", built)
        elif self.matrix_frame is not None:  # none yet at that step: the maps shown go away
            session.post("overlays:weights", encode_overlays("weights", step, [], compact=True))

    # -- overlays -------------------------------------------------------------------------
    def _weights_frame(self, step: int, data: bytes) -> bytes:
        """The weight/bias overlays of one probe frame, built once per step."""
        cached = self._weights
        if cached is not None and cached[0] == step:
            return cached[1]
        header, arrays = decode_probe(data)
        built = encode_overlays("weights", step, weight_overlays(header, arrays), compact=True)
        self._weights = (step, built)
        return built

    async def _post_weights(self, sessions: list[ClientSession], step: int) -> None:
        source = self.matrix_frame
        if source is None or source[0] != step:
            return  # a newer frame superseded this one; its own task sends it
        built = await asyncio.get_running_loop().run_in_executor(None, self._weights_frame, *source)
        for s in sessions:
            if s.following and s in self.sessions:
                s.post("overlays:weights", built)

    async def detail(self, session: ClientSession, module: str | None) -> None:
        """Ridges and PCA scatter of ``module`` for this client (None: stop sending)."""
        session.detail = module
        if module is None:
            return
        series = self.history.snapshot(module)
        version = self.history.version
        built = await asyncio.get_running_loop().run_in_executor(
            None, self.history.build_detail, module, series, self.last_step
        )
        if session.detail == module:
            session.detail_version = version
            session.detail_time = asyncio.get_running_loop().time()
            session.post("overlays:detail", built)

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
        """Send timeline and loss history to every client a few times per second (and the
        selected layer's ridges once a second while they change)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            for s in self.flush(loop.time()):
                await self.detail(s, s.detail)

    def flush(self, now: float) -> list[ClientSession]:
        """One tick: the timeline to every client and the metrics rows new since its last
        push (the whole history only on join, after a compaction or a new metric name), so a
        tick costs the same at step ten as at step ten million. Nothing is encoded while no
        client is connected (one that joins gets it all). Returns the sessions whose detail
        overlays are due."""
        if not self._dirty or not self.sessions:
            return []
        self._dirty = False
        text = self.timeline()
        due = []
        for s in list(self.sessions):
            s.post("timeline", text)
            self._post_scalars(s)
            if (
                s.detail is not None
                and s.detail_version != self.history.version
                and now - s.detail_time >= DETAIL_SECONDS
            ):
                due.append(s)
        return due

    def _post_scalars(self, session: ClientSession) -> None:
        """Post ``session`` the metrics rows it lacks: those after the ones it was posted,
        or the whole history when its copy is of an older epoch (or it has none)."""
        history = self.scalars
        epoch, start, end = self._scalars_sent.get(session, (-1, None, 0))
        if epoch == history.epoch and end == history.count:
            return  # nothing new
        if epoch == history.epoch and "scalars" not in getattr(session, "pending", ()):
            start = end  # the last push went out: send what came after it
        if epoch != history.epoch or start is None:
            start = 0
        frame = history.frame(start)
        if frame is None:
            return
        session.post("scalars", frame)
        self._scalars_sent[session] = (history.epoch, start or None, history.count)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
