"""What part of a training batch the model takes, and the metric names frameworks use."""

from __future__ import annotations

import torch

VAL_PREFIXES = ("validation_", "validation/", "valid_", "valid/", "val_", "val/", "eval_", "eval/")
"""How a metric logged during validation is usually named (Lightning's ``val_loss``,
Hugging Face's ``eval_loss``); the prefix is dropped, so ``val_loss`` is the validation
curve of ``loss``."""


def model_inputs(batch, keep: int = 1):
    """The model's example inputs in a training batch, cut to ``keep`` samples: a tensor
    as it is, the first element of a ``(inputs, targets)`` tuple or list, a dict of keyword
    inputs (Hugging Face batches) whole."""
    if isinstance(batch, dict):
        return {k: _cut(v, keep) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)) and batch:
        return _cut(batch[0], keep)
    return _cut(batch, keep)


def _cut(value, keep: int):
    if isinstance(value, torch.Tensor) and value.dim() > 0 and len(value) > keep:
        return value[:keep]
    return value


def val_name(name: str) -> str | None:
    """``name`` without its validation prefix, or None when it has none."""
    for prefix in VAL_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return None
