"""Normalise example inputs and flatten model outputs to tensors."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch


def normalise_inputs(example_inputs) -> tuple[tuple, dict]:
    """Accept a tensor, a tuple/list of positional inputs, a dict of keyword inputs or an
    ``(args, kwargs)`` pair; return ``(args, kwargs)``."""
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,), {}
    if isinstance(example_inputs, Mapping):
        return (), dict(example_inputs)
    if (
        isinstance(example_inputs, tuple)
        and len(example_inputs) == 2
        and isinstance(example_inputs[0], (tuple, list))
        and isinstance(example_inputs[1], Mapping)
    ):
        return tuple(example_inputs[0]), dict(example_inputs[1])
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs), {}
    raise TypeError(
        f"example_inputs must be a tensor, a tuple/list of inputs, a dict of keyword inputs "
        f"or an (args, kwargs) pair; got {type(example_inputs).__name__}"
    )


def input_names(model: torch.nn.Module, args: tuple, kwargs: dict) -> list[str]:
    """Names for the tensor leaves of ``(args, kwargs)``, in pytree flattening order."""
    try:
        params = [
            p
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        arg_names = [p.name for p in params]
    except (TypeError, ValueError):
        arg_names = []
    names: list[str] = []
    for i, a in enumerate(args):
        _leaf_names(arg_names[i] if i < len(arg_names) else f"arg{i}", a, names)
    for k in kwargs:
        _leaf_names(k, kwargs[k], names)
    return names


def _leaf_names(prefix: str, obj, out: list[str]) -> None:
    if isinstance(obj, torch.Tensor):
        out.append(prefix)
    elif isinstance(obj, Mapping):
        for k in obj:
            _leaf_names(f"{prefix}.{k}", obj[k], out)
    elif isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            _leaf_names(f"{prefix}.{i}", v, out)


def output_tensors(out) -> list[torch.Tensor]:
    """Every tensor in a model's output (tensors, tuples, dicts, ``ModelOutput``); other
    objects (a KV cache) are dropped."""
    found: list[torch.Tensor] = []
    _collect(out, found, 0)
    return found


def _collect(obj, found: list, depth: int) -> None:
    if depth > 8:
        return
    if isinstance(obj, torch.Tensor):
        found.append(obj)
    elif isinstance(obj, Mapping):
        for v in obj.values():
            _collect(v, found, depth + 1)
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            _collect(v, found, depth + 1)


class FlatOutputs(torch.nn.Module):
    """Wraps a model so its outputs are a flat tuple of tensors (torch.export needs that)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, *args, **kwargs):
        return tuple(output_tensors(self.inner(*args, **kwargs)))
