"""Capture one of a run of identical layers and replicate it (meta-device models).

On the meta device a forward pass computes nothing but shapes, yet each torch op still runs
through torch's Python meta kernels: LLaMA-70B's 80 decoder layers are 6,000 ops and most of
the capture time. Siblings with the same structure (class, parameter and buffer shapes,
children) that are called with the same input shapes and the same non-tensor arguments as the
first of them produce the same ops on the meta device. So the first is recorded as it runs;
each later one is not run: its ops are copied from the first with its own module paths and
fresh value ids, and it returns empty meta tensors of the first one's output shapes.

A sibling called with other shapes or arguments, or any model not wholly on the meta device,
runs normally. tests/capture/test_replay_layers.py checks the graph equals the one from
running every layer.
"""

from __future__ import annotations

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

from .trace import OpRecord, Value


def _signature(module: torch.nn.Module) -> tuple:
    return (
        type(module).__qualname__,
        tuple((n, tuple(p.shape), p.dtype) for n, p in module.named_parameters()),
        tuple((n, tuple(b.shape), b.dtype) for n, b in module.named_buffers()),
        tuple((n, type(m).__qualname__) for n, m in module.named_modules()),
    )


def _call_key(args, kwargs) -> tuple[list, list, object] | None:
    """Tensor leaves, the other leaves and the tree's structure of one call, or None."""
    leaves, spec = tree_flatten((args, kwargs))
    tensors = [x for x in leaves if isinstance(x, torch.Tensor)]
    others = [x for x in leaves if not isinstance(x, torch.Tensor)]
    return tensors, others, spec


