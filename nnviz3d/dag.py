"""Small DAG algorithms on string-keyed nodes: topological order, reachability, skip edges."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def topological_order(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """Kahn's algorithm; ties broken by the order of ``nodes`` (deterministic). Nodes on a
    cycle, which a forward pass cannot produce, are appended in their given order."""
    nodes = list(dict.fromkeys(nodes))
    rank = {n: i for i, n in enumerate(nodes)}
    succ: dict[str, list[str]] = defaultdict(list)
    indeg = dict.fromkeys(nodes, 0)
    for s, d in edges:
        succ[s].append(d)
        indeg[d] += 1
    import heapq

    ready = [(rank[n], n) for n in nodes if indeg[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, n = heapq.heappop(ready)
        order.append(n)
        for d in succ[n]:
            indeg[d] -= 1
            if indeg[d] == 0:
                heapq.heappush(ready, (rank[d], d))
    if len(order) < len(nodes):
        placed = set(order)
        order += [n for n in nodes if n not in placed]
    return order


def skip_flags(edges: list[tuple[str, str]]) -> list[bool]:
    """For each edge (u, v): True when v is also reachable from u through other nodes
    (a residual / skip connection). Reachability is a bitset per node, one topological sweep."""
    nodes = list(dict.fromkeys([s for s, _ in edges] + [d for _, d in edges]))
    order = topological_order(nodes, edges)
    index = {n: i for i, n in enumerate(nodes)}
    succ: dict[str, list[str]] = defaultdict(list)
    for s, d in edges:
        succ[s].append(d)
    reach: dict[str, int] = {}
    for n in reversed(order):
        r = 0
        for d in succ[n]:
            r |= (1 << index[d]) | reach.get(d, 0)
        reach[n] = r
    flags = []
    for s, d in edges:
        bit = 1 << index[d]
        flags.append(any(m != d and reach.get(m, 0) & bit for m in succ[s]))
    return flags
