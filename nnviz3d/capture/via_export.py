"""Strategy 1: torch.export (non-strict). Sees every aten op with its module stack."""

from __future__ import annotations

import operator

import torch

from .fx_nodes import op_record, output_ids
from .model_io import FlatOutputs, input_names
from .trace import Trace, Value, dtype_name, shape_list

WRAPPER = "inner"


def trace_export(model: torch.nn.Module, args: tuple, kwargs: dict) -> Trace:
    ep = torch.export.export(FlatOutputs(model), args, kwargs, strict=False)
    from torch.export.graph_signature import InputKind

    kinds = {
        spec.arg.name: spec.kind
        for spec in ep.graph_signature.input_specs
        if hasattr(spec.arg, "name")
    }
    names = input_names(model, args, kwargs)
    trace = Trace(strategy="torch.export")
    ids: dict[torch.fx.Node, int] = {}
    params: set[torch.fx.Node] = set()
    user = 0
    for i, node in enumerate(ep.graph.nodes):
        if node.op == "placeholder":
            kind = kinds.get(node.name)
            if kind == InputKind.USER_INPUT:
                ids[node] = i
                trace.values[i] = _value(node)
                name = names[user] if user < len(names) else f"arg{user}"
                trace.inputs.append((name, i))
                user += 1
            elif kind == InputKind.PARAMETER:
                params.add(node)
        elif node.op == "call_function":
            ids[node] = i
            trace.values[i] = _value(node)
            stack = _stack(node, trace.module_kinds)
            trace.ops.append(op_record(node, _op_name(node.target), stack, i, ids, params))
        elif node.op == "output":
            trace.outputs.extend(output_ids(node, ids))
    return trace


def _value(node: torch.fx.Node) -> Value:
    val = node.meta.get("val")
    if isinstance(val, (tuple, list)):
        val = next((v for v in val if isinstance(v, torch.Tensor)), None)
    if isinstance(val, torch.Tensor):
        return Value(shape_list(val.shape), dtype_name(val.dtype))
    return Value(None, None)


def _stack(node: torch.fx.Node, kinds: dict[str, str]) -> tuple[tuple[str, int], ...]:
    out = [("", 0)]
    for key, (path, typ) in (node.meta.get("nn_module_stack") or {}).items():
        if path in ("", WRAPPER):
            continue
        path = path.removeprefix(WRAPPER + ".")
        call = int(key.rpartition("@")[2]) if "@" in key else 0
        kinds.setdefault(path, str(getattr(typ, "__name__", typ)).rpartition(".")[2])
        out.append((path, call))
    return tuple(out)


def _op_name(target) -> str:
    if target is operator.getitem:
        return "getitem"
    packet = getattr(target, "overloadpacket", None)
    name = getattr(packet, "__name__", None) or getattr(target, "__name__", None) or str(target)
    return name.rpartition(".")[2]
