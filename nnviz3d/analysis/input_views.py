"""Everything the viewer shows for one chosen input: every layer's output (feature maps as
slabs, vectors as unit grids), attention weights head by head (nnviz3d/analysis/
attention_maps.py), the input itself, the prediction, and optionally a saliency map
(nnviz3d/analysis/saliency.py) on the input and, for Grad-CAM, on its conv layer.

The model is evaluated in eval mode without gradients (saliency takes its own gradients with
respect to the input only) and left exactly as it was found.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..scene.activation_maps import activation_overlay, attention_overlay, saliency_overlay
from ..scene.overlay import Overlay
from .attention_maps import record_attention
from .saliency import METHODS, model_untouched, saliency

NONE = "none"


def layer_outputs(model: nn.Module, x: torch.Tensor, modules: list[str]):
    """``(model output, {module: its output for sample 0}, {module: attention weights
    (heads, queries, keys)})`` of one forward pass."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for path in modules:

        def hook(mod, args, out, path=path):
            while isinstance(out, (tuple, list)) and out:
                out = out[0]
            if isinstance(out, torch.Tensor) and out.dim() >= 1:
                outputs[path] = out.detach()[0] if out.dim() > 1 else out.detach()

        handles.append(model.get_submodule(path).register_forward_hook(hook))
    try:
        with model_untouched(model), torch.no_grad():
            result, attention = record_attention(model, lambda: model(x))
    finally:
        for h in handles:
            h.remove()
    return result, outputs, attention


def inspect_input(
    model: nn.Module,
    x: torch.Tensor,
    modules: list[str],
    *,
    input_module: str = "input:x",
    method: str = NONE,
    target: int = -1,
) -> tuple[list[Overlay], dict]:
    """Overlays and facts (``prediction``, ``probabilities``, ``target``) for one input ``x``
    (a batch of 1 on the model's device)."""
    if method != NONE and method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; expected one of {(NONE,) + METHODS}")
    result, outputs, attention = layer_outputs(model, x, modules)
    overlays = [activation_overlay(input_module, x[0].detach().float().cpu().numpy(), name="input")]
    overlays += [activation_overlay(p, o.float().cpu().numpy()) for p, o in outputs.items()]
    overlays += [attention_overlay(p, w.float().cpu().numpy()) for p, w in attention.items()]
    info: dict = {"method": method}
    logits = result[0] if isinstance(result, (tuple, list)) else result
    if isinstance(logits, torch.Tensor) and logits.dim() == 2 and logits.shape[0] == 1:
        probs = torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
        info["prediction"] = int(np.argmax(probs))
        info["probabilities"] = [round(float(p), 4) for p in probs[:1000]]
    if method != NONE:
        layer = None
        if method == "grad_cam":  # the last block of the scene with a real feature map
            maps = [p for p, o in outputs.items() if o.dim() == 3 and o.shape[1] * o.shape[2] > 1]
            if not maps:
                raise ValueError(
                    "Grad-CAM needs a layer with an (N, C, H, W) output; this "
                    "model has none: use the gradient methods"
                )
            layer = maps[-1]
        s = saliency(model, x, None if target < 0 else int(target), method, layer)
        info["target"] = int(s.target[0])
        overlays.append(saliency_overlay(input_module, s.map[0], method, s.target[0]))
        if s.raw is not None and s.layer:
            overlays.append(saliency_overlay(s.layer, s.raw[0], method, s.target[0]))
            info["layer"] = s.layer
    return overlays, info
