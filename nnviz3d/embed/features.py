"""Features of chosen layers for the probe set, one vector per input.

Feature maps (N, C, H, W) are averaged over H and W (one value per channel), token sequences
(N, T, D) over T; anything else is flattened. The model runs in eval mode without gradients,
in batches, and is left as it was (nnviz3d/analysis/saliency.py ``model_untouched``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..analysis.saliency import model_untouched

BATCH = 256


def pooled(out: torch.Tensor) -> torch.Tensor:
    """(N, D) features of a layer's (N, ...) output."""
    if out.dim() == 4:
        return out.mean(dim=(2, 3))
    if out.dim() == 3:
        return out.mean(dim=1)
    return out.reshape(out.shape[0], -1)


def layer_features(
    model: nn.Module, inputs: torch.Tensor, layers: list[str], batch: int = BATCH
) -> dict[str, np.ndarray]:
    """``{layer: (N, D) float32}`` for every input."""
    chunks: dict[str, list[torch.Tensor]] = {p: [] for p in layers}
    handles = []
    for path in layers:

        def hook(mod, args, out, path=path):
            while isinstance(out, (tuple, list)) and out:
                out = out[0]
            if isinstance(out, torch.Tensor):
                chunks[path].append(pooled(out.detach()).float().cpu())

        handles.append(model.get_submodule(path).register_forward_hook(hook))
    device = next((p.device for p in model.parameters()), inputs.device)
    try:
        with model_untouched(model), torch.no_grad():
            for i in range(0, len(inputs), batch):
                model(inputs[i : i + batch].to(device))
    finally:
        for h in handles:
            h.remove()
    return {p: torch.cat(c).numpy() for p, c in chunks.items() if c}
