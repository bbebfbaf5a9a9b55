"""The background thread that encodes, records and sends frames; training never waits for it.

The training thread hands over small tensors (already on the CPU, or with a CUDA event to wait
on) through a bounded queue; when the queue is full the frame is dropped and counted, never
blocking. Errors here (disk full, server gone) are logged once (logger ``nnviz3d``) and the run
goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np

from ..capture.grad_norms import layer_norms
from ..protocol.probe_frame import decode_probe, encode_probe
from ..record.run_file import MATRICES

log = logging.getLogger("nnviz3d")
QUEUE_SIZE = 1024
BATCH_SECONDS = 0.05
"""After each batch the thread rests this long, so frames arriving meanwhile are encoded and
committed together: fewer wake-ups competing with the training thread, one commit per batch,
and at most this much added latency in the live view."""


class FrameWorker:
    def __init__(self, recorder=None, publish=None, health=None) -> None:
        self.recorder = recorder
        self.health = health
        """A HealthMonitor checked on every frame (here, off the training thread), or None."""
        self.publish = publish
        """Callable(data, step, kinds, split, scalars), thread-safe (posts to the server)."""
        self.listeners: list = []
        """Callables(header, arrays) given each decoded probe frame on this thread (the
        notebook widget's live colours); one that raises is dropped with one warning."""
        self.queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self.dropped = 0
        self.written = 0
        self.errors: list[str] = []
        self.busy = 0.0
        """Seconds spent encoding, recording and publishing (read by the schedule)."""
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="nnviz3d-frames", daemon=True)
        self._thread.start()

    def submit(self, item: dict) -> None:
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                break
            batch = [item]
            while True:  # drain what is waiting: one commit per batch
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._process(batch)
                    return
                batch.append(nxt)
            self._process(batch)
            time.sleep(BATCH_SECONDS)

    def _process(self, batch: list[dict]) -> None:
        start = time.perf_counter()
        try:
            self._process_items(batch)
        finally:
            self.busy += time.perf_counter() - start

    def _process_items(self, batch: list[dict]) -> None:
        for i, item in enumerate(batch):
            if i:
                # let the training thread take the GIL between two frames: otherwise it can
                # wait a whole switch interval (5 ms) for a batch that holds it throughout
                time.sleep(0)
            try:
                data, kinds = self._encode(item)
            except Exception as exc:  # a bad frame is dropped, the run goes on
                self._warn("encode", f"nnviz3d: could not encode a frame: {exc}")
                continue
            if self.recorder is not None:
                try:
                    self.recorder.append(item["step"], kinds, item["split"], item["scalars"], data)
                except Exception as exc:
                    self._record_failed(exc)
            if self.listeners and item.get("kinds"):
                self._tell_listeners(data)
            if self.publish is not None:
                try:
                    self.publish(data, item["step"], kinds, item["split"], item["scalars"])
                except Exception as exc:
                    self._warn(
                        "publish",
                        f"nnviz3d: live view stopped ({exc}); training "
                        f"goes on and is still recorded",
                    )
                    self.publish = None
            self.written += 1
        if self.recorder is not None:
            try:
                self.recorder.commit()
            except Exception as exc:
                self._record_failed(exc)

    def _tell_listeners(self, data: bytes) -> None:
        header, arrays = decode_probe(data)
        for fn in list(self.listeners):
            try:
                fn(header, arrays)
            except Exception as exc:
                self.listeners.remove(fn)
                self._warn(
                    f"listener {id(fn)}",
                    f"nnviz3d: a frame listener failed ({exc}); "
                    f"it gets no more frames, training goes on",
                )

    def _record_failed(self, exc: Exception) -> None:
        """One warning (disk full, file removed...); the rest of the run is not recorded."""
        path = getattr(self.recorder, "path", "the run file")
        self._warn(
            "record",
            f"nnviz3d: recording to {path} stopped ({exc}; is the disk "
            f"full?); training goes on, the live view too, and the file "
            f"replays up to its last commit",
        )
        try:
            self.recorder.db.close()
        except Exception:  # noqa: BLE001, S110 - already broken
            pass
        self.recorder = None

    def _encode(self, item: dict) -> tuple[bytes, list[str]]:
        if "frame" in item:  # already encoded elsewhere (an embedding): record and publish it
            return item["frame"], list(item["frame_kinds"])
        event = item.get("event")
        if event is not None:
            event.synchronize()
        kinds = {}
        for kind, res in item["kinds"].items():
            out = {"step": item["step"], "modules": res["modules"]}
            for key in ("stats", "hist", "range", "update", "sampled", "dead"):
                if key in res:
                    out[key] = np.asarray(res[key].numpy())
            kinds[kind] = out
        matrices = [{**m, "data": m["data"].numpy()} for m in item.get("matrices", [])]
        if item.get("units"):  # tracked units' mean activations become metrics of the run
            item["scalars"] = {**item["scalars"], **{k: float(v) for k, v in item["units"].items()}}
        norms = item.get("norms")
        if norms:
            norms = {
                "modules": norms["modules"],
                "norm": layer_norms(norms),
                "count": norms["count"],
            }
        alarms = (
            self.health.check(item["step"], kinds, norms)
            if self.health and (kinds or norms)
            else []
        )
        data = encode_probe(
            item["step"],
            item.get("time", time.time()),
            item["split"],
            item["scalars"],
            kinds,
            matrices,
            alarms,
        )
        return data, list(kinds) + ([MATRICES] if matrices else [])

    def _warn(self, key: str, message: str) -> None:
        self.errors.append(message)
        if key not in self._warned:  # once, through logging (stderr unless configured)
            self._warned.add(key)
            log.warning(message)

    def close(self, timeout: float = 30.0) -> None:
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            self._warn("close", "nnviz3d: frame queue still full at close; some frames lost")
        self._thread.join(timeout)
        if self.recorder is not None:
            try:
                self.recorder.close()
            except Exception as exc:
                self._warn("record", f"nnviz3d: could not close the recording: {exc}")
