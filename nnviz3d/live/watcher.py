"""``nnviz3d.watch``: probes on a training loop, streamed live, recorded, and never in the way.

    with nnviz3d.watch(model, example_inputs=x) as w:
        for batch in data:
            ...
            optimizer.step()
            w.step(loss=loss.item(), accuracy=acc)

Each ``step()`` measures the time since the previous one, runs the probe kinds that are due
(weights and gradients now, activations from the forward pass just run when armed), and hands
the small result tensors to a background thread. Any error inside nnviz3d is reported once and
the training goes on (``strict=True`` raises instead, for tests).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from pathlib import Path

from .metrics import MetricFilter
from .schedule import KINDS, MAX_INTERVAL, MAX_SECONDS, ProbeSchedule
from .worker import FrameWorker

log = logging.getLogger("nnviz3d")
DEFAULT_NAME_TRIES = 1000


class Watcher:
    def __init__(self, model, example_inputs=None, *, budget: float = 0.05,
                 every: int | None = None, max_interval: int = MAX_INTERVAL,
                 max_seconds: float | None = MAX_SECONDS, record: str | Path | bool | None = True,
                 serve: bool = True, host: str = "127.0.0.1", port: int | None = None,
                 open_browser: bool = True, depth: int | None = None, strict: bool = False,
                 graph=None, quiet: bool = False, health=True, inputs=None,
                 labels=None, loss_fn=None, embed=None, embed_every: int = 25,
                 embed_method: str = "umap", token: str | None = None, tls=None,
                 allow_hosts=None, record_journal: str = "auto", group=None) -> None:
        from ..capture import capture_graph
        from ..capture.grad_norms import GradNorms
        from ..capture.probes import Probes
        from .distributed import DEFAULT_EVERY, capture_sharded, is_fsdp1, unwrap, world

        flat_shards = is_fsdp1(model)
        wrapper, model = model, unwrap(model)
        if graph is None:
            graph = capture_sharded(wrapper, model, example_inputs)
        self.rank, self.world_size = world()
        if self.world_size > 1:
            # every rank must probe the same steps (gathers are collective): a fixed interval,
            # and only rank 0 records, serves and answers the viewer
            every = every or DEFAULT_EVERY
            if self.rank != 0:
                serve, record, inputs, embed = False, None, None, None
        self.model = model
        self.strict = strict
        self.quiet = quiet
        self.schedule = ProbeSchedule(budget, every, max_interval=max_interval,
                                      max_seconds=max_seconds)
        self.graph = graph if graph is not None else capture_graph(model, example_inputs)
        self.step_index = -1
        self._last_end: float | None = None
        self._worker_busy = 0.0
        self._failures = 0
        self._closed = False
        self.metrics = MetricFilter()
        self.handle = self.worker = self.embeddings = self.requests = self.health = None
        self.record_path = None
        self.probes = Probes(model, self.graph)
        self.probes.matrices_off = flat_shards
        self.group = group
        """Where probes are gathered under torch.distributed (None: every rank)."""
        self.grad_norms = GradNorms(self.probes.param_modules, self.probes.params)
        self.coverage = {k: {"probes": 0, "last": None, "max_gap": 0} for k in KINDS}
        self.record_journal = record_journal
        """``auto``, ``wal`` or ``rollback``: the recording's SQLite journal (record/journal.py)."""
        try:  # from here on, a failure undoes what was started (see _abandon)
            self._start(record, serve, host, port, open_browser, depth, token, tls, health,
                        inputs, labels, loss_fn, embed, embed_every, embed_method, allow_hosts)
        except BaseException:
            self._abandon()
            raise

    def _start(self, record, serve, host, port, open_browser, depth, token, tls, health,
               inputs, labels, loss_fn, embed, embed_every, embed_method, allow_hosts) -> None:
        self.record_path, self._recorder = self._open_recording(record)
        publish = None
        if serve:
            from ..record import RunReader
            from ..server import LiveFeed
            from ..viewer import view

            path = self.record_path
            self.feed = LiveFeed(reader_factory=(lambda: RunReader(path)) if path else None,
                                 live=True)
            self.handle = view(graph=self.graph, depth=depth, host=host, port=port,
                               open_browser=open_browser, quiet=self.quiet, feed=self.feed,
                               token=token, tls=tls, allow_hosts=allow_hosts)
            loop = self.handle.server.loop
            publish = lambda *a: loop.call_soon_threadsafe(self.feed.publish, *a)  # noqa: E731
            self.feed.track = self.probes.track
        from .health import HealthMonitor, HealthThresholds

        if health:
            self.health = HealthMonitor(health if isinstance(health, HealthThresholds) else None)
        self.worker = FrameWorker(self._recorder, publish, self.health)
        if inputs is not None:
            from ..graph import ROLE_INPUT
            from .model_requests import ModelRequests

            first_input = next((n.path for n in self.graph.nodes if n.role == ROLE_INPUT),
                               "input:x")
            self.requests = ModelRequests(self.model, inputs, labels, self.probes.act_modules,
                                          first_input, loss_fn)
            self.requests.record = getattr(self._recorder, "append_request", None)  # replays
            if serve:
                self.feed.requests = self.requests
        if embed:
            if inputs is None:
                raise ValueError("embed= needs the probe set: pass inputs= (and labels=) too")
            self.embeddings = self._start_embeddings(self.model, inputs, labels, embed,
                                                     embed_every, embed_method, serve)
        self.probes.armed = self.schedule.due(0, "act")

    def _abandon(self) -> None:
        """watch() failed half-way (a name in use, a port taken, a bad ``embed=``): undo what
        it started (hooks, server, worker, the new recording file) before the caller gets the
        error; a failure here would only hide that error."""
        self._closed = True
        recorder = getattr(self, "_recorder", None)
        if self.worker is not None:
            self.worker.recorder = None  # discarded below, not flushed
        parts = [self.probes.close, getattr(self.handle, "close", None),
                 getattr(self.worker, "close", None), getattr(recorder, "discard", None)]
        for part in parts:
            try:
                if part is not None:
                    part()
            except Exception:  # noqa: BLE001, S110 - the caller gets the first error
                pass

    def _start_embeddings(self, model, inputs, labels, embed, every, method, serve):
        from ..embed.methods import METHODS
        from ..embed.service import EmbeddingService
        from ..record.run_file import EMBEDDING

        layers = [embed] if isinstance(embed, str) else list(embed)
        modules = dict(model.named_modules())
        unknown = [p for p in layers if p not in modules]
        if unknown:
            raise ValueError(f"embed= names no module of the model: {unknown}; use dotted "
                             f"paths as `nnviz3d inspect` prints them")
        if method not in METHODS:
            raise ValueError(f"embed_method must be one of {METHODS}, got {method!r}")
        notify = None
        if serve:
            loop = self.handle.server.loop
            notify = lambda *a: loop.call_soon_threadsafe(self.feed.embedding_news, *a)  # noqa: E731

        self._embeddings_recorded = True
        """Embeddings go through the frame worker (recorded, then sent live) until
        _close_embeddings has waited for the final ones; later ones reach the viewer only."""

        def publish(layer: str, data: bytes, step: int) -> None:
            if self._embeddings_recorded:
                self.worker.submit({"frame": data, "frame_kinds": [EMBEDDING], "step": step,
                                    "split": "train", "scalars": {}})
            elif serve:  # the run is over (its recording closed): to the viewer only
                self.handle.server.loop.call_soon_threadsafe(self.feed.publish_embedding,
                                                             layer, data)

        service = EmbeddingService(model, inputs, labels, layers, every=every, method=method,
                                   publish=publish, notify=notify, quiet=self.quiet)
        import atexit
        import weakref

        ref = weakref.ref(self)

        def close_at_exit() -> None:  # a script that never closes still records its end
            watcher = ref()
            if watcher is not None and not watcher._closed:
                watcher.close()

        self._embeddings_at_exit = close_at_exit
        atexit.register(close_at_exit)
        return service

    def add_listener(self, fn) -> None:
        """Call ``fn(header, arrays)`` with every probe frame (decoded, on the frame thread,
        never the training thread): how the Jupyter widget follows a run."""
        self.worker.listeners.append(fn)

    @property
    def url(self) -> str | None:
        return self.handle.url if self.handle else None

    def _open_recording(self, record):
        """``(path, RunWriter)``, or ``(None, None)`` when not recording. ``record=True`` (or
        an existing directory) names the run ``MODEL-TIME.nnv3d`` there, with ``-2``, ``-3``...
        when another run took that name in the same second; an explicit name that exists is
        an error. A recording that cannot be created (read-only directory, no space) is
        said once and the run goes on unrecorded (``strict`` raises)."""
        if record is False or record is None:
            return None, None
        from ..record import RunWriter

        default = record is True or Path(record).is_dir()
        for path in self._record_paths(record):
            try:
                return path, RunWriter(path, self.graph, self.record_journal)
            except FileExistsError:
                if not default:
                    raise
            except (OSError, sqlite3.Error) as exc:
                if self.strict:
                    raise
                log.warning("nnviz3d: cannot record to %s (%s); training goes on without "
                            "a recording", path, exc)
                return None, None
        raise FileExistsError(f"no free run name like {path} after {DEFAULT_NAME_TRIES} tries")

    def _record_paths(self, record):
        """The name to record to, then (for default names) the ones to try after it."""
        if record is True or Path(record).is_dir():
            folder = Path("runs") if record is True else Path(record)
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.graph.model)
            base = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
            yield folder / f"{base}.nnv3d"
            for k in range(2, DEFAULT_NAME_TRIES + 1):
                yield folder / f"{base}-{k}.nnv3d"
            return
        path = Path(record)
        if path.suffix != ".nnv3d":
            path = path.with_suffix(path.suffix + ".nnv3d") if path.suffix else \
                path.with_suffix(".nnv3d")
        yield path

    # -- the training loop's calls --------------------------------------------------------
    def step(self, loss: float | None = None, **metrics) -> None:
        """Call once per optimisation step, after ``optimizer.step()``."""
        self._guard(self._step, loss, metrics, "train")

    def validation(self, loss: float | None = None, **metrics) -> None:
        """Report evaluation metrics at the current step (shown as the validation curve)."""
        self._guard(self._scalars_only, loss, metrics, "val")

    def _guard(self, fn, loss, metrics, split) -> None:
        if self._closed:
            raise RuntimeError("this nnviz3d watcher is closed")
        try:
            fn(loss, metrics, split)
        except Exception as exc:
            if self.strict:
                raise
            self._failures += 1
            if self._failures == 1:
                log.warning("nnviz3d: a probe failed (%s: %s); training goes on, nnviz3d keeps "
                            "trying", type(exc).__name__, exc)

    def _scalars(self, loss, metrics) -> dict[str, float]:
        """The step's metrics as floats; one that is not a number is left out alone (said
        once per name), never the step's probe frame with it."""
        out, refused = self.metrics(loss, metrics)
        for name, why in refused:
            if self.strict:
                raise TypeError(f"metric {name!r} is not recorded: {why}")
            log.warning("nnviz3d: metric %r is not recorded: %s; the step's other metrics and "
                        "probes are", name, why)
        return out

    def _scalars_only(self, loss, metrics, split) -> None:
        self.worker.submit({"step": max(self.step_index, 0), "split": split, "time": time.time(),
                            "scalars": self._scalars(loss, metrics), "kinds": {}})

    def _step(self, loss, metrics, split) -> None:
        start = time.perf_counter()
        if self._last_end is not None:
            # time between the end of the last probe pass and now: the training step alone
            self.schedule.observe_step(max(start - self._last_end, 1e-9))
            busy = self.worker.busy
            self.schedule.observe_background(busy - self._worker_busy)
            self._worker_busy = busy
        self.step_index += 1
        step = self.step_index
        kinds, matrices = {}, []
        for kind in KINDS:
            if kind == "act":
                if not self.probes.armed:
                    continue
            elif not self._due(step, kind):
                continue
            t0 = time.perf_counter()
            if kind == "matrices":
                res = matrices = self.probes.matrices()
            else:
                res = {"weight": self.probes.weights, "grad": self.probes.grads,
                       "act": self.probes.activations}[kind]()
                if res:
                    kinds[kind] = res
            self.schedule.observe_cost(kind, time.perf_counter() - t0)
            if res:
                self._covered(kind, step)
        norms = None
        if self.health is not None and self.rank == 0:  # every step: alarms on time
            t0 = time.perf_counter()
            norms = self.grad_norms.norms()
            self.schedule.observe_every_step(time.perf_counter() - t0)
        if self.world_size > 1:
            from .distributed import reduce_kinds

            kinds = reduce_kinds(kinds, self.rank, self.world_size, self.group)
        if kinds is not None:  # None on ranks other than 0: rank 0 shows the merged view
            item = {"step": step, "split": split, "time": time.time(),
                    "scalars": self._scalars(loss, metrics)}
            item.update(self.probes.to_host(kinds, matrices, norms))
            self.worker.submit(item)
        self.probes.armed = self._due(step + 1, "act")
        if self.embeddings is not None:
            self.embeddings.at_step(step)
        if self.requests is not None:  # what a viewer asked of the model: between two steps
            self.requests.step = step
            if matrices:
                self.requests.snapshot(step)
            self.requests.run_pending()
        self._last_end = time.perf_counter()

    def _due(self, step: int, kind: str) -> bool:
        if kind == "matrices" and self.schedule.every is not None:
            # a fixed interval sets the statistics' cadence; weight maps (the heaviest frames:
            # a recording grows by them) follow at 8x, as they always have
            return step % (self.schedule.every * 8) == 0
        return self.schedule.due(step, kind)

    def _covered(self, kind: str, step: int) -> None:
        c = self.coverage[kind]
        if c["last"] is not None:
            c["max_gap"] = max(c["max_gap"], step - c["last"])
        c["probes"] += 1
        c["last"] = step

    def _coverage(self) -> dict:
        """Per kind: probes taken, the last step probed, and the longest run of steps without
        a fresh one (up to the newest step too: a kind never refreshed since step 3 of 90 has
        a gap of 86)."""
        out = {}
        for kind, c in self.coverage.items():
            tail = self.step_index - (c["last"] if c["last"] is not None else -1)
            out[kind] = {**c, "max_gap": max(c["max_gap"], tail)}
        return out

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove every hook, flush the recording; the viewer keeps serving until the handle
        closes (``close_viewer()``), so a finished run can still be explored."""
        if self._closed:
            return
        self._closed = True
        # each part is closed even when another fails, and a failure is said, not raised
        # (strict: raised once all are closed): close() runs from __exit__, where it must
        # not hide the user's own exception
        first = None
        for what, part in (("probe the final state", self._final_probe_guarded),
                           ("remove the probes", self.probes.close),
                           ("compute the final embedding", self._close_embeddings),
                           ("flush the recording", self.worker.close),
                           ("answer the viewer's pending requests", self._close_requests),
                           ("tell the viewer the run ended", self._tell_finished)):
            try:
                part()
            except Exception as exc:
                first = first or exc
                log.warning("nnviz3d: could not %s at close (%s: %s)", what,
                            type(exc).__name__, exc)
        if first is not None and self.strict:
            raise first

    def _final_probe_guarded(self) -> None:
        try:
            self._final_probe()
        except Exception as exc:  # a probe failing here is one more probe failure: said once
            if self.strict:
                raise
            self._failures += 1
            if self._failures == 1:
                log.warning("nnviz3d: a probe failed at close (%s: %s); the recording ends "
                            "at the last step's probes", type(exc).__name__, exc)

    def _final_probe(self) -> None:
        """The last step's weights, gradients and weight maps, for the kinds the schedule did
        not take there: a finished run shows (and replays) its final state, never weights
        from 200 steps before the end. Not under torch.distributed (a collective at close
        could hang ranks that already left)."""
        step = self.step_index
        if step < 0 or self.world_size > 1 or self.worker is None:
            return
        kinds, matrices = {}, []
        for kind in ("weight", "grad", "matrices"):
            if self.coverage[kind]["last"] == step:
                continue
            if kind == "matrices":
                matrices = self.probes.matrices()
            else:
                res = self.probes.weights() if kind == "weight" else self.probes.grads()
                if res:
                    kinds[kind] = res
            if kind in kinds or (kind == "matrices" and matrices):
                self._covered(kind, step)
        if kinds or matrices:
            item = {"step": step, "split": "train", "time": time.time(), "scalars": {}}
            item.update(self.probes.to_host(kinds, matrices))
            self.worker.submit(item)

    def _close_embeddings(self) -> None:
        """Embed the final step and wait (``embeddings.final_wait`` seconds at most) for it
        and any pending answer, recorded: before the recording is flushed and closed."""
        if self.embeddings is None:
            return
        import atexit

        atexit.unregister(self._embeddings_at_exit)
        try:
            self.embeddings.finish(self.step_index)
        finally:
            self._embeddings_recorded = False
            if self.handle is None:
                self.embeddings.close()  # nobody to show later ones to

    def _close_requests(self) -> None:
        if self.requests is not None:  # training is over: requests run at once from now
            self.requests.idle = True
            self.requests.run_pending()

    def _tell_finished(self) -> None:
        if self.handle is not None and not self.handle.server.loop.is_closed():
            self.handle.server.loop.call_soon_threadsafe(self.feed.finish)

    def close_viewer(self) -> None:
        if self.embeddings is not None:
            self.embeddings.close()
        if self.handle is not None:
            self.handle.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def stats(self) -> dict:
        return {"steps": self.step_index + 1, "frames": self.worker.written,
                "dropped": self.worker.dropped, "failures": self._failures,
                "intervals": dict(self.schedule.interval),
                "schedule": self.schedule.describe(),
                "coverage": self._coverage(),
                "overhead_estimate": self.schedule.overhead()}


def watch(model, example_inputs=None, **kwargs) -> Watcher:
    """Start watching ``model`` train; see :class:`Watcher` for the options."""
    return Watcher(model, example_inputs, **kwargs)
