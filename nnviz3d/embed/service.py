"""Embeddings during a run: every ``every`` steps (at a safe point between two steps) the
probe set's features of the chosen layers are computed and handed to the embedding process
(nnviz3d/embed/worker.py); its answers become ``overlays`` frames (channel ``embedding``) that
the viewer morphs between. Training never waits for UMAP; at most one job per layer is in
flight, so a slow fit skips steps instead of queueing them, and the next job goes out at the
first step after one ends: the cloud shown is at most one job behind. While numba warms up the
process answers with PCA (see nnviz3d/embed/worker.py), so jobs keep flowing and UMAP starts
from the newest step once warm. When the run ends, :meth:`EmbeddingService.finish` embeds the
last step and waits (at most ``final_wait`` seconds) for every layer's answer.
"""

from __future__ import annotations

import logging
import threading
import time

from ..extras import available, require
from ..protocol.overlay_frame import encode_overlays
from ..scene.embedding_cloud import embedding_cloud, thumbnails
from .worker import EmbeddingWorker

log = logging.getLogger("nnviz3d")
FINAL_WAIT_SECONDS = 60.0
"""How long the end of a run waits for its last embeddings (UMAP's warm-up included)."""


class EmbeddingService:
    def __init__(
        self,
        model,
        inputs,
        labels,
        layers: list[str],
        *,
        every: int = 25,
        method: str = "umap",
        publish=None,
        notify=None,
        quiet: bool = False,
        final_wait: float = FINAL_WAIT_SECONDS,
        cka_layers: list[str] | None = None,
    ) -> None:
        require("embed", "sklearn", "feature embeddings need")
        if method == "umap" and not available("umap"):  # PCA only, said once
            log.warning(
                "nnviz3d: umap-learn is not installed, so embeddings use PCA: "
                "pip install 'nnviz3d[embed]' for UMAP"
            )
            method = "pca"
        self.model = model
        self.inputs = inputs
        self.labels = None if labels is None or len(labels) == 0 else list(labels)
        self.layers = list(layers)
        self.every = max(1, int(every))
        self.method = method
        self.publish = publish
        """``publish(layer, frame_bytes, step)`` for each embedding, from the reader thread."""
        self.notify = notify
        """``notify(kind, payload)`` for progress, errors and readiness."""
        self.quiet = quiet
        self.final_wait = final_wait
        """Seconds :meth:`finish` waits for the last embeddings before it gives up."""
        self.last_step = -1
        self.inflight: dict[str, int] = {}
        """Step of each layer's job that has not had its final answer (no next job before)."""
        self.due: dict[str, int] = {}
        """Step of each layer's newest job whose ``method`` answer has not come yet (during
        numba's warm-up PCA ends a job and its UMAP comes later)."""
        self.submitted: dict[str, int] = {}
        """Step of each layer's newest job."""
        self.results: dict[str, dict] = {}
        """Newest answer per layer (method, step, knn...), for tests and summaries."""
        self.errors: list[str] = []
        self._lock = threading.Condition()
        self.thumbs = thumbnails(
            inputs.detach().cpu().numpy() if hasattr(inputs, "detach") else inputs
        )
        self.cka = None
        """Layer similarity (nnviz3d/embed/cka_service.py) of ``cka_layers``, whose features
        are taken in the same forward pass as the embedded layers'."""
        if cka_layers and len(cka_layers) > 1:
            from .cka_service import CkaTracker

            self.cka = CkaTracker(cka_layers, publish)
        self.worker = EmbeddingWorker(self._message, umap=self.method == "umap")

    def at_step(self, step: int, force: bool = False) -> None:
        """Between two training steps: submit the layers whose previous job is done
        (``force``: every layer not yet embedded at ``step``, whatever is in flight)."""
        if not force and self.last_step >= 0 and step - self.last_step < self.every:
            return
        with self._lock:
            if force:
                todo = [p for p in self.layers if self.submitted.get(p) != step]
            else:
                todo = [p for p in self.layers if p not in self.inflight]
        # layer similarity keeps the cadence while embeddings are in flight (a slow UMAP, the
        # embedding process starting), unless its previous matrix is still being computed
        cka = self.cka is not None and (force or not self.cka.busy())
        if not todo and not cka:
            return
        from .features import layer_features

        self.last_step = step
        wanted = todo if not cka else list(dict.fromkeys([*todo, *self.cka.layers]))
        collected = layer_features(self.model, self.inputs, wanted)
        if cka:  # computed on its own thread: the training thread only took the features
            self.cka.offer(step, collected, final=force)
        for layer in todo:
            feats = collected.get(layer)
            if feats is not None and self.worker.submit(
                layer, step, feats, self.labels, self.method
            ):
                with self._lock:
                    self.inflight[layer] = self.due[layer] = self.submitted[layer] = step

    def finish(self, step: int, timeout: float | None = None) -> bool:
        """The run ended at ``step``: embed it (unless already done) and wait up to
        ``timeout`` seconds (default :attr:`final_wait`) until every layer's newest job has
        its ``method`` answer, published like the others. False, said in one log line, when
        it gave up (later answers are still published)."""
        timeout = self.final_wait if timeout is None else timeout
        if step >= 0:
            self.at_step(step, force=True)
        deadline = time.monotonic() + timeout
        if self.cka is not None and step >= 0:
            self.cka.finish(step, timeout)
        with self._lock:
            bar = self._final_bar()
            try:
                while self.due and self.worker.alive():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        why = f"after {timeout:g} s"
                        break
                    try:
                        self._lock.wait(min(left, 0.25))
                    except KeyboardInterrupt:  # a person stopping the run: the rest closes
                        why = "when interrupted"
                        break
                    if bar is not None:
                        bar.update(bar.total - len(self.due) - bar.done)
                else:
                    return True
            finally:
                if bar is not None:
                    bar.close()
            waiting = ", ".join(f"{p} (step {s})" for p, s in sorted(self.due.items()))
        log.warning(
            "nnviz3d: stopped waiting for the final %s embedding of %s %s; the "
            "recording keeps what arrived before",
            self.method.upper(),
            waiting,
            why,
        )
        return False

    def _final_bar(self):
        """The wait for the last embeddings (numba's warm-up, 15-60 s in a fresh process, when
        the run was short) as a bar over the layers, shown after a second; None when quiet or
        nothing is due."""
        if self.quiet or not self.due:
            return None
        from ..progress import Progress

        return Progress(
            len(self.due), f"final {self.method.upper()} embeddings", unit="layer", delay=1.0
        )

    def _settle(self, layer: str, step: int, method: str | None, final: bool) -> None:
        """An answer (or error, ``method`` None) for ``layer`` at ``step`` came."""
        with self._lock:
            if final and step >= self.inflight.get(layer, step + 1):
                del self.inflight[layer]
            if (method is None or method == self.method) and step >= self.due.get(layer, step + 1):
                del self.due[layer]
            self._lock.notify_all()

    def _message(self, kind: str, payload: dict) -> None:
        if kind == "result":
            self.results[payload["layer"]] = {
                k: v for k, v in payload.items() if k not in ("points", "labels")
            }
            cloud = embedding_cloud(
                payload["layer"],
                payload["points"],
                payload["labels"],
                method=payload["method"],
                step=payload["step"],
                knn=payload["knn"],
                thumbs=self.thumbs,
            )
            data = encode_overlays(
                "embedding",
                payload["step"],
                [cloud],
                layer=payload["layer"],
                method=payload["method"],
                seconds=round(payload["seconds"], 3),
            )
            if self.publish is not None:  # before it counts as settled: finish() then
                self.publish(payload["layer"], data, payload["step"])  # finds it published
            self._settle(
                payload["layer"], payload["step"], payload["method"], payload.get("final", True)
            )
        elif kind == "error":
            if payload.get("layer"):
                self._settle(payload["layer"], payload.get("step", -1), None, True)
            message = (
                f"nnviz3d: embedding {payload.get('layer') or ''} failed: "
                f"{payload['message']}; training goes on"
            )
            if message not in self.errors:
                self.errors.append(message)
                log.warning(message)  # once, through logging only (never also printed)
        elif kind == "ready" and not self.quiet:
            log.info("nnviz3d: UMAP ready (numba warm-up %.1f s)", payload)
        if self.notify is not None:
            self.notify(
                kind,
                payload
                if kind != "result"
                else {
                    "layer": payload["layer"],
                    "step": payload["step"],
                    "stage": payload["method"],
                },
            )

    def close(self) -> None:
        if self.cka is not None:
            self.cka.close()
        self.worker.close()
