"""ONNX (``.onnx``): a protobuf ``ModelProto``, read with the ``onnx`` package.

Each graph node becomes an op block (kind = ``op_type``) whose parameters are the initializers
it consumes; a tensor produced by one node and consumed by another is an edge (a skip edge
when the consumer is also reachable another way: a residual). Graph inputs that are not
initializers are input nodes, graph outputs output nodes. Shapes come from ONNX shape
inference where it succeeds.

External tensor data (models over 2 GB) is never read, not even for weight views: an
initializer's ``location`` is a path the file chooses (relative ones resolve against the
current directory), so such initializers are shapes only. Every other initializer must hold
exactly the data its dims and type claim (:func:`_check_initializers`) before anything is
converted: a header claiming 200,000 x 200,000 over 4 bytes is refused in one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ...dag import skip_flags
from ...graph import EDGE_DATA, EDGE_SKIP, ROLE_INPUT, ROLE_OP, ROLE_OUTPUT, Edge, Graph, Node
from .errors import ModelFileError
from .storage_bounds import check_shape

SUB_BYTE_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2, 27: 6, 28: 6}
"""Bits per element of the packed types (UINT4, INT4, FLOAT4E2M1, UINT2, INT2, FLOAT6...)."""
COMPLEX = (14, 15)

FIELD_TAGS = {0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72}
"""Tags of ModelProto fields 2-8 and 14 (producer_name ... opset_import, metadata_props)."""


class OnnxFormat:
    name = "ONNX"
    extensions = (".onnx",)

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        """A ModelProto starts with field 1 (ir_version, a varint: tag 0x08) followed by
        another ModelProto field's tag (producer name, version, domain, graph, opsets...)."""
        if head[:1] != b"\x08":
            return False
        i = 1
        while i < len(head) and head[i] & 0x80:  # the varint's continuation bytes
            i += 1
        return i + 1 < len(head) and head[i + 1] in FIELD_TAGS

    @staticmethod
    def open(path: Path) -> Graph:
        model = _load(path)
        _check_initializers(model.graph, path)
        return _graph(model, path)

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(NODE.INITIALIZER, tensor)`` of the floating-point initializers, each under the
        first node that consumes it (external data is never read: skipped)."""
        import torch
        from onnx import numpy_helper

        g = _load(path, infer=False).graph
        external = _check_initializers(g, path)
        inits = {t.name: t for t in g.initializer if t.name not in external}
        done: set[str] = set()
        for n, node_path in zip(g.node, _node_paths(g)):
            for name in n.input:
                if name not in inits or name in done:
                    continue
                done.add(name)
                try:
                    array = numpy_helper.to_array(inits[name])
                except Exception:  # noqa: BLE001, S112 - external or malformed data: no view
                    continue
                if array.dtype.kind == "f" and array.size:
                    yield f"{node_path}.{_clean(name)}", torch.from_numpy(array.copy())


def _load(path: Path, infer: bool = True):
    try:
        import onnx
    except ImportError:
        raise ModelFileError(
            f"{path}: reading .onnx files needs the 'formats' extra (onnx is "
            f"not installed): pip install 'nnviz3d[formats]'"
        ) from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf errors vary: one sentence
        raise ModelFileError(
            f"{path}: expected an ONNX model; found bytes that do not "
            f"parse as one ({type(exc).__name__})"
        ) from None
    if infer:
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001, S110 - shapes are a bonus
            pass
    return model


def _is_external(t) -> bool:
    """Whether initializer ``t`` keeps its data in another file (never read)."""
    from onnx import TensorProto

    return t.data_location == TensorProto.EXTERNAL or len(t.external_data) > 0


def _check_initializers(g, path: Path) -> set[str]:
    """The names of the external (shape-only) initializers, after refusing, in one sentence,
    any initializer whose dims are not sane or whose data is not exactly what its dims and
    type claim."""
    from onnx import helper

    external = set()
    for t in g.initializer:
        what = f"initializer {t.name[:80]!r}"
        n = check_shape(path, what, [int(d) for d in t.dims])
        if _is_external(t):
            external.add(t.name)
            continue
        try:
            bits = (
                SUB_BYTE_BITS.get(t.data_type)
                or helper.tensor_dtype_to_np_dtype(t.data_type).itemsize * 8
            )
            field = helper.tensor_dtype_to_field(t.data_type)
        except (KeyError, ValueError, TypeError):
            raise ModelFileError(
                f"{path}: expected {what} to have a known data type; found type {t.data_type}"
            ) from None
        packed = -(-n * bits // 8)
        if t.HasField("raw_data"):
            have, need, unit = len(t.raw_data), packed, "bytes"
        else:
            have = len(getattr(t, field))
            need = (
                packed if t.data_type in SUB_BYTE_BITS else n * (2 if t.data_type in COMPLEX else 1)
            )
            unit = "values"
        if have != need:
            raise ModelFileError(
                f"{path}: expected {what} (dims {list(t.dims)}) to hold "
                f"{need:,} {unit} of data; found {have:,} (corrupt or "
                f"hostile file)"
            )
    return external


def _graph(model, path: Path) -> Graph:
    g = model.graph
    if not g.node:
        raise ModelFileError(f"{path}: expected an ONNX model with a graph; found no nodes")
    sizes = {t.name: _numel(t.dims) for t in g.initializer}
    shapes = {t.name: list(t.dims) for t in g.initializer}
    value_shapes = {v.name: _shape(v) for v in [*g.input, *g.value_info, *g.output]}
    nodes = [Node(path="", kind=g.name or path.stem, is_group=True)]
    producer: dict[str, str] = {}
    for inp in g.input:
        if inp.name in sizes:
            continue
        p = f"input:{_clean(inp.name)}"
        nodes.append(
            Node(
                path=p,
                kind="Input",
                role=ROLE_INPUT,
                parent="",
                depth=1,
                output_shapes=[value_shapes.get(inp.name) or []],
            )
        )
        producer[inp.name] = p
    total = 0
    for n, p in zip(g.node, _node_paths(g)):
        params = {name: shapes[name] for name in n.input if name in sizes}
        count = sum(sizes[name] for name in params)
        total += count
        nodes.append(
            Node(
                path=p,
                kind=n.op_type,
                role=ROLE_OP,
                parent="",
                depth=1,
                module_path="",
                params=count,
                trainable_params=count,
                total_params=count,
                total_trainable_params=count,
                param_shapes={_clean(k): v for k, v in params.items()},
                input_shapes=[value_shapes.get(x) or [] for x in n.input if x and x not in sizes],
                output_shapes=[value_shapes.get(x) or [] for x in n.output],
            )
        )
        for out in n.output:
            producer[out] = p
    pairs: list[tuple[str, str]] = []
    for i, n in enumerate(g.node):
        dst = nodes[len(nodes) - len(g.node) + i].path
        for x in n.input:
            if x in producer and (producer[x], dst) not in pairs:
                pairs.append((producer[x], dst))
    for k, out in enumerate(g.output):
        p = f"output:{k}"
        nodes.append(
            Node(
                path=p,
                kind="Output",
                role=ROLE_OUTPUT,
                parent="",
                depth=1,
                input_shapes=[value_shapes.get(out.name) or []],
            )
        )
        if out.name in producer:
            pairs.append((producer[out.name], p))
    nodes[0].total_params = nodes[0].total_trainable_params = total
    edges = [
        Edge(s, d, EDGE_SKIP if skip else EDGE_DATA)
        for (s, d), skip in zip(pairs, skip_flags(pairs))
    ]
    return Graph(
        model=g.name or path.stem,
        strategy="onnx",
        nodes=nodes,
        edges=edges,
        total_params=total,
        trainable_params=total,
    )


def _node_paths(g) -> list[str]:
    """Each node's path segment: its name without dots or slashes, made unique."""
    used: set[str] = set()
    return [
        _unique(_clean(n.name) or f"{n.op_type.lower()}_{i}", used) for i, n in enumerate(g.node)
    ]


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _shape(value) -> list:
    try:
        dims = value.type.tensor_type.shape.dim
    except AttributeError:
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]


def _clean(name: str) -> str:
    """A path segment without dots or slashes (ONNX names like ``/stem/stem.0/Conv``)."""
    return re.sub(r"[./\\:]+", "_", name).strip("_")


def _unique(name: str, used: set[str]) -> str:
    out, k = name, 1
    while out in used:
        k += 1
        out = f"{name}_{k}"
    used.add(out)
    return out
