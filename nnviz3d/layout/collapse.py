"""The graph as seen at a chosen depth: which nodes are blocks, which groups are outlined."""

from __future__ import annotations

from dataclasses import dataclass

from ..dag import skip_flags
from ..graph import EDGE_DATA, EDGE_SKIP, ROLE_MODULE, Graph


@dataclass
class VisibleGraph:
    blocks: list[str]
    """Paths drawn as one block each, in graph order."""
    collapsed: set[str]
    """Groups drawn as one block (their subtree hidden inside)."""
    groups: list[str]
    """Expanded groups that get an outline around their visible descendants (root excluded)."""
    edges: list[tuple[str, str, str]]
    """``(src block, dst block, kind)`` after collapsing; kinds recomputed at this depth."""
    members: dict[str, str]
    """Unit path -> the block that stands for it."""


def collapse(graph: Graph, depth: int | None = None, expand=(), collapse_groups=()) -> VisibleGraph:
    """Collapse every group at ``depth`` or deeper into one block, except the groups in
    ``expand`` (and their ancestors); groups in ``collapse_groups`` are collapsed whatever
    their depth. ``depth=None`` expands everything."""
    expand = set(expand)
    for path in list(expand):
        if path in graph:
            expand.update(graph.ancestors(path))
    forced = set(collapse_groups)
    unknown = [p for p in expand | forced if p and p not in graph]
    if unknown:
        raise KeyError(f"no such group in {graph.model}: {', '.join(sorted(unknown))}")

    def is_collapsed(path: str) -> bool:
        n = graph[path]
        if not n.is_group or not path or n.role != ROLE_MODULE:
            return False
        if path in forced:
            return True
        return depth is not None and n.depth >= depth and path not in expand

    members: dict[str, str] = {}
    collapsed: set[str] = set()
    for n in graph.nodes:
        if not n.is_unit:
            continue
        rep = n.path
        chain = graph.ancestors(n.path) if n.parent is not None else []
        for anc in reversed(chain):  # outermost first
            if is_collapsed(anc):
                rep = anc
                collapsed.add(anc)
                break
        members[n.path] = rep
    blocks = list(dict.fromkeys(members.values()))
    order = {n.path: i for i, n in enumerate(graph.nodes)}
    blocks.sort(key=order.__getitem__)
    pairs: dict[tuple[str, str], None] = {}
    for e in graph.edges:
        s, d = members.get(e.src), members.get(e.dst)
        if s is None or d is None or s == d:
            continue
        pairs[(s, d)] = None
    pair_list = list(pairs)
    kinds = [EDGE_SKIP if f else EDGE_DATA for f in skip_flags(pair_list)]
    shown = set(blocks)
    groups = []
    for n in graph.nodes:
        if n.is_group and n.path and n.path not in collapsed and not _hidden(graph, n.path,
                                                                             collapsed):
            if any(b.startswith(n.path + ".") for b in shown):
                groups.append(n.path)
    return VisibleGraph(blocks, collapsed, groups,
                        [(s, d, k) for (s, d), k in zip(pair_list, kinds)], members)


def _hidden(graph: Graph, path: str, collapsed: set[str]) -> bool:
    return any(a in collapsed for a in graph.ancestors(path))
