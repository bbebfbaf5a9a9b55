"""Serving the viewer's requests that need the user's model, without disturbing training.

- ``inspect``: every layer's output for one probe input (and a saliency map). Cheap: it runs
  in place, in the training thread, between two optimisation steps (at the next
  ``Watcher.step()``), with the model in eval mode for that pass and put back.
- ``feature`` (feature visualisation) and ``landscape`` (the loss surface) take hundreds of
  passes: at the next step the model is copied, and the copy is worked on by a background
  thread while training goes on. Progress is reported as the work runs.

Once the run is over (``close()``), requests run at once on a background thread, on the model
itself, one at a time. Only the newest pending request of each kind is kept.

For the trajectory in the landscape, a few flat copies of the weights are kept along the run
(thinned to at most :data:`SNAPSHOTS`), only for models of at most :data:`SNAPSHOT_PARAMS`
parameters so memory stays small.

Every answer is handed to ``record(kind, args, step, frame)`` when one is set (the watcher
sets the recording's ``RunWriter.append_request``), so a replay answers the same requests
from the recording (nnviz3d/record/recorded_requests.py).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading

log = logging.getLogger("nnviz3d")

SNAPSHOTS = 24
SNAPSHOT_PARAMS = 5_000_000
LANDSCAPE_INPUTS = 512
"""The default landscape loss is the cross-entropy on at most this many probe inputs."""


class ModelRequests:
    def __init__(
        self, model, inputs, labels, modules: list[str], input_module: str, loss_fn=None
    ) -> None:
        import torch

        self.model = model
        self.inputs = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(inputs)
        if self.inputs.dim() < 2 or len(self.inputs) == 0:
            raise ValueError(
                f"probe inputs must be a non-empty batch (N, ...), got shape "
                f"{tuple(self.inputs.shape)}"
            )
        self.labels = [] if labels is None else [int(v) for v in labels]
        if self.labels and len(self.labels) != len(self.inputs):
            raise ValueError(
                f"{len(self.labels)} probe labels for {len(self.inputs)} inputs; "
                f"give one label per input, or none"
            )
        self.loss_fn = loss_fn
        self.modules = modules
        self.input_module = input_module
        self.step = 0
        self.idle = False
        """True once training is over: requests then run at once."""
        self.snapshots: list[tuple[int, object]] = []
        self._keep_snapshots = sum(p.numel() for p in model.parameters()) <= SNAPSHOT_PARAMS
        self._snapshot_stride = 1
        self._snapshot_seen = 0
        self._pending: dict[str, tuple] = {}
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._feature_cache = None
        self.record = None
        """``record(kind, args, step, frame)`` for each answer, or None (not recorded)."""

    @property
    def count(self) -> int:
        return len(self.inputs)

    @property
    def can_landscape(self) -> bool:
        return self.loss_fn is not None or bool(self.labels)

    # -- requests (any thread) ----------------------------------------------------------------
    def request(self, kind: str, args: tuple, reply, progress=None) -> None:
        """``reply(frame_bytes, None)`` or ``reply(None, error_sentence)``; ``progress(done,
        total)`` while long work runs. Both may be called from any thread."""
        with self._lock:
            self._pending[kind] = (args, reply, progress)
        if self.idle:
            threading.Thread(target=self.run_pending, name="nnviz3d-request", daemon=True).start()

    # -- the training thread, between steps ---------------------------------------------------
    def run_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for kind, (args, reply, progress) in pending.items():
            if kind == "inspect" or self.idle:
                self._run(kind, self.model, args, reply, progress, self.step)
            else:  # long work on a copy, off the training thread
                try:
                    model = copy.deepcopy(self.model)
                except Exception as exc:
                    reply(
                        None, f"could not copy the model for {kind} ({type(exc).__name__}: {exc})"
                    )
                    continue
                threading.Thread(
                    target=self._run,
                    args=(kind, model, args, reply, progress, self.step),
                    name=f"nnviz3d-{kind}",
                    daemon=True,
                ).start()

    def snapshot(self, step: int) -> None:
        """Keep a thinned series of weight copies for the landscape's trajectory (the watcher
        calls this at the steps where it captures weight matrices)."""
        if not self._keep_snapshots:
            return
        self._snapshot_seen += 1
        if (self._snapshot_seen - 1) % self._snapshot_stride:
            return
        import torch

        with torch.no_grad():
            flat = (
                torch.cat([p.detach().reshape(-1).float().cpu() for p in self.model.parameters()])
                .numpy()
                .copy()
            )
        self.snapshots.append((step, flat))
        if len(self.snapshots) > SNAPSHOTS:
            self.snapshots = self.snapshots[::2]
            self._snapshot_stride *= 2

    def _run(self, kind: str, model, args: tuple, reply, progress, step: int) -> None:
        """``step``: the training step of ``model`` (a copy's stays that of the copy)."""
        build = {"inspect": self._inspect, "feature": self._feature, "landscape": self._landscape}[
            kind
        ]
        with self._run_lock if model is self.model else contextlib.nullcontext():
            try:
                data = build(model, *args, progress=progress, step=step)
            except Exception as exc:  # a bad request or a model that fails: say so, go on
                log.debug("%s failed", kind, exc_info=True)
                reply(None, f"{kind} failed ({type(exc).__name__}: {exc})")
                return
        reply(data, None)
        if self.record is not None:
            try:
                self.record(kind, tuple(args), step, data, inputs=self.count)
            except Exception:  # a closed or full recording: the live answer was given
                log.debug("recording the %s answer failed", kind, exc_info=True)

    # -- the work -----------------------------------------------------------------------------
    def _inspect(
        self, model, index: int, method: str, target: int, progress=None, step: int = 0
    ) -> bytes:
        from ..analysis.input_views import inspect_input
        from ..protocol.overlay_frame import encode_overlays

        if not 0 <= index < len(self.inputs):
            raise IndexError(
                f"there are {len(self.inputs)} probe inputs (0..{len(self.inputs) - 1})"
            )
        x = self.inputs[index : index + 1].to(_device(model, self.inputs))
        overlays, info = inspect_input(
            model, x, self.modules, input_module=self.input_module, method=method, target=target
        )
        label = self.labels[index] if self.labels else None
        return encode_overlays("inspect", step, overlays, index=index, label=label, **info)

    def _feature(self, model, module: str, unit: int, progress=None, step: int = 0) -> bytes:
        from ..analysis.feature_vis import FeatureVisCache
        from ..protocol.overlay_frame import encode_overlays
        from ..scene.activation_maps import feature_overlay

        if self._feature_cache is None:
            self._feature_cache = FeatureVisCache(tuple(self.inputs.shape[1:]), maxsize=32)
        vis = self._feature_cache.get(model, module, unit, step)
        return encode_overlays(
            "feature", step, [feature_overlay(module, vis)], module=module, unit=int(unit)
        )

    def _landscape(self, model, steps: int, progress=None, step: int = 0) -> bytes:
        import torch
        import torch.nn.functional as F

        from ..analysis.landscape import loss_landscape
        from ..protocol.overlay_frame import encode_overlays
        from ..scene.landscape_surface import landscape_surface

        if self.loss_fn is not None:
            loss_fn = self.loss_fn
        elif self.labels:
            n = min(len(self.inputs), LANDSCAPE_INPUTS)
            x = self.inputs[:n].to(_device(model, self.inputs))
            y = torch.tensor(self.labels[:n], device=x.device)

            def loss_fn(m):
                return F.cross_entropy(m(x), y)
        else:
            raise ValueError(
                "a landscape needs a loss: pass labels= (cross-entropy on the "
                "probe inputs) or loss_fn= to nnviz3d.watch(...)"
            )
        snaps = [s for _, s in self.snapshots]
        trajectory = snaps if len(snaps) >= 3 else None
        result = loss_landscape(
            model,
            loss_fn,
            steps=steps,
            span=None if trajectory else 1.0,
            progress=progress,
            trajectory=trajectory,
        )
        surface = landscape_surface(result)
        surface.meta["step"] = int(step)  # the weights' step (a replay says which it shows)
        return encode_overlays(
            "landscape",
            step,
            [surface],
            steps_used=[s for s, _ in self.snapshots] if trajectory else [],
        )


def _device(model, fallback):
    return next((p.device for p in model.parameters()), fallback.device)
