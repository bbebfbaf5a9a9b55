"""Static facts about a module tree: kinds, parameter counts (tied weights once), buffers."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ModuleInfo:
    kind: str
    children: list[str]
    params: int = 0
    trainable_params: int = 0
    total_params: int = 0
    total_trainable_params: int = 0
    buffers: int = 0
    param_shapes: dict[str, list[int]] = field(default_factory=dict)
    shared_params: dict[str, str] = field(default_factory=dict)


@dataclass
class Inventory:
    modules: dict[str, ModuleInfo]
    """Every module by dotted path, the root at ``""``, in registration order."""
    total_params: int
    trainable_params: int
    device: str


def take_inventory(model: torch.nn.Module) -> Inventory:
    modules: dict[str, ModuleInfo] = {}
    for path, mod in model.named_modules():
        children = [f"{path}.{n}" if path else n for n, c in mod.named_children()]
        info = ModuleInfo(kind=type(mod).__name__, children=children)
        for _name, buf in mod.named_buffers(recurse=False):
            if buf is not None:
                info.buffers += buf.numel()
        modules[path] = info

    owner: dict[int, str] = {}
    subtree: dict[str, dict[int, tuple[int, bool]]] = {p: {} for p in modules}
    device = "cpu"
    for full, p in model.named_parameters(remove_duplicate=False):
        mod_path, _, local = full.rpartition(".")
        info = modules.get(mod_path)
        if info is None:  # parameter of a module reachable only under a duplicate name
            continue
        device = p.device.type
        n = p.numel()
        info.params += n
        info.param_shapes[local] = list(p.shape)
        if p.requires_grad:
            info.trainable_params += n
        if id(p) in owner:
            info.shared_params[local] = owner[id(p)]
        else:
            owner[id(p)] = full
        parts = mod_path.split(".") if mod_path else []
        for k in range(len(parts) + 1):
            prefix = ".".join(parts[:k])
            if prefix in subtree:
                subtree[prefix][id(p)] = (n, p.requires_grad)
    for path, ids in subtree.items():
        modules[path].total_params = sum(n for n, _ in ids.values())
        modules[path].total_trainable_params = sum(n for n, t in ids.values() if t)
    root = modules[""]
    return Inventory(modules, root.total_params, root.total_trainable_params, device)
