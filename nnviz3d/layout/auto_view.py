"""The first view of a model, chosen for it: repeated blocks stacked, then groups opened
breadth-first while the number of visible blocks stays within a budget.

A *stack* is a run of consecutive sibling modules with one structure (a transformer's 80
decoder layers, found by :func:`nnviz3d.capture.repeats.mark_repeats`). It is drawn as its first
member (the *leader*) with ``×N`` ghosts behind it; every unit of the other members is shown by
the leader's unit with the same relative path, so the leader can be opened like any group and
shows one representative layer with the data flowing in and out of the whole run.

Budget: opening a group costs its number of children minus one. Groups are opened level by level
(shallow first, bigger first within a level) while the total stays within ``AUTO_BLOCKS``, so
the first view shows the structure at one readable granularity instead of 1,600 blocks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..graph import ROLE_MODULE, Graph

AUTO = "auto"
"""``depth`` value that asks for the automatic view (the default of every command)."""
ALL = "all"
"""``depth`` value that opens every group (no stacks): the whole model, every unit a block."""
AUTO_BLOCKS = 64
"""Visible blocks the automatic view aims to stay within."""
STACK_MIN = 3
"""A run of at least this many identical siblings is stacked."""


def layout_depth(depth: int | str | None) -> int | str | None:
    """The layout's depth for a user's ``depth``: None (the default) is the automatic view,
    ``"all"`` every group open, an integer >= 1 groups that deep closed."""
    if depth is None or depth == AUTO:
        return AUTO
    if depth == ALL:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer of 1 or more, 'auto' or 'all', got {depth!r}")
    return depth


def depth_argument(text: str) -> int | str:
    """argparse type of ``--depth``: 'auto', 'all' or an integer of 1 or more."""
    import argparse

    if text in (AUTO, ALL):
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'all' or an integer of 1 or more, got {text!r}"
        )
    return value


@dataclass
class Stack:
    leader: str
    followers: list[str]
    """Members 2..N, in order."""

    @property
    def count(self) -> int:
        return 1 + len(self.followers)

    @property
    def last(self) -> str:
        return self.followers[-1]


@dataclass
class AutoPlan:
    stacks: dict[str, Stack] = field(default_factory=dict)
    """Leader path -> its stack."""
    collapsed: set[str] = field(default_factory=set)
    """Groups the plan keeps closed."""
    expanded: set[str] = field(default_factory=set)
    """Groups the plan opens."""


def children_map(graph: Graph) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = defaultdict(list)
    for n in graph.nodes:
        if n.parent is not None:
            kids[n.parent].append(n.path)
    return kids


def find_stacks(
    graph: Graph, kids: dict[str, list[str]] | None = None, unstack=(), min_count: int = STACK_MIN
) -> dict[str, Stack]:
    """Runs of consecutive identical sibling groups (``repeat_group``), leader -> Stack.

    Only contiguous runs among the parent's module children are stacked (an A,B,A,B list would
    fold its data flow into a cycle); a run with a member in ``unstack`` (or a member that is an
    ancestor of a path in it) stays as it is."""
    kids = children_map(graph) if kids is None else kids
    unstack = set(unstack)
    out: dict[str, Stack] = {}
    for _parent, paths in kids.items():
        run: list[str] = []
        gid = None
        seq = [p for p in paths if graph[p].role == ROLE_MODULE and graph[p].call_index == 0]
        for p in seq + [None]:
            g = graph[p].repeat_group if p is not None else None
            if p is not None and g is not None and g == gid:
                run.append(p)
                continue
            if gid is not None and len(run) >= min_count and not _touched(run, unstack):
                out[run[0]] = Stack(run[0], run[1:])
            run, gid = ([p], g) if p is not None else ([], None)
    return out


def _touched(run: list[str], unstack: set[str]) -> bool:
    """True when a path in ``unstack`` is a member other than the leader (or inside one): the
    leader stands for the stack, opening it shows the representative layer."""
    for u in unstack:
        for m in run[1:]:
            if u == m or u.startswith(m + "."):
                return True
    return False


def stack_translation(graph: Graph, stacks: dict[str, Stack]):
    """A function mapping a path inside a follower to the leader's path for it (or the path
    itself): ``transformer.h.7.attn.c_proj`` -> ``transformer.h.0.attn.c_proj``."""
    leader_of = {f: s.leader for s in stacks.values() for f in s.followers}
    if not leader_of:
        return lambda path: path

    def translate(path: str) -> str:
        for _ in range(64):  # nested stacks: each pass removes one follower prefix
            hit = None
            for anc in [path] + graph.ancestors(path) if path in graph else [path]:
                if anc in leader_of:
                    hit = anc  # keep going: the outermost follower wins
            if hit is None:
                return path
            mapped = leader_of[hit] + path[len(hit) :]
            while mapped not in graph and "." in mapped:
                mapped = mapped.rpartition(".")[0]
            if mapped not in graph:
                return leader_of[hit]
            path = mapped
        return path

    return translate


def auto_plan(
    graph: Graph, expand=(), collapse_groups=(), unstack=(), budget: int = AUTO_BLOCKS
) -> AutoPlan:
    """Which groups the automatic view opens and which runs it stacks."""
    kids = children_map(graph)
    expand = set(expand)
    stacks = find_stacks(graph, kids, unstack=set(unstack) | expand)
    followers = {f for s in stacks.values() for f in s.followers}
    forced_closed = set(collapse_groups)
    forced_open: set[str] = set()
    for p in expand:
        if p in graph:
            forced_open.add(p)
            forced_open.update(graph.ancestors(p))

    has_units: dict[str, bool] = {}

    def shows(path: str) -> bool:
        """True when the node is drawn (as a unit, or as a group holding units)."""
        if path in has_units:
            return has_units[path]
        n = graph[path]
        r = n.is_unit or any(shows(c) for c in kids.get(path, ()))
        has_units[path] = r
        return r

    def collapsible(path: str) -> bool:
        n = graph[path]
        return bool(path) and n.is_group and n.role == ROLE_MODULE

    def open_children(path: str) -> tuple[int, list[str]]:
        """Blocks shown when ``path`` is open and its collapsible child groups are closed,
        and those child groups (non-collapsible groups are looked through)."""
        count, groups = 0, []
        for c in kids.get(path, ()):
            if c in followers or not shows(c):
                continue
            n = graph[c]
            if n.is_group and not collapsible(c):
                k, g = open_children(c)
                count += k
                groups += g
            else:
                count += 1
                if n.is_group:
                    groups.append(c)
        return count, groups

    plan = AutoPlan(stacks=stacks)
    visible, frontier = open_children("")
    queue = list(frontier)
    while queue:
        # shallow first; within a depth the biggest first (ties: graph order)
        queue.sort(key=lambda p: (graph[p].depth, -graph[p].total_params))
        nxt = []
        for g in queue:
            cost, sub = open_children(g)
            fits = visible + cost - 1 <= budget
            if g in forced_open or (fits and g not in forced_closed):
                plan.expanded.add(g)
                visible += cost - 1
                nxt += sub
            else:
                plan.collapsed.add(g)
        queue = nxt
    return plan
