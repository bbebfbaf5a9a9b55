"""Serving "show me this input" requests from the viewer without disturbing training.

The viewer asks for one probe input (and a saliency method); the answer needs a forward pass
of the user's model. While training runs, a request waits for the next ``Watcher.step()`` and
runs there, in the training thread, between two optimisation steps (the model is switched to
eval mode for that pass and put back). Once the run is over (``close()``), requests run at
once on a background thread. Only the newest pending request is kept.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("nnviz3d")


class InputInspector:
    def __init__(self, model, inputs, labels, modules: list[str], input_module: str) -> None:
        import torch

        self.model = model
        self.inputs = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(inputs)
        if self.inputs.dim() < 2 or len(self.inputs) == 0:
            raise ValueError(f"probe inputs must be a non-empty batch (N, ...), got shape "
                             f"{tuple(self.inputs.shape)}")
        self.labels = [] if labels is None else [int(v) for v in labels]
        if self.labels and len(self.labels) != len(self.inputs):
            raise ValueError(f"{len(self.labels)} probe labels for {len(self.inputs)} inputs; "
                             f"give one label per input, or none")
        self.modules = modules
        self.input_module = input_module
        self.step = 0
        self.idle = False
        """True once training is over: requests then run at once."""
        self._pending = None
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.inputs)

    def request(self, index: int, method: str, target: int, reply) -> None:
        """``reply(frame_bytes, None)`` or ``reply(None, error_sentence)``, from any thread."""
        with self._lock:
            self._pending = (index, method, target, reply)
        if self.idle:
            threading.Thread(target=self.run_pending, name="nnviz3d-inspect",
                             daemon=True).start()

    def run_pending(self) -> None:
        with self._lock:
            req, self._pending = self._pending, None
        if req is None:
            return
        index, method, target, reply = req
        with self._run_lock:
            try:
                data = self.build(index, method, target)
            except Exception as exc:  # a bad request or a model that fails: say so, go on
                log.debug("inspect failed", exc_info=True)
                reply(None, f"could not show input {index} ({type(exc).__name__}: {exc})")
                return
        reply(data, None)

    def build(self, index: int, method: str, target: int) -> bytes:
        from ..analysis.input_views import inspect_input
        from ..protocol.overlay_frame import encode_overlays

        if not 0 <= index < len(self.inputs):
            raise IndexError(f"there are {len(self.inputs)} probe inputs (0..{len(self.inputs) - 1})")
        device = next((p.device for p in self.model.parameters()), self.inputs.device)
        x = self.inputs[index:index + 1].to(device)
        overlays, info = inspect_input(self.model, x, self.modules,
                                       input_module=self.input_module, method=method,
                                       target=target)
        label = self.labels[index] if self.labels else None
        return encode_overlays("inspect", self.step, overlays, index=index, label=label, **info)
