"""Weights that are not training: a model file's tensors or a module's parameters, as one
probe frame at step 0 with the same ``weight`` statistics, histograms and matrices a live run
sends, so colouring by weight norm, the weight carpets and the info panel's histograms work
for files as for live models.

Tensors are grouped by module the way the graph of a file names them: ``a.b.weight`` is
parameter ``weight`` of module ``a.b``. Well-known buffers (BatchNorm running statistics...)
are left out, as live probes leave out buffers. Statistics are computed one module at a time,
so memory beyond the (memory-mapped) file is one module's parameters in float32.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch

from ..protocol.probe_frame import encode_probe
from .formats import ModelFileError, detect_format
from .formats.errors import failure
from .formats.tensor_tree import BUFFER_NAMES
from .probes import downsample_matrix, rows_stats, weight_matrix

Groups = dict[str, dict[str, torch.Tensor]]
"""``{module path: {parameter name: tensor}}`` in the order the tensors came."""


def group_tensors(named: Iterable[tuple[str, torch.Tensor]]) -> Groups:
    """Group ``(dotted name, tensor)`` pairs by module, leaving out well-known buffers."""
    groups: Groups = {}
    for name, tensor in named:
        module, _, param = name.rpartition(".")
        if param in BUFFER_NAMES:
            continue
        groups.setdefault(module, {})[param] = tensor
    return groups


def file_weights(path: str | os.PathLike) -> Groups:
    """The weights of a model file, grouped by module; :class:`ModelFileError` if unreadable."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt is None or not hasattr(fmt, "tensors"):
        raise ModelFileError(
            f"{path}: expected a model file holding weights; found none nnviz3d can read"
        )
    try:
        return group_tensors(fmt.tensors(path))
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file can fail anywhere: one sentence
        raise ModelFileError(
            f"{path}: expected readable {fmt.name} weights; found tensor data "
            f"that does not read ({failure(exc)})"
        ) from None


def module_weights(model: torch.nn.Module) -> Groups:
    """A live module's parameters, grouped by the module that owns them."""
    return group_tensors((name, p.detach()) for name, p in model.named_parameters())


def main_weight(params: dict[str, torch.Tensor]) -> tuple[str, torch.Tensor] | None:
    """The module's weight matrix: ``weight`` if >= 2-D, else its largest >= 2-D tensor."""
    w = params.get("weight")
    if w is not None and w.dim() >= 2:
        return "weight", w
    big = [(k, t) for k, t in params.items() if t.dim() >= 2]
    return max(big, key=lambda kt: kt[1].numel()) if big else None


def main_bias(params: dict[str, torch.Tensor]) -> tuple[str, torch.Tensor] | None:
    b = params.get("bias")
    if b is not None and b.dim() == 1:
        return "bias", b
    ends = [(k, t) for k, t in params.items() if t.dim() == 1 and k.endswith("bias")]
    return ends[0] if ends else None


@torch.no_grad()
def weight_kind(groups: Groups, step: int = 0) -> dict:
    """The ``weight`` entry of a probe frame: stats, histogram and range per module (its
    parameters in name order, so two files listing them differently give equal rows)."""
    modules = [m for m, ps in groups.items() if ps]
    rows = [
        torch.cat([t.reshape(-1).float() for _, t in sorted(groups[m].items())]) for m in modules
    ]
    res = rows_stats(rows) if rows else {}
    return {"step": step, "modules": modules, **res}


@torch.no_grad()
def weight_matrices(groups: Groups) -> list[dict]:
    """Each module's weight as a matrix (or conv tiles) and its bias as a row."""
    out = []
    for module, params in groups.items():
        found = main_weight(params)
        if found is not None:
            out.append({"module": module, "param": "weight", **weight_matrix(found[1].float())})
        found = main_bias(params)
        if found is not None:
            data, method = downsample_matrix(found[1].float()[None])
            out.append(
                {
                    "module": module,
                    "param": "bias",
                    "full_shape": list(found[1].shape),
                    "method": method,
                    "data": data,
                }
            )
    return out


def weight_frame(groups: Groups, step: int = 0, extra: dict | None = None) -> bytes:
    """One probe frame with the ``weight`` statistics and the matrices of ``groups``."""
    kind = weight_kind(groups, step)
    matrices = [{**m, "data": m["data"].numpy()} for m in weight_matrices(groups)]
    kinds = {"weight": kind} if kind["modules"] else {}
    return encode_probe(step, 0.0, "train", {}, kinds, matrices, extra=extra)
