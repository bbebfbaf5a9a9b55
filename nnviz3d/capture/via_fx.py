"""Strategy 2: torch.fx symbolic tracing, with shapes from one propagation pass."""

from __future__ import annotations

import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from .fx_nodes import op_record, output_ids
from .model_io import input_names
from .trace import Trace, Value, dtype_name, shape_list


def trace_fx(model: torch.nn.Module, args: tuple, kwargs: dict) -> Trace:
    if kwargs:
        raise ValueError("torch.fx tracing here takes positional inputs only")
    tracer = torch.fx.Tracer()
    graph = tracer.trace(model)
    gm = torch.fx.GraphModule(tracer.root, graph)
    ShapeProp(gm).propagate(*args)
    names = input_names(model, args, kwargs)
    trace = Trace(strategy="torch.fx")
    ids: dict[torch.fx.Node, int] = {}
    params: set[torch.fx.Node] = set()
    param_names = {n for n, _ in model.named_parameters()}
    user = 0
    for i, node in enumerate(graph.nodes):
        if node.op == "placeholder":
            ids[node] = i
            trace.values[i] = _value(node)
            trace.inputs.append((names[user] if user < len(names) else node.name, i))
            user += 1
        elif node.op == "get_attr":
            if node.target in param_names:
                params.add(node)
        elif node.op in ("call_function", "call_method", "call_module"):
            ids[node] = i
            trace.values[i] = _value(node)
            stack = [("", 0)]
            for key, (path, typ) in (node.meta.get("nn_module_stack") or {}).items():
                call = int(key.rpartition("@")[2]) if "@" in key else 0
                trace.module_kinds.setdefault(path, getattr(typ, "__name__", str(typ)))
                stack.append((path, call))
            if node.op == "call_module":
                op = type(model.get_submodule(node.target)).__name__
            elif node.op == "call_method":
                op = node.target
            else:
                op = getattr(node.target, "__name__", str(node.target))
            trace.ops.append(op_record(node, op.strip("_") or op, stack, i, ids, params))
        elif node.op == "output":
            trace.outputs.extend(output_ids(node, ids))
    return trace


def _value(node: torch.fx.Node) -> Value:
    tm = node.meta.get("tensor_meta")
    if isinstance(tm, (tuple, list)) and not hasattr(tm, "shape"):
        tm = next((t for t in tm if hasattr(t, "shape")), None)
    if tm is not None and hasattr(tm, "shape"):
        return Value(shape_list(tm.shape), dtype_name(tm.dtype))
    return Value(None, None)