def _same_others(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if type(x) is not type(y):
            return False
        try:
            if not bool(x == y):
                return False
        except Exception:  # noqa: BLE001 - an argument that cannot be compared: run it
            return False
    return True


class LayerReplay:
    """Installed on a ``_Recorder`` (nnviz3d/capture/via_hooks.py) for a meta-device model:
    ``templates`` are the first of each run of identical siblings, ``copies`` the rest."""

    def __init__(self, recorder, model: torch.nn.Module) -> None:
        self.rec = recorder
        self.first_of: dict[int, torch.nn.Module] = {}
        self.paths = {id(m): p for p, m in model.named_modules()}
        self.recorded: dict[int, dict] = {}
        self.patched: list[torch.nn.Module] = []
        self.replayed = 0
        for parent in model.modules():
            groups: dict[tuple, list[torch.nn.Module]] = {}
            for child in parent.children():
                if any(True for _ in child.children()):
                    groups.setdefault(_signature(child), []).append(child)
            for members in groups.values():
                for m in members[1:]:
                    if "forward" in vars(m):  # someone else's wrapper: leave it alone
                        continue
                    self.first_of[id(m)] = members[0]
                    m.forward = self._make_forward(m, members[0])
                    self.patched.append(m)
        self.templates = {id(t) for t in self.first_of.values()}
        # after the recorder's own hooks (registered first): its stack holds the call by then
        self.handles = []
        for t in {id(t): t for t in self.first_of.values()}.values():
            self.handles.append(t.register_forward_pre_hook(self.enter, with_kwargs=True))
            self.handles.append(t.register_forward_hook(self.leave))

    # -- the first of a run, as it runs ------------------------------------------------------
    def enter(self, module, args, kwargs) -> None:
        if id(module) in self.templates and id(module) not in self.recorded:
            tensors, others, spec = _call_key(args, kwargs)
            self.recorded[id(module)] = {
                "start": len(self.rec.trace.ops),
                "depth": len(self.rec.stack),
                "inputs": [self.rec.ids.get(id(t)) for t in tensors],
                "shapes": [(tuple(t.shape), t.dtype, t.device) for t in tensors],
                "others": others,
                "spec": spec,
                "calls": dict(self.rec.calls),
                "kinds": set(self.rec.trace.module_kinds),
                "open": True,
            }

    def leave(self, module, args, output) -> None:
        rec = self.recorded.get(id(module))
        if rec is None or not rec["open"]:
            return
        rec["open"] = False
        rec["end"] = len(self.rec.trace.ops)
        leaves, spec = tree_flatten(output)
        rec["out_spec"] = spec
        rec["out"] = [
            (self.rec.ids.get(id(x)), tuple(x.shape), x.dtype) if isinstance(x, torch.Tensor) else x
            for x in leaves
        ]
        rec["out_tensor"] = [isinstance(x, torch.Tensor) for x in leaves]
        rec["new_calls"] = {
            p: n - rec["calls"].get(p, 0) for p, n in self.rec.calls.items() if p != ""
        }
        rec["new_kinds"] = {
            p: k for p, k in self.rec.trace.module_kinds.items() if p not in rec["kinds"]
        }
        del rec["calls"], rec["kinds"]

    # -- the others ------------------------------------------------------------------------
    def _make_forward(self, module, first):
        original = type(module).forward.__get__(module)

        def forward(*args, **kwargs):
            rec = self.recorded.get(id(first))
            if rec is None or rec["open"] or not self._matches(rec, args, kwargs):
                return original(*args, **kwargs)
            return self._replay(module, first, rec, args, kwargs)

        return forward

    def _matches(self, rec: dict, args, kwargs) -> bool:
        tensors, others, spec = _call_key(args, kwargs)
        if spec != rec["spec"] or len(tensors) != len(rec["shapes"]):
            return False
        if any((tuple(t.shape), t.dtype, t.device) != s for t, s in zip(tensors, rec["shapes"])):
            return False
        return all(t.is_meta for t in tensors) and _same_others(others, rec["others"])

    def _replay(self, module, first, rec, args, kwargs):
        r = self.rec
        src = self.paths[id(first)]
        dst = self.paths[id(module)]

        def rename(path: str) -> str:
            if path == src or path.startswith(src + "."):
                return dst + path[len(src) :]
            return path

        tensors, _, _ = _call_key(args, kwargs)
        ids: dict[int, int] = {}
        for old, t in zip(rec["inputs"], tensors):
            if old is not None and id(t) in r.ids:
                ids[old] = r.ids[id(t)]
        outer = tuple(r.stack)  # ends with this module's own (path, call)
        depth = rec["depth"]
        for op in r.trace.ops[rec["start"] : rec["end"]]:
            outs = []
            for o in op.outputs:
                new = len(r.trace.values)
                v = r.trace.values[o]
                r.trace.values[new] = Value(list(v.shape) if v.shape else v.shape, v.dtype)
                ids[o] = new
                outs.append(new)
            r.trace.ops.append(
                OpRecord(
                    op=op.op,
                    stack=outer + tuple((rename(p), c) for p, c in op.stack[depth:]),
                    inputs=[ids.get(i, i) for i in op.inputs],
                    outputs=outs,
                    uses_param=op.uses_param,
                )
            )
            r.op_counter += 1
        for path, n in rec["new_calls"].items():
            if path != src and path.startswith(src + "."):
                new = rename(path)
                r.calls[new] = r.calls.get(new, 0) + n
        for path, kind in rec["new_kinds"].items():
            r.trace.module_kinds.setdefault(rename(path), kind)
        leaves = []
        for is_tensor, x in zip(rec["out_tensor"], rec["out"]):
            if not is_tensor:
                leaves.append(x)
                continue
            old, shape, dtype = x
            r.muted = True
            try:
                t = torch.empty(shape, dtype=dtype, device="meta")
            finally:
                r.muted = False
            if old is not None:
                new = ids.get(old)
                if new is None:  # an output the layer passed through from outside: none here
                    new = len(r.trace.values)
                    r.trace.values[new] = Value(list(shape), str(dtype).removeprefix("torch."))
                r.ids[id(t)] = new
                r.keep.append(t)
            leaves.append(t)
        self.replayed += 1
        return tree_unflatten(leaves, rec["out_spec"])

    def close(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
        for m in self.patched:
            vars(m).pop("forward", None)
        self.patched = []
