"""Strategy 3: run the forward pass with module hooks and a torch-function mode.

Works for any model whose forward runs (data-dependent control flow, odd outputs, custom
containers): forward pre-hooks/hooks keep the stack of module calls, and a
``TorchFunctionMode`` sees every torch function and tensor method, so functional ops in a
container's ``forward`` (residual adds, ``torch.cat``) are recorded like in the other strategies.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from .errors import CaptureError
from .model_io import input_names, output_tensors
from .replay_layers import LayerReplay
from .trace import OpRecord, Trace, Value, dtype_name, shape_list

_DUNDER = {
    "iadd": "add",
    "radd": "add",
    "isub": "sub",
    "rsub": "sub",
    "imul": "mul",
    "rmul": "mul",
    "truediv": "div",
    "rtruediv": "div",
    "itruediv": "div",
    "rmatmul": "matmul",
    "get": "attribute",
}


class _Recorder(TorchFunctionMode):
    def __init__(self, model: torch.nn.Module, replay: bool = True) -> None:
        super().__init__()
        self.trace = Trace(strategy="module hooks")
        self.ids: dict[int, int] = {}
        self.keep: list[torch.Tensor] = []  # keeps tensors alive so their ids stay unique
        self.stack: list[tuple[str, int]] = [("", 0)]
        self.calls: dict[str, int] = {}
        self.paths = {id(m): p for p, m in model.named_modules()}
        self.leaves = {id(m) for m in model.modules() if not any(True for _ in m.children())}
        self.params = {id(p) for p in model.parameters()}
        self.failed_in: str | None = None
        self.op_counter = 0
        self.entry: dict[int, list[int]] = {}
        self.handles = []
        for m in model.modules():
            if m is model:
                continue
            self.handles.append(m.register_forward_pre_hook(self._pre))
            self.handles.append(m.register_forward_hook(self._post))
        self.replay = None
        self.muted = False
        params = list(model.parameters())
        if replay and params and all(p.is_meta for p in params):
            self.replay = LayerReplay(self, model)

    def value_id(self, t: torch.Tensor) -> int:
        vid = len(self.trace.values)
        self.trace.values[vid] = Value(shape_list(t.shape), dtype_name(t.dtype))
        self.ids[id(t)] = vid
        self.keep.append(t)
        return vid

    def _pre(self, module, args):
        path = self.paths.get(id(module), type(module).__name__)
        call = self.calls.get(path, 0)
        self.calls[path] = call + 1
        self.trace.module_kinds.setdefault(path, type(module).__name__)
        self.stack.append((path, call))
        self.entry.setdefault(id(module), []).append(self.op_counter)

    def _post(self, module, args, output):
        entry = self.stack.pop()
        ops_at_entry = self.entry[id(module)].pop()
        passthrough = {id(t) for t in output_tensors(output)} <= {
            id(t) for t in tree_leaves(args) if isinstance(t, torch.Tensor)
        }
        if id(module) in self.leaves and ops_at_entry == self.op_counter and not passthrough:
            # A leaf whose work no torch function reported (C++ modules): record it whole.
            # One that returns its input unchanged (nn.Identity) stays transparent, as it is
            # for torch.export, which records no op for it.
            self._record(type(module).__name__, args, output, tuple(self.stack) + (entry,))

    def _record(self, name: str, args, out, stack) -> None:
        inputs, uses_param = [], False
        for a in tree_leaves(args):
            if isinstance(a, torch.Tensor):
                if id(a) in self.params:
                    uses_param = True
                elif id(a) in self.ids:
                    inputs.append(self.ids[id(a)])
        outs = [self.value_id(t) for t in output_tensors(out)]
        if not outs:
            return
        self.op_counter += 1
        self.trace.ops.append(
            OpRecord(op=name, stack=stack, inputs=inputs, outputs=outs, uses_param=uses_param)
        )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.muted:  # a replayed layer's output tensors (nnviz3d/capture/replay_layers.py)
            return out
        name = getattr(func, "__name__", str(func)).strip("_")
        if name in ("get", "attribute") or not isinstance(out, (torch.Tensor, tuple, list)):
            return out
        self._record(_DUNDER.get(name, name), (args, kwargs), out, tuple(self.stack))
        return out

    def close(self) -> None:
        for h in self.handles:
            h.remove()
        if self.replay is not None:
            self.replay.close()


def trace_hooks(model: torch.nn.Module, args: tuple, kwargs: dict, replay: bool = True) -> Trace:
    """``replay``: on the meta device, record the first of each run of identical layers and
    replicate it (nnviz3d/capture/replay_layers.py)."""
    rec = _Recorder(model, replay)
    try:
        names = input_names(model, args, kwargs)
        leaves = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        for i, t in enumerate(leaves):
            rec.trace.inputs.append((names[i] if i < len(names) else f"arg{i}", rec.value_id(t)))
        try:
            with torch.no_grad(), rec:
                out = model(*args, **kwargs)
        except Exception as exc:
            path, _ = rec.stack[-1]
            kind = rec.trace.module_kinds.get(path, type(model).__name__)
            where = f"module '{path}' ({kind})" if path else f"the top-level {kind}.forward"
            raise CaptureError(
                f"{type(exc).__name__} in {where}: {_first_line(exc)}", module=path
            ) from exc
        rec.trace.outputs = [rec.ids[id(t)] for t in output_tensors(out) if id(t) in rec.ids]
        return rec.trace
    finally:
        rec.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
