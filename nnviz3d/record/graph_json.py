"""A recording's graph as JSON, and back: every field checked against the dataclasses of
nnviz3d/graph.py, so a damaged or hostile recording is refused with the field it got wrong
instead of failing later in layout or the viewer."""

from __future__ import annotations

import dataclasses
import math
import types
import typing

from ..graph import Edge, Graph, Node

MAX_NODES = 1_000_000
MAX_SHAPE_DIMS = 64


class GraphJSONError(ValueError):
    """What is wrong with a graph read from a recording (the reader names the file)."""


def graph_to_json(graph: Graph) -> dict:
    return {
        "model": graph.model,
        "strategy": graph.strategy,
        "device": graph.device,
        "total_params": graph.total_params,
        "trainable_params": graph.trainable_params,
        "seconds": graph.seconds,
        "notes": graph.notes,
        "nodes": [dataclasses.asdict(n) for n in graph.nodes],
        "edges": [dataclasses.asdict(e) for e in graph.edges],
    }


def graph_from_json(d) -> Graph:
    """The :class:`Graph` of ``d``; :class:`GraphJSONError` says what does not fit."""
    if not isinstance(d, dict):
        raise GraphJSONError(f"the graph is a JSON {_json_type(d)}, not an object")
    top = {
        "model": str,
        "strategy": str,
        "device": str,
        "total_params": int,
        "trainable_params": int,
        "seconds": float,
        "notes": list[str],
        "nodes": list,
        "edges": list,
    }
    required = {"model", "strategy", "total_params", "trainable_params", "nodes", "edges"}
    _check_fields(d, top, required, "the graph")
    for key in ("nodes", "edges"):
        if len(d[key]) > MAX_NODES:
            raise GraphJSONError(f"the graph claims {len(d[key]):,} {key}, more than {MAX_NODES:,}")
    nodes = [_instance(Node, n, f"node {i}") for i, n in enumerate(d["nodes"])]
    edges = [_instance(Edge, e, f"edge {i}") for i, e in enumerate(d["edges"])]
    paths = {n.path for n in nodes}
    if len(paths) != len(nodes):
        raise GraphJSONError("the graph has two nodes with the same path")
    for i, n in enumerate(nodes):
        if n.parent is not None and n.parent not in paths:
            raise GraphJSONError(
                f"node {i} ({_short(n.path)}) has parent "
                f"{_short(n.parent)}, which is no node of the graph"
            )
    for i, e in enumerate(edges):
        for end in (e.src, e.dst):
            if end not in paths:
                raise GraphJSONError(
                    f"edge {i} ends at {_short(end)}, which is no node of the graph"
                )
    return Graph(
        model=d["model"],
        strategy=d["strategy"],
        device=d.get("device", "cpu"),
        total_params=d["total_params"],
        trainable_params=d["trainable_params"],
        seconds=float(d.get("seconds", 0.0)),
        notes=list(d.get("notes", [])),
        nodes=nodes,
        edges=edges,
    )


def _instance(cls, d, where: str):
    if not isinstance(d, dict):
        raise GraphJSONError(f"{where} is a JSON {_json_type(d)}, not an object")
    hints = _hints(cls)
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    _check_fields(d, hints, required, where)
    return cls(**d)


def _hints(cls) -> dict:
    fields = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in fields}


def _check_fields(d: dict, hints: dict, required: set[str], where: str) -> None:
    unknown = [k for k in d if k not in hints]
    if unknown:
        raise GraphJSONError(f"{where} has unknown field {_short(unknown[0])}")
    missing = sorted(required - set(d))
    if missing:
        raise GraphJSONError(f"{where} has no {missing[0]!r}")
    for key, value in d.items():
        if not _fits(value, hints[key]):
            raise GraphJSONError(
                f"{where}: {key!r} is {_short(value)}, not {_type_name(hints[key])}"
            )


def _fits(value, hint, depth: int = 0) -> bool:
    """Whether JSON ``value`` is of type ``hint`` (str, int, float, bool, None, unions,
    ``list[X]``, ``dict[str, X]``); a shape's entries may also be strings or None (symbolic
    sizes)."""
    if depth > 8:
        return False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h, depth + 1) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    if hint is str:
        return isinstance(value, str)
    if hint is list:
        return isinstance(value, list)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            return False
        if item is int:  # a shape
            return len(value) <= MAX_SHAPE_DIMS and all(
                isinstance(v, (int, str)) and not isinstance(v, bool) or v is None for v in value
            )
        return all(_fits(v, item, depth + 1) for v in value)
    if origin is dict:
        _, item = typing.get_args(hint)
        return isinstance(value, dict) and all(_fits(v, item, depth + 1) for v in value.values())
    return False


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint)


def _json_type(value) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
