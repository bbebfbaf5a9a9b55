"""Layer similarity during a run: linear CKA (nnviz3d/analysis/cka.py) between every pair of
the probed layers, from the features the embedding service collects (one forward pass of the
probe set at the embedding cadence; the CKA layers' hooks ride on it, and while every embedded
layer's job is still in flight the pass runs for CKA alone unless the previous matrix is still
being computed), computed on a thread of its own, never the training thread. Each result becomes a CKA frame
(nnviz3d/protocol/cka_frame.py) handed to ``publish(CKA_KEY, frame, step)``, recorded and sent
like an embedding.

At most one computation is in flight: features offered meanwhile replace the waiting ones
(the matrix shown is at most one behind). The final step's frame also carries the features
when they are small (``FEATURE_VALUES``), so two recorded runs can be compared layer by
layer. A failure is logged once and the run goes on.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from ..analysis.cka import cka_map, cka_matrix
from ..protocol.cka_frame import CKA_KEY, FEATURE_VALUES, encode_cka

log = logging.getLogger("nnviz3d")
MAX_LAYERS = 48
"""The most layers compared (evenly thinned past it, keeping the first and the last)."""


def thinned(layers: list[str], most: int = MAX_LAYERS) -> list[str]:
    """``layers`` in order, at most ``most`` of them, spread evenly over the network."""
    if len(layers) <= most:
        return list(layers)
    picks = np.unique(np.round(np.linspace(0, len(layers) - 1, most)).astype(int))
    return [layers[i] for i in picks]


class CkaTracker:
    def __init__(self, layers: list[str], publish) -> None:
        self.layers = thinned(list(dict.fromkeys(layers)))
        self.publish = publish
        """``publish(CKA_KEY, frame_bytes, step)``, from the tracker's thread."""
        self.latest: dict | None = None
        """The newest result: ``{"step", "layers", "matrix", "points", "undefined",
        "seconds"}`` (for tests and summaries)."""
        self.errors: list[str] = []
        self._waiting: tuple[int, dict, bool] | None = None
        self._busy = False
        self._previous = None
        self._done_step = -1
        self._closed = False
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="nnviz3d-cka", daemon=True)
        self._thread.start()

    def offer(self, step: int, features: dict, final: bool = False) -> None:
        """Features of (some of) the layers at ``step``; returns at once. Layers missing from
        ``features`` (no tensor output) are left out of the matrix."""
        present = {p: features[p] for p in self.layers if p in features}
        if len(present) < 2:
            return
        with self._cv:
            self._waiting = (int(step), present, final)
            self._cv.notify_all()

    def busy(self) -> bool:
        """Features wait or a matrix is being computed."""
        with self._cv:
            return self._waiting is not None or self._busy

    def finish(self, step: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the frame of ``step`` (offered final) is out."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._waiting is not None or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cv.wait(min(left, 0.25))
            return self._done_step >= step

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._waiting = None
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._waiting is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                step, features, final = self._waiting
                self._waiting = None
                self._busy = True
            try:
                self._compute(step, features, final)
            except Exception as exc:  # noqa: BLE001 - a visualisation error never stops a run
                message = f"nnviz3d: layer similarity (CKA) at step {step} failed: {exc}"
                if message not in self.errors:
                    self.errors.append(message)
                    log.warning("%s; training goes on", message)
            finally:
                with self._cv:
                    self._busy = False
                    self._done_step = max(self._done_step, step)
                    self._cv.notify_all()

    def _compute(self, step: int, features: dict, final: bool) -> None:
        start = time.perf_counter()
        layers = list(features)
        xs = [np.asarray(features[p]) for p in layers]
        matrix, undefined = cka_matrix(xs)
        previous = self._previous
        if previous is not None and previous[0] != layers:
            previous = None
        points = cka_map(matrix, None if previous is None else previous[1])
        self._previous = (layers, points)
        size = sum(x.reshape(len(x), -1).shape[1] for x in xs) * len(xs[0])
        keep = final and size <= FEATURE_VALUES
        frame = encode_cka(step, layers, matrix, points, undefined, features=xs if keep else None)
        seconds = time.perf_counter() - start
        self.latest = {
            "step": step,
            "layers": layers,
            "matrix": matrix,
            "points": points,
            "undefined": undefined,
            "seconds": seconds,
            "features": keep,
        }
        if self.publish is not None:
            self.publish(CKA_KEY, frame, step)
