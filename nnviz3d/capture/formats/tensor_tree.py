"""Named tensors (``encoder.layer.0.query.weight``) -> a graph of modules grouped by prefix.

Used by every format that holds weights but no graph (safetensors, state_dicts, TorchScript
for now). The tensor ``a.b.c.weight`` becomes parameter ``weight`` of module node ``a.b.c``;
``a`` and ``a.b`` become group nodes; the root ``""`` holds everything.

There are no edges: the order of tensors in a file is not the order in which a forward pass
uses them (safetensors sorts them, for one), so a chain in file order would draw data flow
that may not exist. Data flow comes from formats that hold a graph (torch.export ``.pt2``).

A file does not say which tensors are parameters and which are buffers; the well-known buffer
names in :data:`BUFFER_NAMES` (BatchNorm's running statistics, ``position_ids``...) count as
buffers, everything else as trainable parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...graph import Graph, Node

BUFFER_NAMES = frozenset(
    {
        "running_mean",
        "running_var",
        "num_batches_tracked",
        "position_ids",
        "token_type_ids",
        "inv_freq",
        "masked_bias",
        "attn_bias",
    }
)


@dataclass
class TensorEntry:
    """One named tensor as the file declares it; its data is never read."""

    name: str
    shape: list[int]
    dtype: str
    tied_to: str | None = None
    """Name of an earlier tensor this one is the same data as (tied weights: GPT-2's
    ``lm_head.weight`` is ``transformer.wte.weight``); counted once, there."""

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def graph_from_tensors(
    entries: list[TensorEntry], *, model: str, strategy: str, kinds: dict[str, str] | None = None
) -> Graph:
    """The prefix-grouping graph of ``entries``; ``kinds`` gives class names by module path
    (and adds parameter-less modules) where the file knows them, else kinds are ``Module``."""
    kinds = kinds or {}
    order: list[str] = [""]
    seen = {""}

    def add(path: str) -> None:
        if path in seen:
            return
        parent = path.rpartition(".")[0]
        add(parent)
        seen.add(path)
        order.append(path)

    for path in kinds:
        add(path)
    for e in entries:
        add(e.name.rpartition(".")[0])
    has_children = {p.rpartition(".")[0] for p in order if p}
    nodes: dict[str, Node] = {}
    for path in order:
        parent = None if path == "" else path.rpartition(".")[0]
        nodes[path] = Node(
            path=path,
            kind=kinds.get(path, model if path == "" else "Module"),
            parent=parent,
            is_group=path in has_children,
            depth=0 if path == "" else path.count(".") + 1,
        )
    total = 0
    for e in entries:
        mod_path, _, local = e.name.rpartition(".")
        node = nodes[mod_path]
        if local in BUFFER_NAMES:
            node.buffers += e.numel
            continue
        if e.tied_to is not None:
            node.shared_params[local] = e.tied_to.rpartition(".")[0]
            node.param_shapes[local] = list(e.shape)
            continue
        node.params += e.numel
        node.trainable_params += e.numel
        node.param_shapes[local] = list(e.shape)
        total += e.numel
        walk: str | None = mod_path
        while walk is not None:
            nodes[walk].total_params += e.numel
            nodes[walk].total_trainable_params += e.numel
            walk = nodes[walk].parent
    guessed = 0
    for path, node in nodes.items():
        if path not in kinds and not node.is_group and node.kind == "Module":
            node.kind = guess_kind(path, node.param_shapes, node.buffers > 0) or node.kind
            guessed += node.kind != "Module"
    if guessed:
        strategy = f"{strategy}; layer kinds guessed from parameter shapes"
    return Graph(
        model=model,
        strategy=strategy,
        nodes=list(nodes.values()),
        edges=[],
        total_params=total,
        trainable_params=total,
    )


def guess_kind(path: str, shapes: dict[str, list[int]], has_buffers: bool) -> str | None:
    """What a module probably is, from its parameters alone (a file without classes): a 4-D
    weight is a Conv2d, a 2-D one an Embedding (by name) or a Linear, a 1-D weight a
    BatchNorm (with running statistics) or a LayerNorm. None when nothing fits."""
    w = shapes.get("weight")
    name = path.rpartition(".")[2].lower()
    if w is None:
        return None
    if len(w) in (3, 4, 5):
        return f"Conv{len(w) - 2}d"
    if len(w) == 2:
        embed = any(k in name for k in ("embed", "wte", "wpe", "tok", "pos"))
        return "Embedding" if embed and "bias" not in shapes else "Linear"
    if len(w) == 1:
        if has_buffers or "bn" in name or "batch" in name:
            return "BatchNorm"
        return "RMSNorm" if "rms" in name else "LayerNorm"
    return None


def tie_key(tensor) -> tuple | None:
    """What makes two loaded tensors the same data (None on the meta device)."""
    if tensor.is_meta:
        return None
    return (
        tensor.untyped_storage().data_ptr(),
        tensor.storage_offset(),
        tuple(tensor.shape),
        tuple(tensor.stride()),
        tensor.dtype,
    )


def first_names(keys: list[tuple[str, object]]) -> dict[str, str]:
    """``{name: first name with the same key}`` for every name whose key came before."""
    first: dict[object, str] = {}
    tied = {}
    for name, key in keys:
        if key is None:
            continue
        if key in first:
            tied[name] = first[key]
        else:
            first[key] = name
    return tied


def add_flow(graph: Graph, flow) -> None:
    """Input nodes, an output node and the data-flow edges of ``flow`` (module paths and
    ``input:NAME``) on a prefix graph; skip edges flagged as the other formats do."""
    from ...dag import skip_flags
    from ...graph import EDGE_DATA, EDGE_SKIP, ROLE_INPUT, ROLE_OUTPUT, Edge

    for p in flow.inputs:
        graph.nodes.append(Node(path=p, kind="Input", role=ROLE_INPUT, parent="", depth=1))
    pairs = list(flow.edges)
    if flow.output:
        graph.nodes.append(
            Node(path="output:0", kind="Output", role=ROLE_OUTPUT, parent="", depth=1)
        )
        pairs += [(src, "output:0") for src in sorted(flow.output)]
    graph.__post_init__()  # re-index with the new nodes
    pairs = [(s, d) for s, d in pairs if s in graph and d in graph]
    graph.edges = [
        Edge(s, d, EDGE_SKIP if skip else EDGE_DATA)
        for (s, d), skip in zip(pairs, skip_flags(pairs))
    ]
