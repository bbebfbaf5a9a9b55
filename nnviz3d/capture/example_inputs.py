"""Infer example inputs when the model makes them obvious."""

from __future__ import annotations

import torch
from torch import nn

from .errors import CaptureError

_HOW = (
    "pass example_inputs: a tensor, a tuple of positional inputs or a dict of keyword "
    "inputs, e.g. capture_graph(model, torch.randn(1, 3, 224, 224)); from a SPEC "
    "callable, return (model, example_inputs)"
)


def infer_example_inputs(model: nn.Module):
    """A batch of one for the first Linear/Conv/Embedding the model registers."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    config = getattr(model, "config", None)
    for _path, m in model.named_modules():
        if isinstance(m, nn.Embedding):
            n = min(m.num_embeddings, 1 << 15)
            return torch.randint(0, n, (1, 16), device=device)
        if isinstance(m, nn.Linear):
            return torch.randn(1, m.in_features, device=device)
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            dims = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(m)]
            size = getattr(config, "image_size", None)
            size = size if isinstance(size, int) else 32 if dims < 3 else 16
            return torch.randn(1, m.in_channels, *([size] * dims), device=device)
        if isinstance(m, nn.modules.conv._ConvNd) or isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
            break
    raise CaptureError(
        f"cannot tell what input {type(model).__name__} takes (its first layer is not a "
        f"Linear, Conv or Embedding): {_HOW}"
    )
