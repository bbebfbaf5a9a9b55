"""``nnviz3d.watch``: probes on a training loop, streamed live, recorded, and never in the way.

    with nnviz3d.watch(model, example_inputs=x) as w:
        for batch in data:
            ...
            optimizer.step()
            w.step(loss=loss.item(), accuracy=acc)     # or w.step(loss, step=global_step)

Each ``step()`` measures the time since the previous one, runs the probe kinds that are due
(weights and gradients now, activations from the forward pass just run when armed), and hands
the small result tensors to a background thread. ``step=`` takes the loop's own global step
(gaps are fine, a repeated step merges its metrics, an earlier one is refused: see
nnviz3d/live/step_clock.py); ``w.log({"val/acc": 0.9})`` reports metrics without a training
step. Any error inside nnviz3d is reported once and the training goes on (``strict=True``
raises instead, for tests).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..protocol.probe_frame import SPLITS
from .metrics import MetricFilter
from .recording import open_recording
from .schedule import KINDS, MAX_INTERVAL, MAX_SECONDS, ProbeSchedule, due_between
from .step_clock import EARLIER, NEW, SAME, StepClock
from .worker import FrameWorker

log = logging.getLogger("nnviz3d")


class Watcher:
    """A training run under observation: what :func:`watch` returns (see it for every option).

    On creation it captures the model's graph, puts probes (hooks) on its modules, opens the
    recording (``runs/MODEL-TIME.nnv3d``), starts the viewer's server and the background
    thread that encodes, records and streams each probe frame. Then, per optimisation step:

    - ``step(loss=None, *, step=None, **metrics)``: after ``optimizer.step()``; takes the
      probes that are due (weights, gradients, activations of the forward pass just run,
      weight maps) within the overhead budget, and the metrics as the training curves;
      ``step=`` is your global step (gaps are fine; the same step again merges metrics; an
      earlier one is ignored with one warning);
    - ``log(metrics, step=None, split="train")``: metrics of any name (``"val/acc"``) at the
      current step, without starting a training step (wandb's ``log``);
    - ``capture_gradients(step=None)``: between ``backward()`` and ``zero_grad()`` in loops
      that zero gradients before ``step()`` (the Hugging Face Trainer);
    - ``validation(loss=None, **metrics)``: evaluation metrics at the current step;
    - ``close()`` (or leaving the ``with`` block): probes the final state, removes every
      hook, waits for the final embeddings and flushes the recording; the viewer keeps
      serving the finished run until ``close_viewer()``;
    - ``stats()``: steps, frames written and dropped, probe intervals, coverage and the
      measured overhead; ``url``, ``record_path`` and ``handle`` (the
      :class:`~nnviz3d.viewer.ViewHandle`) say where the run is shown and recorded;
    - ``add_listener(fn)``: ``fn(header, arrays)`` with every probe frame (the notebook
      widget).

    An error inside nnviz3d is logged once and training goes on (``strict=True`` raises).
    """

    def __init__(
        self,
        model,
        example_inputs=None,
        *,
        budget: float = 0.05,
        every: int | None = None,
        max_interval: int = MAX_INTERVAL,
        max_seconds: float | None = MAX_SECONDS,
        record: str | Path | bool | None = True,
        serve: bool = True,
        host: str = "127.0.0.1",
        port: int | None = None,
        open_browser: bool = True,
        depth: int | None = None,
        strict: bool = False,
        graph=None,
        quiet: bool = False,
        health=True,
        inputs=None,
        labels=None,
        loss_fn=None,
        embed=None,
        embed_every: int = 25,
        embed_method: str = "umap",
        token: str | None = None,
        tls=None,
        allow_hosts=None,
        record_journal: str = "auto",
        group=None,
    ) -> None:
        from ..capture import capture_graph
        from ..capture.grad_norms import GradNorms
        from ..capture.probes import Probes
        from ..log import use_stderr
        from .distributed import DEFAULT_EVERY, capture_sharded, is_fsdp1, unwrap, world

        use_stderr(quiet)
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
        self.schedule = ProbeSchedule(
            budget, every, max_interval=max_interval, max_seconds=max_seconds
        )
        self.graph = graph if graph is not None else capture_graph(model, example_inputs)
        self.step_index = -1
        """The newest training step (the loop's own with ``step=``), -1 before the first."""
        self.clock = StepClock()
        self._early: dict | None = None
        """Gradients taken by ``capture_gradients`` for the step about to be reported."""
        self._act_missed = False
        self._step_warned: set[str] = set()
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
            self._start(
                record=record,
                serve=serve,
                host=host,
                port=port,
                open_browser=open_browser,
                depth=depth,
                token=token,
                tls=tls,
                health=health,
                inputs=inputs,
                labels=labels,
                loss_fn=loss_fn,
                embed=embed,
                embed_every=embed_every,
                embed_method=embed_method,
                allow_hosts=allow_hosts,
            )
        except BaseException:
            self._abandon()
            raise

    def _start(
        self,
        *,
        record,
        serve,
        host,
        port,
        open_browser,
        depth,
        token,
        tls,
        health,
        inputs,
        labels,
        loss_fn,
        embed,
        embed_every,
        embed_method,
        allow_hosts,
    ) -> None:
        self.record_path, self._recorder = open_recording(
            record, self.graph, self.record_journal, self.strict
        )
        publish = None
        if serve:
            from ..record import RunReader
            from ..server import LiveFeed
            from ..viewer import view

            path = self.record_path
            self.feed = LiveFeed(
                reader_factory=(lambda: RunReader(path)) if path else None, live=True
            )
            self.handle = view(
                graph=self.graph,
                depth=depth,
                host=host,
                port=port,
                open_browser=open_browser,
                quiet=self.quiet,
                feed=self.feed,
                token=token,
                tls=tls,
                allow_hosts=allow_hosts,
            )
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

            first_input = next(
                (n.path for n in self.graph.nodes if n.role == ROLE_INPUT), "input:x"
            )
            self.requests = ModelRequests(
                self.model, inputs, labels, self.probes.act_modules, first_input, loss_fn
            )
            self.requests.record = getattr(self._recorder, "append_request", None)  # replays
            if serve:
                self.feed.requests = self.requests
        if embed:
            if inputs is None:
                raise ValueError("embed= needs the probe set: pass inputs= (and labels=) too")
            from .embedding_feed import EmbeddingFeed

            self._embedding_feed = EmbeddingFeed(
                self, self.model, inputs, labels, embed, embed_every, embed_method, serve
            )
            self.embeddings = self._embedding_feed.service
        self.probes.armed = self.schedule.due(0, "act", -1)

    def _abandon(self) -> None:
        """watch() failed half-way (a name in use, a port taken, a bad ``embed=``): undo what
        it started (hooks, server, worker, the new recording file) before the caller gets the
        error; a failure here would only hide that error."""
        self._closed = True
        recorder = getattr(self, "_recorder", None)
        if self.worker is not None:
            self.worker.recorder = None  # discarded below, not flushed
        parts = [
            self.probes.close,
            getattr(self.handle, "close", None),
            getattr(self.worker, "close", None),
            getattr(recorder, "discard", None),
        ]
        for part in parts:
            try:
                if part is not None:
                    part()
            except Exception:  # noqa: BLE001, S110 - the caller gets the first error
                pass

    def add_listener(self, fn) -> None:
        """Call ``fn(header, arrays)`` with every probe frame (decoded, on the frame thread,
        never the training thread): how the Jupyter widget follows a run."""
        self.worker.listeners.append(fn)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def url(self) -> str | None:
        return self.handle.url if self.handle else None

    # -- the training loop's calls --------------------------------------------------------
    def step(self, loss: float | None = None, *, step: int | None = None, **metrics) -> None:
        """Call once per optimisation step, after ``optimizer.step()``. ``step``: the loop's
        own global step (default: the one after the last); a step reported again merges its
        metrics into that step, an earlier one is ignored (said once)."""
        self._guard(self._step, loss, metrics, "train", step)

    def log(self, metrics: dict, step: int | None = None, *, split: str = "train") -> None:
        """Report ``metrics`` (any names, e.g. ``"val/acc"``) without a training step, as
        ``wandb.log``: at the newest step, or at ``step`` (not an earlier one)."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self._guard(self._scalars_only, None, dict(metrics), split, step)

    def validation(self, loss: float | None = None, *, step: int | None = None, **metrics) -> None:
        """Report evaluation metrics at the newest step, or ``step`` (shown as the validation
        curve)."""
        self._guard(self._scalars_only, loss, metrics, "val", step)

    def capture_gradients(self, step: int | None = None) -> None:
        """Take the gradient probe now, for the training step ``step`` the next ``w.step()``
        reports (default: the one after the last). For loops that zero the gradients before
        ``w.step()`` (Hugging Face's Trainer does, right after ``optimizer.step()``): call it
        between ``backward()`` and ``zero_grad()``. Only what is due is taken: the gradient
        statistics when the schedule probes gradients at that step, and the per-layer
        gradient norms health watches every step."""
        self._guard(self._capture_gradients, step)

    def _guard(self, fn, *args) -> None:
        if self._closed:
            raise RuntimeError("this nnviz3d watcher is closed")
        try:
            fn(*args)
        except _StepRefused as exc:
            if self.strict:
                raise exc.__cause__ from None
            if exc.key not in self._step_warned:
                self._step_warned.add(exc.key)
                log.warning("nnviz3d: %s; the call is ignored (said once), training goes on", exc)
        except Exception as exc:
            if self.strict:
                raise
            self._failures += 1
            if self._failures == 1:
                log.warning(
                    "nnviz3d: a probe failed (%s: %s); training goes on, nnviz3d keeps trying",
                    type(exc).__name__,
                    exc,
                )

    def _scalars(self, loss, metrics) -> dict[str, float]:
        """The step's metrics as floats; one that is not a number is left out alone (said
        once per name), never the step's probe frame with it."""
        out, refused = self.metrics(loss, metrics)
        for name, why in refused:
            if self.strict:
                raise TypeError(f"metric {name!r} is not recorded: {why}")
            log.warning(
                "nnviz3d: metric %r is not recorded: %s; the step's other metrics and probes are",
                name,
                why,
            )
        return out

    def _classify(self, step, training: bool) -> tuple[str, int]:
        """The clock's verdict on ``step``; a step that is no number, or earlier than one
        already reported, becomes ``_StepRefused``."""
        try:
            if training:
                verdict, step = self.clock.classify(step)
            else:
                ok, step = self.clock.at(step)
                verdict = NEW if ok else EARLIER
        except (TypeError, ValueError) as exc:
            raise _StepRefused("bad step", str(exc)) from exc
        if verdict == EARLIER:
            why = f"steps must not go backwards: step={step} came after step {self.clock.reported}"
            raise _StepRefused("backwards", why) from ValueError(why)
        return verdict, step

    def _scalars_only(self, loss, metrics, split, step=None) -> None:
        _, step = self._classify(step, training=False)
        scalars = self._scalars(loss, metrics)
        self.clock.note(step)
        self.worker.submit(
            {"step": step, "split": split, "time": time.time(), "scalars": scalars, "kinds": {}}
        )

    def _capture_gradients(self, step) -> None:
        verdict, step = self._classify(step, training=True)
        if verdict != NEW:  # that step's probes are taken already
            return
        t0 = time.perf_counter()
        early = {"step": step, "seconds": 0.0}
        if self._due(self.clock.trained, step, "grad"):
            early["grad"] = self.probes.grads()
            early["grad_cost"] = time.perf_counter() - t0
        if self.health is not None and self.rank == 0:
            t1 = time.perf_counter()
            early["norms"] = self.grad_norms.norms()
            early["norms_cost"] = time.perf_counter() - t1
        early["seconds"] = time.perf_counter() - t0
        self._early = early

    def _step(self, loss, metrics, split, step=None) -> None:
        verdict, step = self._classify(step, training=True)
        if verdict == SAME:  # gradient accumulation, a second report: metrics merge
            self._scalars_only(loss, metrics, split, step)
            return
        start = time.perf_counter()
        early, self._early = self._early, None
        if early is not None and early["step"] != step:
            early = None  # taken for another step: stale
        if self._last_end is not None:
            # time between the end of the last probe pass and now: the training step alone
            taken = early["seconds"] if early else 0.0
            self.schedule.observe_step(max(start - self._last_end - taken, 1e-9))
            busy = self.worker.busy
            self.schedule.observe_background(busy - self._worker_busy)
            self._worker_busy = busy
        prev = self.clock.trained
        self.clock.advance(step)
        self.step_index = step
        kinds, matrices = {}, []
        for kind in KINDS:
            due = self._due(prev, step, kind)
            if kind == "act":
                self._act_missed = due and not self.probes.armed
                if not self.probes.armed:
                    continue
            elif not due:
                continue
            t0 = time.perf_counter()
            if kind == "matrices":
                res = matrices = self.probes.matrices()
            elif kind == "grad" and early is not None and "grad" in early:
                res = early["grad"]
                if res:
                    kinds[kind] = res
            else:
                res = {
                    "weight": self.probes.weights,
                    "grad": self.probes.grads,
                    "act": self.probes.activations,
                }[kind]()
                if res:
                    kinds[kind] = res
            cost = time.perf_counter() - t0
            if kind == "grad" and early is not None and "grad_cost" in early:
                cost = early["grad_cost"]
            self.schedule.observe_cost(kind, cost)
            if res:
                self._covered(kind, step)
        norms = None
        if self.health is not None and self.rank == 0:  # every step: alarms on time
            t0 = time.perf_counter()
            if early is not None and "norms" in early:
                norms = early["norms"]
                self.schedule.observe_every_step(early["norms_cost"])
            else:
                norms = self.grad_norms.norms()
                self.schedule.observe_every_step(time.perf_counter() - t0)
        if self.world_size > 1:
            from .distributed import reduce_kinds

            kinds = reduce_kinds(kinds, self.rank, self.world_size, self.group)
        if kinds is not None:  # None on ranks other than 0: rank 0 shows the merged view
            item = {
                "step": step,
                "split": split,
                "time": time.time(),
                "scalars": self._scalars(loss, metrics),
            }
            item.update(self.probes.to_host(kinds, matrices, norms))
            self.worker.submit(item)
        # hooks for the next forward pass: due at the step the loop will probably report
        # next, or owed since this one missed them
        self.probes.armed = self._due(step, self.clock.next_guess(), "act") or self._act_missed
        if self.embeddings is not None:
            self.embeddings.at_step(step)
        if self.requests is not None:  # what a viewer asked of the model: between two steps
            self.requests.step = step
            if matrices:
                self.requests.snapshot(step)
            self.requests.run_pending()
        self._last_end = time.perf_counter()

    def _due(self, prev: int, step: int, kind: str) -> bool:
        """Whether ``kind`` runs at training step ``step``, the one after ``prev``."""
        if kind == "matrices" and self.schedule.every is not None:
            # a fixed interval sets the statistics' cadence; weight maps (the heaviest frames:
            # a recording grows by them) follow at 8x, as they always have
            return due_between(prev, step, self.schedule.every * 8)
        return self.schedule.due(step, kind, prev)

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
        for what, part in (
            ("probe the final state", self._final_probe_guarded),
            ("remove the probes", self.probes.close),
            ("compute the final embedding", self._close_embeddings),
            ("flush the recording", self.worker.close),
            ("answer the viewer's pending requests", self._close_requests),
            ("tell the viewer the run ended", self._tell_finished),
        ):
            try:
                part()
            except Exception as exc:
                first = first or exc
                log.warning(
                    "nnviz3d: could not %s at close (%s: %s)", what, type(exc).__name__, exc
                )
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
                log.warning(
                    "nnviz3d: a probe failed at close (%s: %s); the recording ends "
                    "at the last step's probes",
                    type(exc).__name__,
                    exc,
                )

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
        """The run's final embeddings, recorded (nnviz3d/live/embedding_feed.py)."""
        if self.embeddings is not None:
            self._embedding_feed.finish(self.step_index)

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
        return {
            "steps": self.clock.count,
            "frames": self.worker.written,
            "dropped": self.worker.dropped,
            "failures": self._failures,
            "intervals": dict(self.schedule.interval),
            "schedule": self.schedule.describe(),
            "coverage": self._coverage(),
            "overhead_estimate": self.schedule.overhead(),
        }


class _StepRefused(Exception):
    """A report at a step that is no number or earlier than one reported: said once per
    ``key``, the call ignored (``strict``: its cause is raised)."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(why)
        self.key = key
