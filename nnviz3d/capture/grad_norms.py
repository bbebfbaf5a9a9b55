"""Per-layer gradient norms at every step: the cheap signal health alarms need.

Exploding, vanishing and NaN gradients must be seen at the step they happen, not at the next
full gradient probe (whose steps depend on the budget), or two runs of the same script would
alarm at different steps. One ``torch._foreach_norm`` call over a fixed, evenly strided sample
of at most ``SAMPLE`` elements of each gradient (all of a smaller one) gives each layer's norm,
scaled to the whole tensor: a few microseconds per tensor, no host synchronisation, the same
elements every step. A NaN that spreads (a NaN loss makes every gradient NaN) is in the sample;
a lone non-finite element is left to the full gradient probe's exact counts.
"""

from __future__ import annotations

import numpy as np
import torch

from . import fused
from .probes import local, local_grad

SAMPLE = 4096
"""Elements read per gradient tensor (all of them when it has fewer)."""


class GradNorms:
    """``norms()`` (training thread: views, one ``_foreach_norm``, one ``stack``) ->
    ``{"modules", "parts", "owner", "scale", "count"}`` for the layers whose every parameter
    has a gradient now, or ``{}``; ``layer_norms(result)`` (the frame worker, numpy) turns
    the per-tensor parts into per-layer norms. On the CPU with the fused kernels ready, one
    compiled call gives ``{"modules", "norm", "count"}`` with the per-layer norms at once."""

    def __init__(self, modules: list[str], params: list[list[torch.nn.Parameter]]) -> None:
        self.modules = modules
        self.params = params
        # sharded (FSDP) parameters: this rank's shard (a DTensor op could be a collective)
        self.stride = [[max(1, local(p).numel() // SAMPLE) for p in ps] for ps in params]
        self.count = [sum(local(p).numel() for p in ps) for ps in params]
        self._plans: dict[tuple[bool, ...], tuple] = {}
        self._strides: dict[tuple[bool, ...], np.ndarray] = {}
        first = next((p for ps in params for p in ps), None)
        self.fused = first is not None and first.device.type == "cpu"
        """On the CPU, the fused kernel when it is ready (nnviz3d/capture/fused.py)."""

    def _plan(self, present: tuple[bool, ...]):
        """Rows, and the owner row and scale of each sampled tensor, for this set of layers
        with gradients."""
        if present not in self._plans:
            rows = [i for i, ok in enumerate(present) if ok]
            owner, scale, pairs = [], [], []
            for r, i in enumerate(rows):
                for p, s in zip(self.params[i], self.stride[i]):
                    owner.append(r)
                    n = local(p).numel()
                    scale.append(n / max(1, len(range(0, n, s))))
                    pairs.append((p, s))
            self._plans[present] = (
                [self.modules[i] for i in rows],
                pairs,
                np.array(owner),
                np.array(scale),
                [self.count[i] for i in rows],
            )
        return self._plans[present]

    @torch.no_grad()
    def norms(self) -> dict:
        present = tuple(all(local_grad(p) is not None for p in ps) for ps in self.params)
        if not any(present):
            return {}
        modules, pairs, owner, scale, count = self._plan(present)
        if self.fused:  # one compiled call, per-layer norms already (nnviz3d/capture/fused.py)
            strides = self._strides.setdefault(present, np.array([s for _, s in pairs], np.int64))
            norm = fused.sampled_norms(
                [local_grad(p) for p, _ in pairs], strides, owner, scale, len(modules)
            )
            if norm is not None:
                return {"modules": modules, "norm": norm, "count": count}
        grads = [(local_grad(p).reshape(-1), s) for p, s in pairs]
        views = [g[::s] if s > 1 else g for g, s in grads]
        return {
            "modules": modules,
            "parts": torch.stack(torch._foreach_norm(views)),
            "owner": owner,
            "scale": scale,
            "count": count,
        }


def layer_norms(res: dict) -> np.ndarray:
    """Per-layer L2 norms (float64) from ``GradNorms.norms()``'s per-tensor parts (on the
    CPU by now), or its ``norm`` when the fused kernel gave them."""
    if "norm" in res:
        return np.asarray(res["norm"], np.float64)
    parts = np.asarray(
        res["parts"].float().numpy() if hasattr(res["parts"], "numpy") else res["parts"], np.float64
    )
    with np.errstate(over="ignore", invalid="ignore"):
        sq = np.zeros(len(res["modules"]))
        np.add.at(sq, res["owner"], parts * parts * res["scale"])
        return np.sqrt(sq)
