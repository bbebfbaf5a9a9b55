"""Recognise runs of structurally identical sibling blocks (a transformer's N layers)."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from ..graph import ROLE_MODULE, Graph


def mark_repeats(graph: Graph) -> None:
    """Set ``repeat_group``/``repeat_of`` on sibling groups that share one structure.

    Two modules have the same structure when their kinds, parameter shapes and (recursively)
    their children's local names and structures are equal. Only groups (modules with children)
    are marked: a stack of identical ``ReLU`` is not a repeated block.
    """
    children = defaultdict(list)
    for n in graph.nodes:
        if n.parent is not None:
            children[n.parent].append(n)
    sig: dict[str, str] = {}

    def signature(path: str) -> str:
        if path in sig:
            return sig[path]
        n = graph[path]
        parts = [n.role, n.kind, repr(sorted(n.param_shapes.items()))]
        for c in children.get(path, ()):
            local = c.path[len(path) + 1 :] if path else c.path
            parts.append(f"{'#' if local.isdigit() else local}={signature(c.path)}")
        sig[path] = hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]
        return sig[path]

    for _parent, kids in children.items():
        by_sig = defaultdict(list)
        for c in kids:
            if c.role == ROLE_MODULE and c.call_index == 0 and c.is_group:
                by_sig[signature(c.path)].append(c)
        for members in by_sig.values():
            if len(members) < 2:
                continue
            first = members[0]
            group_id = f"{first.path}*{len(members)}"
            for m in members:
                m.repeat_group = group_id
                if m is not first:
                    m.repeat_of = first.path
