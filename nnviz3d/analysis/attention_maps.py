"""Attention weights, head by head, for one forward pass: every call of
``F.scaled_dot_product_attention`` (what transformers' "sdpa" attention and most modern code
use) is observed, and softmax(q kᵀ · scale + mask) is recomputed from its own arguments.

The weights belong to the innermost module running when the call happens (e.g.
``transformer.h.3.attn``). Nothing about the forward pass changes: the call itself runs as
it would.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode


def attention_weights(q, k, attn_mask=None, is_causal=False, scale=None) -> torch.Tensor:
    """softmax(q kᵀ · scale + mask) over the keys: (..., heads, queries, keys), as SDPA
    computes it internally (boolean masks keep True positions, float masks are added)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    if k.shape[-3] != q.shape[-3]:  # grouped-query attention: repeat the key heads
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
    scores = (q.float() @ k.float().transpose(-2, -1)) * scale
    L, S = scores.shape[-2], scores.shape[-1]
    if is_causal:
        keep = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask.float()
    return torch.softmax(scores, dim=-1)


class _Recorder(TorchFunctionMode):
    def __init__(self, stack: list[str]) -> None:
        super().__init__()
        self.stack = stack
        self.maps: dict[str, torch.Tensor] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")
            bound = dict(zip(names, args)) | kwargs
            owner = self.stack[-1] if self.stack else ""
            if owner not in self.maps:
                with torch.no_grad():
                    w = attention_weights(
                        bound["query"],
                        bound["key"],
                        bound.get("attn_mask"),
                        bool(bound.get("is_causal", False)),
                        bound.get("scale"),
                    )
                self.maps[owner] = w.reshape(-1, *w.shape[-3:])[0].detach()
        return func(*args, **kwargs)


def record_attention(model: nn.Module, run) -> tuple[object, dict[str, torch.Tensor]]:
    """``(run(), {module path: (heads, queries, keys) weights of sample 0})``: every SDPA call
    made while ``run()`` runs, under the module that made it."""
    stack: list[str] = []
    handles = []

    def leave(module, args, output) -> None:  # a hook returning a value would replace output
        if stack:
            stack.pop()

    for path, mod in model.named_modules():
        handles.append(mod.register_forward_pre_hook(lambda m, a, p=path: stack.append(p)))
        handles.append(mod.register_forward_hook(leave))
    recorder = _Recorder(stack)
    try:
        with recorder:
            result = run()
    finally:
        for h in handles:
            h.remove()
    return result, recorder.maps
