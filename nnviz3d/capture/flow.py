"""Turn a :class:`~nnviz3d.capture.trace.Trace` and an inventory into the graph IR.

Rules, in order:

* An op that runs inside a module none of whose children ran (a *unit* module: ``Conv2d``,
  HF ``Conv1D``, ``nn.MultiheadAttention``) belongs to that module: it is absorbed into its node.
* An op that runs in a container's own ``forward`` becomes an op node when it matters visually:
  it joins activations from different units (residual add, concat, gating multiply,
  attention product), it is a compute op (:data:`COMPUTE_OPS`), or it reads a parameter
  directly (ViT's ``cls_token`` concat). Anything else (views, permutes, dropout, scalar
  arithmetic) is transparent: its output carries the sources of its inputs.
* Ops that only take a shape or dtype from a tensor (:data:`CONSTANT_OPS`) carry no data.
* An edge joins two units when a value produced by one is read by the other. An edge whose
  source also reaches its destination through other units is a ``skip`` (residual) edge.
"""

from __future__ import annotations

from collections import defaultdict

from ..dag import skip_flags
from ..graph import (
    EDGE_DATA,
    EDGE_SKIP,
    ROLE_INPUT,
    ROLE_OP,
    ROLE_OUTPUT,
    Edge,
    Graph,
    Node,
)
from .inventory import Inventory
from .repeats import mark_repeats
from .trace import Trace

COMPUTE_OPS = frozenset(
    """linear addmm mm bmm baddbmm matmul einsum conv1d conv2d conv3d convolution
    conv_transpose1d conv_transpose2d conv_transpose3d scaled_dot_product_attention
    _scaled_dot_product_flash_attention _scaled_dot_product_efficient_attention
    _scaled_dot_product_flash_attention_for_cpu multi_head_attention_forward
    softmax _softmax log_softmax _log_softmax relu relu_ gelu silu silu_ sigmoid tanh elu
    leaky_relu hardtanh hardswish mish softplus layer_norm native_layer_norm batch_norm
    _native_batch_norm_legit_no_training group_norm rms_norm embedding max_pool1d max_pool2d
    max_pool3d avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d
    adaptive_max_pool2d max_pool2d_with_indices mean interpolate upsample_nearest2d
    upsample_bilinear2d""".split()
)
CONSTANT_OPS = frozenset(
    """full_like zeros_like ones_like empty_like rand_like randn_like new_zeros new_ones new_full
    new_empty arange full zeros ones empty scalar_tensor sym_size size dim numel
    _assert_tensor_metadata _assert_scalar sym_constrain_range_for_size""".split()
)


def build_graph(trace: Trace, inv: Inventory, *, model_name: str) -> Graph:
    groups = {path for op in trace.ops for path, _ in op.stack[:-1]}
    kinds = {p: m.kind for p, m in inv.modules.items()}
    kinds.update({p: k for p, k in trace.module_kinds.items() if p not in kinds})

    src: dict[int, frozenset[str]] = {}
    flows: list[tuple[str, str, int]] = []  # (src unit, dst unit, value id)
    first_seen: dict[str, int] = {}
    op_nodes: dict[str, Node] = {}
    call_nodes: dict[str, Node] = {}
    op_counts: dict[tuple[str, str], int] = defaultdict(int)
    inputs_nodes = []
    param_vals: set[int] = set()  # values derived from parameters alone (cls_token.expand)

    def seen(path: str, order: int) -> None:
        first_seen.setdefault(path, order)

    for name, vid in trace.inputs:
        path = f"input:{name}"
        inputs_nodes.append(Node(path=path, kind="Input", role=ROLE_INPUT, parent="", depth=1))
        src[vid] = frozenset([path])
        seen(path, -1)

    for order, op in enumerate(trace.ops):
        op.op = _normalise_op(op.op)
        mod_path, call = op.stack[-1]
        for p, _ in op.stack:
            seen(p, order)
        sources = [src.get(v, frozenset()) for v in op.inputs]
        if mod_path not in groups:  # inside a unit module
            unit = mod_path if call == 0 else f"{mod_path}@{call}"
            if call and unit not in call_nodes:
                call_nodes[unit] = Node(
                    path=unit,
                    kind=kinds.get(mod_path, "Module"),
                    parent=_parent(mod_path),
                    call_index=call,
                    module_path=mod_path,
                    depth=_depth(mod_path),
                )
            _connect(flows, op.inputs, sources, unit)
            seen(unit, order)
            for v in op.outputs:
                src[v] = frozenset([unit])
            continue
        nonempty = [s for s in sources if s]
        union = frozenset().union(*nonempty) if nonempty else frozenset()
        uses_param = op.uses_param or any(v in param_vals for v in op.inputs)
        if op.op in CONSTANT_OPS or not union:
            if uses_param and op.op not in CONSTANT_OPS:
                param_vals.update(op.outputs)
            for v in op.outputs:
                src[v] = frozenset()
            continue
        joins = len(set(nonempty)) >= 2
        if not (joins or uses_param or op.op in COMPUTE_OPS):
            for v in op.outputs:
                src[v] = union
            continue
        k = op_counts[(mod_path, op.op)]
        op_counts[(mod_path, op.op)] += 1
        local = op.op if k == 0 else f"{op.op}_{k}"
        path = f"{mod_path}.{local}" if mod_path else local
        while path in kinds or path in op_nodes:
            path += "_op"
        op_nodes[path] = Node(
            path=path,
            kind=op.op,
            role=ROLE_OP,
            parent=mod_path,
            module_path=mod_path,
            depth=_depth(mod_path) + 1,
        )
        seen(path, order)
        _connect(flows, op.inputs, sources, path)
        for v in op.outputs:
            src[v] = frozenset([path])

    output_nodes = []
    for k, vid in enumerate(trace.outputs):
        path = f"output:{k}"
        output_nodes.append(Node(path=path, kind="Output", role=ROLE_OUTPUT, parent="", depth=1))
        _connect(flows, [vid], [src.get(vid, frozenset())], path)
        seen(path, len(trace.ops) + k)

    module_nodes = {}
    for path, m in inv.modules.items():
        module_nodes[path] = Node(
            path=path,
            kind=m.kind,
            parent=_parent(path) if path else None,
            is_group=path in groups or (path not in first_seen and bool(m.children)),
            called=path in first_seen,
            depth=_depth(path),
            params=m.params,
            trainable_params=m.trainable_params,
            total_params=m.total_params,
            total_trainable_params=m.total_trainable_params,
            buffers=m.buffers,
            param_shapes=dict(m.param_shapes),
            shared_params=dict(m.shared_params),
        )
    module_nodes[""].module_path = ""
    nodes = {**module_nodes, **call_nodes, **op_nodes}
    for n in inputs_nodes + output_nodes:
        nodes[n.path] = n

    _assign_shapes(nodes, flows, trace, groups)
    edges = _edges(flows, trace)
    ordered = _tree_order(nodes, first_seen)
    graph = Graph(
        model=model_name,
        strategy=trace.strategy,
        nodes=ordered,
        edges=edges,
        total_params=inv.total_params,
        trainable_params=inv.trainable_params,
        device=inv.device,
    )
    mark_repeats(graph)
    return graph


