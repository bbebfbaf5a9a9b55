"""Layered 3D placement: forward along +z, parallel branches spread along x, y up.

1. Layers: longest path from the inputs in the collapsed DAG (every edge goes forward).
2. Order within a layer: barycentre of predecessors and successors, a few sweeps each way,
   ties broken by graph order (deterministic: same model, same positions).
3. Coordinates: each layer is a slab along z as thick as its thickest block; its blocks sit
   side by side along x with a gap, centred on x = 0, bottoms on the floor (y = 0). Slabs
   never share z and blocks in one slab never share x, so no two blocks overlap.
4. Edges between adjacent layers are straight; edges that skip layers arc over the blocks
   they pass (above the tallest of them), so residual connections are visibly routed around.
5. Expanded groups get an outline box around their visible descendants.
6. A long chain folds into rows, like lines of text: each row runs forward along +z from z = 0,
   rows are stacked along -x (the first row farthest from the default camera, so it reads top
   to bottom on screen). Folds fall only between layers that no group outline spans, and the
   number of rows makes the footprint about as wide as a screen. Edges that leave a row run
   through the gap beside the next row, like a carriage return.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..dag import topological_order
from ..graph import Graph
from .collapse import VisibleGraph, collapse
from .sizing import block_size, size_legend

LAYER_GAP = 0.45
BLOCK_GAP = 0.35
ARC_CLEARANCE = 0.6
ARC_STEP = 0.12
SWEEPS = 4
ROW_GAP = 3.0
"""Space between folded rows (room for the carriage-return edges and stack ghosts)."""
FOLD_ASPECT = 1.6
"""Folding aims for row length ≈ FOLD_ASPECT × the footprint's width (seen from the default
camera, elevated about 35°, that fills a 16:10 screen)."""
STACK_SHIFT = 0.18
"""Offset of each ghost behind a stacked block (+x, +y)."""
STACK_GHOSTS = 3


@dataclass
class RoutedEdge:
    src: str
    dst: str
    kind: str
    points: np.ndarray
    """``(k, 3)`` float32 polyline from the source block to the destination block."""


@dataclass
class GroupBox:
    path: str
    kind: str
    depth: int
    lo: np.ndarray
    hi: np.ndarray
    part: int = 0
    """A group cut by a fold has one box per line: 0, 1, ..."""


@dataclass
class Layout:
    paths: list[str]
    centers: np.ndarray
    """``(N, 3)`` float32 block centres."""
    sizes: np.ndarray
    """``(N, 3)`` float32 block extents."""
    layers: np.ndarray
    """``(N,)`` int32 layer index along the forward axis."""
    edges: list[RoutedEdge]
    groups: list[GroupBox]
    visible: VisibleGraph
    meta: dict = field(default_factory=dict)
    lines: np.ndarray | None = None
    """``(N,)`` int32: the folded line (row) each block is on, 0 first."""

    def index(self, path: str) -> int:
        return self._index[path]

    def __post_init__(self) -> None:
        self._index = {p: i for i, p in enumerate(self.paths)}

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            (self.centers - self.sizes / 2).min(axis=0),
            (self.centers + self.sizes / 2).max(axis=0),
        )


def layout_graph(
    graph: Graph,
    depth: int | str | None = None,
    expand=(),
    collapse_groups=(),
    unstack=(),
    fold: bool = True,
) -> Layout:
    """``depth``: ``"auto"`` (stacked repeats, a block budget), ``None`` (everything open) or
    an integer (groups that deep are closed); ``fold=False`` keeps one straight row."""
    vis = collapse(graph, depth, expand, collapse_groups, unstack)
    blocks = vis.blocks
    pairs = [(s, d) for s, d, _ in vis.edges]
    order = topological_order(blocks, pairs)
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for s, d in pairs:
        preds[d].append(s)
        succs[s].append(d)

    layer: dict[str, int] = {}
    for b in order:
        layer[b] = max((layer[p] + 1 for p in preds[b] if p in layer), default=0)
    n_layers = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(n_layers)]
    for b in blocks:
        rows[layer[b]].append(b)

    _order_rows(rows, preds, succs)

    sizes = {}
    for b in blocks:
        node = graph[b]
        params = node.total_params if b in vis.collapsed else node.params
        sizes[b] = block_size(node, params)
    stacked = {b for b in vis.stacks if b in vis.collapsed or graph[b].is_unit}
    ghost = STACK_SHIFT * STACK_GHOSTS
    local_x: dict[str, float] = {}
    layer_thick = np.zeros(n_layers)
    layer_width = np.zeros(n_layers)
    layer_top = np.zeros(n_layers)
    for li, row in enumerate(rows):
        layer_thick[li] = max(sizes[b][2] for b in row)
        foot = [sizes[b][0] + (ghost if b in stacked else 0.0) for b in row]
        total = sum(foot) + BLOCK_GAP * (len(row) - 1)
        x = -total / 2
        for b, f in zip(row, foot):
            local_x[b] = x + sizes[b][0] / 2
            x += f + BLOCK_GAP
        layer_width[li] = total
        layer_top[li] = max(sizes[b][1] for b in row)
    line_of = (
        _fold(rows, layer_thick, layer_width, _group_spans(vis, layer, graph))
        if fold
        else np.zeros(n_layers, dtype=np.int64)
    )
    n_lines = int(line_of.max()) + 1 if n_layers else 1
    # z along each line, restarting at 0; lines stacked along -x, first line at the back
    layer_z = np.zeros(n_layers)
    z, prev = 0.0, 0
    for li in range(n_layers):
        if line_of[li] != prev:
            z, prev = 0.0, line_of[li]
        z += layer_thick[li] / 2
        layer_z[li] = z
        z += layer_thick[li] / 2 + LAYER_GAP
    line_w = np.array([layer_width[line_of == r].max() + 2.0 for r in range(n_lines)])
    line_x = np.zeros(n_lines)
    for r in range(1, n_lines):
        line_x[r] = line_x[r - 1] - (line_w[r - 1] / 2 + ROW_GAP + line_w[r] / 2)
    line_x -= (line_x[0] + line_x[-1]) / 2
    centers: dict[str, tuple[float, float, float]] = {}
    for li, row in enumerate(rows):
        for b in row:
            centers[b] = (local_x[b] + line_x[line_of[li]], sizes[b][1] / 2, layer_z[li])

    index = {b: i for i, b in enumerate(blocks)}
    c_arr = np.array([centers[b] for b in blocks], dtype=np.float32).reshape(-1, 3)
    s_arr = np.array([sizes[b] for b in blocks], dtype=np.float32).reshape(-1, 3)
    l_arr = np.array([layer[b] for b in blocks], dtype=np.int32)
    edges = _route(vis.edges, index, c_arr, s_arr, layer, layer_top, line_of, line_x, line_w)
    block_line = np.array([line_of[layer[b]] for b in blocks], dtype=np.int64)
    groups = _group_boxes(graph, vis, index, c_arr, s_arr, block_line)
    meta = {
        "axes": {"forward": "+z", "branches": "x", "up": "+y"},
        "sizing": size_legend(),
        "depth": depth,
        "layers": n_layers,
        "blocks": len(blocks),
        "rows": n_lines,
        "stacks": {b: st.count for b, st in vis.stacks.items()},
    }
    return Layout(
        blocks, c_arr, s_arr, l_arr, edges, groups, vis, meta, block_line.astype(np.int32)
    )


def _order_rows(rows, preds, succs) -> None:
    pos = {b: i for row in rows for i, b in enumerate(row)}
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        seq = rows if down else rows[::-1]
        for row in seq:
            neigh = preds if down else succs
            keyed = []
            for i, b in enumerate(row):
                ns = [pos[n] for n in neigh[b] if n in pos]
                keyed.append((sum(ns) / len(ns) if ns else float(i), i, b))
            keyed.sort()
            row[:] = [b for _, _, b in keyed]
            for i, b in enumerate(row):
                pos[b] = i


def _route(
    vis_edges, index, centers, sizes, layer, layer_top, line_of, line_x, line_w
) -> list[RoutedEdge]:
    out = []
    arcs_over: dict[int, int] = defaultdict(int)
    gap_lanes: dict[int, int] = defaultdict(int)
    for s, d, kind in vis_edges:
        cs, cd = centers[index[s]], centers[index[d]]
        ss, sd = sizes[index[s]], sizes[index[d]]
        start = np.array([cs[0], cs[1], cs[2] + ss[2] / 2], dtype=np.float32)
        end = np.array([cd[0], cd[1], cd[2] - sd[2] / 2], dtype=np.float32)
        ls, ld = layer[s], layer[d]
        if line_of[ls] != line_of[ld]:
            # a carriage return: out of the source, along the gap beside the destination's
            # line back to its start, into the destination
            r = int(line_of[ld])
            lane = gap_lanes[r]
            gap_lanes[r] += 1
            gx = line_x[r] + line_w[r] / 2 + ROW_GAP * (0.5 - 0.08 * min(lane, 5))
            y = 0.25 + 0.1 * min(lane, 8)
            out_z = start[2] + LAYER_GAP / 2
            in_z = end[2] - LAYER_GAP / 2
            pts = np.array(
                [
                    start,
                    [start[0], y, out_z],
                    [gx, y, out_z],
                    [gx, y, in_z],
                    [end[0], y, in_z],
                    end,
                ],
                dtype=np.float32,
            )
        elif ld - ls <= 1:
            pts = np.stack([start, end])
        else:
            between = layer_top[ls + 1 : ld]
            lane = max(arcs_over[li] for li in range(ls + 1, ld))
            for li in range(ls + 1, ld):
                arcs_over[li] = lane + 1
            y = float(between.max()) + ARC_CLEARANCE + ARC_STEP * lane
            top_s = np.array([cs[0], max(y, cs[1] + ss[1] / 2), start[2]], dtype=np.float32)
            top_d = np.array([cd[0], max(y, cd[1] + sd[1] / 2), end[2]], dtype=np.float32)
            rise = np.array([cs[0], cs[1] + ss[1] / 2, cs[2]], dtype=np.float32)
            fall = np.array([cd[0], cd[1] + sd[1] / 2, cd[2]], dtype=np.float32)
            pts = np.stack([rise, top_s, top_d, fall])
        out.append(RoutedEdge(s, d, kind, pts.astype(np.float32)))
    return out


def _group_boxes(
    graph: Graph, vis: VisibleGraph, index, centers, sizes, block_line
) -> list[GroupBox]:
    lo_all = centers - sizes / 2
    hi_all = centers + sizes / 2
    prefix_members: dict[str, list[int]] = defaultdict(list)
    group_set = set(vis.groups)
    for b, i in index.items():
        for anc in graph.ancestors(b):
            if anc in group_set:
                prefix_members[anc].append(i)
    boxes = []
    for g in vis.groups:
        idx = prefix_members.get(g)
        if not idx:
            continue
        node = graph[g]
        levels = _levels_below(g, group_set, graph)
        pad = 0.15 * (1 + levels)
        idx = np.asarray(idx)
        for part, line in enumerate(sorted(set(block_line[idx].tolist()))):
            on = idx[block_line[idx] == line]
            lo = lo_all[on].min(axis=0) - pad
            hi = hi_all[on].max(axis=0) + pad
            lo[1] = max(lo[1], -pad)
            boxes.append(
                GroupBox(
                    g, node.kind, node.depth, lo.astype(np.float32), hi.astype(np.float32), part
                )
            )
    return boxes


def _levels_below(path: str, groups: set[str], graph: Graph) -> int:
    deepest = 0
    prefix = path + "."
    for g in groups:
        if g.startswith(prefix):
            deepest = max(deepest, graph[g].depth - graph[path].depth)
    return deepest


def _group_spans(vis: VisibleGraph, layer: dict[str, int], graph: Graph) -> list[tuple[int, int]]:
    """Layer range of each outlined group (a fold must not cut through an outline)."""
    spans = []
    for g in vis.groups:
        prefix = g + "."
        ls = [layer[b] for b in vis.blocks if b.startswith(prefix)]
        if ls:
            spans.append((min(ls), max(ls)))
    return spans


def _fold(rows, thick, width, spans) -> np.ndarray:
    """Line index of each layer: about sqrt(length / (FOLD_ASPECT × width)) lines. Each fold
    goes to the layer boundary near its ideal place that cuts the fewest group outlines (an
    outline spanning most of the model, a wrapper, hardly counts; a cut one is drawn in parts)."""
    n = len(rows)
    line_of = np.zeros(n, dtype=np.int64)
    if n < 4:
        return line_of
    ends = np.cumsum(thick + LAYER_GAP)  # z just after each layer
    length = float(ends[-1])
    # a typical line's width (one wide layer, an encoder beside its decoder, should not stop
    # the fold; lines are spaced by their real widths afterwards)
    w = float(np.percentile(width, 75)) + 2.0
    k = int(round(np.sqrt(length / (FOLD_ASPECT * (w + ROW_GAP)))))
    if k < 2:
        return line_of
    cost = np.zeros(n)  # of a fold after layer i
    for lo, hi in spans:
        cost[lo:hi] += 0.05 if hi - lo > 0.5 * n else 0.6
    cuts: list[int] = []
    per = length / k
    for j in range(1, k):
        target = j * per
        lo = cuts[-1] + 1 if cuts else 0
        options = [i for i in range(lo, n - 1) if abs(ends[i] - target) < 0.45 * per]
        if options:
            cuts.append(min(options, key=lambda i: cost[i] + abs(ends[i] - target) / per))
    for c in cuts:
        line_of[c + 1 :] += 1
    return line_of
