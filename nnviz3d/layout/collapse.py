"""The graph as seen at a chosen depth: which nodes are blocks, which groups are outlined."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dag import skip_flags
from ..graph import EDGE_DATA, EDGE_SKIP, ROLE_MODULE, Graph
from .auto_view import AUTO, auto_plan, stack_translation


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
    stacks: dict = field(default_factory=dict)
    """Leader path -> :class:`~.auto_view.Stack` for each stacked run shown (as a block or an
    open group drawn with ``×N`` ghosts)."""


def collapse(
    graph: Graph, depth: int | str | None = None, expand=(), collapse_groups=(), unstack=()
) -> VisibleGraph:
    """Collapse every group at ``depth`` or deeper into one block, except the groups in
    ``expand`` (and their ancestors); groups in ``collapse_groups`` are collapsed whatever
    their depth. ``depth=None`` expands everything; ``depth="auto"`` stacks repeated runs and
    opens groups within a block budget (:mod:`.auto_view`)."""
    if depth == AUTO:
        plan = auto_plan(graph, expand, collapse_groups, unstack)
        vis = _collapse(graph, None, expand, set(collapse_groups) | plan.collapsed, plan.stacks)
        if vis is not None:
            return vis
        # stacking folded the data flow into a cycle (an unusual module order): do without
        plan = auto_plan(graph, expand, collapse_groups, unstack=[n.path for n in graph.nodes])
        return _collapse(graph, None, expand, set(collapse_groups) | plan.collapsed, {})
    return _collapse(graph, depth, expand, collapse_groups, {})


def _collapse(graph: Graph, depth, expand, collapse_groups, stacks) -> VisibleGraph | None:
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

    translate = stack_translation(graph, stacks)
    members: dict[str, str] = {}
    collapsed: set[str] = set()
    for n in graph.nodes:
        if not n.is_unit:
            continue
        rep = translate(n.path)
        chain = graph.ancestors(rep) if graph[rep].parent is not None else []
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
    member_of = _stack_members(stacks)
    for e in graph.edges:
        s, d = members.get(e.src), members.get(e.dst)
        if s is None or d is None or s == d:
            continue
        if member_of:
            ms, md = _member(e.src, member_of), _member(e.dst, member_of)
            if ms is not None and md is not None and ms[0] == md[0] and ms[1] != md[1]:
                continue  # from one layer of a stack to the next: inside the stack
        pairs[(s, d)] = None
    pair_list = list(pairs)
    if stacks and _has_cycle(blocks, pair_list):
        return None
    kinds = [EDGE_SKIP if f else EDGE_DATA for f in skip_flags(pair_list)]
    shown = set(blocks)
    groups = []
    for n in graph.nodes:
        if (
            n.is_group
            and n.path
            and n.path not in collapsed
            and not _hidden(graph, n.path, collapsed)
        ):
            if any(b.startswith(n.path + ".") for b in shown):
                groups.append(n.path)
    groups = _without_wrappers(graph, groups, blocks, stacks)
    shown_stacks = {}
    for leader, st in stacks.items():
        if leader in shown or leader in groups:
            shown_stacks[leader] = st
    return VisibleGraph(
        blocks,
        collapsed,
        groups,
        [(s, d, k) for (s, d), k in zip(pair_list, kinds)],
        members,
        shown_stacks,
    )


WRAPPER_SHARE = 0.85


def _without_wrappers(graph: Graph, groups: list[str], blocks: list[str], stacks) -> list[str]:
    """Outlines that say something: a group holding nearly every block of the model (a
    ``transformer``/``encoder`` wrapper) gets none, nor does a group holding nearly every block
    of its parent (the inner of two nested boxes; for a stack leader, the outer one)."""
    if not groups:
        return groups
    count = {g: 0 for g in groups}
    gset = set(groups)
    for b in blocks:
        for anc in graph.ancestors(b):
            if anc in gset:
                count[anc] += 1
    total = max(len(blocks), 1)
    drop = {g for g in groups if count[g] >= WRAPPER_SHARE * total and total > 8}
    for g in groups:
        parent = next((a for a in graph.ancestors(g) if a in gset), None)
        if parent is None or count[g] < WRAPPER_SHARE * count[parent]:
            continue
        drop.add(parent if g in stacks else g)
    return [g for g in groups if g not in drop or g in stacks]


def _stack_members(stacks) -> dict[str, tuple[str, int]]:
    out = {}
    for leader, st in stacks.items():
        for i, m in enumerate([leader] + st.followers):
            out[m] = (leader, i)
    return out


def _member(path: str, member_of: dict[str, tuple[str, int]]):
    """(leader, index) of the stack member holding ``path``, or None."""
    p = path
    while True:
        if p in member_of:
            return member_of[p]
        if "." not in p:
            return None
        p = p.rpartition(".")[0]


def _has_cycle(nodes: list[str], edges: list[tuple[str, str]]) -> bool:
    indeg = dict.fromkeys(nodes, 0)
    succ: dict[str, list[str]] = {}
    for s, d in edges:
        succ.setdefault(s, []).append(d)
        indeg[d] = indeg.get(d, 0) + 1
    ready = [n for n, k in indeg.items() if k == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for d in succ.get(n, ()):
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    return seen < len(indeg)


def _hidden(graph: Graph, path: str, collapsed: set[str]) -> bool:
    return any(a in collapsed for a in graph.ancestors(path))