def _normalise_op(name: str) -> str:
    """``add_`` (in place) -> ``add``; ``__add__`` -> ``add``."""
    name = name.strip("_") or name
    return name


def _parent(path: str) -> str:
    return path.rpartition(".")[0]


def _depth(path: str) -> int:
    return path.count(".") + 1 if path else 0


def _connect(flows, vids, sources, dst: str) -> None:
    for vid, s in zip(vids, sources):
        for unit in s:
            if unit != dst:
                flows.append((unit, dst, vid))


def _edges(flows, trace: Trace) -> list[Edge]:
    first: dict[tuple[str, str], int] = {}
    for s, d, vid in flows:
        first.setdefault((s, d), vid)
    edges = []
    for ((s, d), vid), skip in zip(first.items(), skip_flags(list(first))):
        val = trace.values.get(vid)
        edges.append(
            Edge(
                s,
                d,
                EDGE_SKIP if skip else EDGE_DATA,
                val.shape if val else None,
                val.dtype if val else None,
            )
        )
    return edges


def _assign_shapes(nodes: dict[str, Node], flows, trace: Trace, groups) -> None:
    ins: dict[str, dict[int, None]] = defaultdict(dict)
    outs: dict[str, dict[int, None]] = defaultdict(dict)

    def chain(path: str) -> list[str]:
        out = [path]
        parent = nodes[path].parent
        while parent is not None:
            out.append(parent)
            parent = nodes[parent].parent if parent in nodes else None
        return out

    chains: dict[str, list[str]] = {}
    for s, d, vid in flows:
        cs = chains.get(s) or chains.setdefault(s, chain(s))
        cd = chains.get(d) or chains.setdefault(d, chain(d))
        set_s, set_d = set(cs), set(cd)
        for p in cs:
            if p not in set_d:
                outs[p][vid] = None
        for p in cd:
            if p not in set_s:
                ins[p][vid] = None
    for name, vid in trace.inputs:
        outs[f"input:{name}"][vid] = None
        ins[""][vid] = None
    for vid in trace.outputs:
        outs[""][vid] = None
    for path, node in nodes.items():
        for vid in ins.get(path, ()):
            v = trace.values.get(vid)
            if v is not None:
                node.input_shapes.append(v.shape)
                node.input_dtypes.append(v.dtype)
        for vid in outs.get(path, ()):
            v = trace.values.get(vid)
            if v is not None:
                node.output_shapes.append(v.shape)
                node.output_dtypes.append(v.dtype)


def _tree_order(nodes: dict[str, Node], first_seen: dict[str, int]) -> list[Node]:
    """Pre-order walk; siblings in execution order, never-called modules last (registration
    order); inputs first and outputs last under the root."""
    children: dict[str, list[str]] = defaultdict(list)
    registration = {p: i for i, p in enumerate(nodes)}
    for path, n in nodes.items():
        if n.parent is not None:
            children[n.parent].append(path)
    big = 1 << 60

    def key(p: str):
        return (first_seen.get(p, big), registration[p])

    out: list[Node] = []
    stack = [""]
    while stack:
        p = stack.pop()
        out.append(nodes[p])
        stack.extend(sorted(children.get(p, ()), key=key, reverse=True))
    return out
