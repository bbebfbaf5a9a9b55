"""A run's feature embeddings (nnviz3d/embed/service.py) wired into its watcher: ``embed=``
checked against the model, each embedding frame published through the frame worker (recorded,
then sent live) until the run's final ones are in, and to the viewer only after that; a script
that never closes its watcher still records its end (atexit)."""

from __future__ import annotations

import atexit
import weakref

from ..record.run_file import EMBEDDING


class EmbeddingFeed:
    """Owns the embedding service of one :class:`~nnviz3d.live.watcher.Watcher`
    (``watcher.embeddings`` is :attr:`service`)."""

    def __init__(self, watcher, model, inputs, labels, embed, every, method, serve) -> None:
        from ..capture.wrapped import clean_path
        from ..embed.methods import METHODS
        from ..embed.service import EmbeddingService

        layers = [embed] if isinstance(embed, str) else list(embed)
        modules = {clean_path(path): mod for path, mod in model.named_modules()}
        unknown = [p for p in layers if p not in modules]
        if unknown:
            raise ValueError(
                f"embed= names no module of the model: {unknown}; use dotted "
                f"paths as `nnviz3d inspect` prints them"
            )
        if method not in METHODS:
            raise ValueError(f"embed_method must be one of {METHODS}, got {method!r}")
        self.watcher = watcher
        self.serve = serve
        self.recorded = True
        """Embeddings go through the frame worker (recorded, then sent live) until
        :meth:`finish` has waited for the final ones; later ones reach the viewer only."""
        notify = None
        if serve:
            loop = watcher.handle.server.loop

            def notify(*a) -> None:
                loop.call_soon_threadsafe(watcher.feed.embedding_news, *a)

        self.service = EmbeddingService(
            model,
            inputs,
            labels,
            layers,
            every=every,
            method=method,
            publish=self._publish,
            notify=notify,
            quiet=watcher.quiet,
            cka_layers=watcher.probes.act_modules,  # layer similarity rides on the same features
        )
        ref = weakref.ref(watcher)

        def close_at_exit() -> None:  # a script that never closes still records its end
            w = ref()
            if w is not None and not w._closed:
                w.close()

        self._at_exit = close_at_exit
        atexit.register(close_at_exit)

    def _publish(self, layer: str, data: bytes, step: int) -> None:
        w = self.watcher
        if self.recorded:
            w.worker.submit(
                {
                    "frame": data,
                    "frame_kinds": [EMBEDDING],
                    "step": step,
                    "split": "train",
                    "scalars": {},
                }
            )
        elif self.serve:  # the run is over (its recording closed): to the viewer only
            w.handle.server.loop.call_soon_threadsafe(w.feed.publish_embedding, layer, data)

    def finish(self, step: int) -> None:
        """Embed the final ``step`` and wait (``service.final_wait`` seconds at most) for it
        and any pending answer, recorded: before the recording is flushed and closed."""
        atexit.unregister(self._at_exit)
        try:
            self.service.finish(step)
        finally:
            self.recorded = False
            if self.watcher.handle is None:
                self.service.close()  # nobody to show later ones to
