"""Embeddings during a run: every ``every`` steps (at a safe point between two steps) the
probe set's features of the chosen layers are computed and handed to the embedding process
(nnviz3d/embed/worker.py); its answers become ``overlays`` frames (channel ``embedding``) that
the viewer morphs between. Training never waits for UMAP; at most one job per layer is in
flight, so a slow fit skips steps instead of queueing them.
"""

from __future__ import annotations

import logging
import threading

from ..protocol.overlay_frame import encode_overlays
from ..scene.embedding_cloud import embedding_cloud, thumbnails
from .worker import EmbeddingWorker

log = logging.getLogger("nnviz3d")


class EmbeddingService:
    def __init__(self, model, inputs, labels, layers: list[str], *, every: int = 25,
                 method: str = "umap", publish=None, notify=None, quiet: bool = False) -> None:
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
        self.last_step = -1
        self.inflight: set[str] = set()
        self.results: dict[str, dict] = {}
        """Newest answer per layer (method, step, knn...), for tests and summaries."""
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self.thumbs = thumbnails(inputs.detach().cpu().numpy() if hasattr(inputs, "detach")
                                 else inputs)
        self.worker = EmbeddingWorker(self._message)

    def at_step(self, step: int, force: bool = False) -> None:
        """Between two training steps: submit the layers whose previous job is done."""
        if not force and self.last_step >= 0 and step - self.last_step < self.every:
            return
        with self._lock:
            todo = [layer for layer in self.layers if layer not in self.inflight]
        if not todo:
            return
        from .features import layer_features

        self.last_step = step
        for layer, feats in layer_features(self.model, self.inputs, todo).items():
            if self.worker.submit(layer, step, feats, self.labels, self.method):
                with self._lock:
                    self.inflight.add(layer)

    def _message(self, kind: str, payload: dict) -> None:
        if kind == "result":
            if payload["method"] == self.method or self.method == "pca":
                with self._lock:
                    self.inflight.discard(payload["layer"])
            self.results[payload["layer"]] = {k: v for k, v in payload.items()
                                              if k not in ("points", "labels")}
            cloud = embedding_cloud(payload["layer"], payload["points"], payload["labels"],
                                    method=payload["method"], step=payload["step"],
                                    knn=payload["knn"], thumbs=self.thumbs)
            data = encode_overlays("embedding", payload["step"], [cloud],
                                   layer=payload["layer"], method=payload["method"],
                                   seconds=round(payload["seconds"], 3))
            if self.publish is not None:
                self.publish(payload["layer"], data, payload["step"])
        elif kind == "error":
            with self._lock:
                self.inflight.discard(payload.get("layer", ""))
            message = f"nnviz3d: embedding {payload.get('layer') or ''} failed: " \
                      f"{payload['message']}; training goes on"
            if message not in self.errors:
                self.errors.append(message)
                log.warning(message)  # once, through logging only (never also printed)
        elif kind == "ready" and not self.quiet:
            log.info("UMAP ready (numba warm-up %.1f s)", payload)
        if self.notify is not None:
            self.notify(kind, payload if kind != "result" else
                        {"layer": payload["layer"], "step": payload["step"],
                         "stage": payload["method"]})

    def close(self) -> None:
        self.worker.close()
