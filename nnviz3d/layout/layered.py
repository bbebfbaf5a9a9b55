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
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..dag import topological_order
from ..graph import Graph
from .collapse import VisibleGraph, collapse
from .sizing import block_size, size_legend

LAYER_GAP = 0.8
BLOCK_GAP = 0.5
ARC_CLEARANCE = 0.6
ARC_STEP = 0.12
SWEEPS = 4


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

    def index(self, path: str) -> int:
        return self._index[path]

    def __post_init__(self) -> None:
        self._index = {p: i for i, p in enumerate(self.paths)}

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return ((self.centers - self.sizes / 2).min(axis=0),
                (self.centers + self.sizes / 2).max(axis=0))


def layout_graph(graph: Graph, depth: int | None = None, expand=(), collapse_groups=()) -> Layout:
    vis = collapse(graph, depth, expand, collapse_groups)
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
    centers: dict[str, tuple[float, float, float]] = {}
    layer_z = np.zeros(n_layers)
    layer_top = np.zeros(n_layers)
    z = 0.0
    for li, row in enumerate(rows):
        thick = max(sizes[b][2] for b in row)
        z += thick / 2
        layer_z[li] = z
        total = sum(sizes[b][0] for b in row) + BLOCK_GAP * (len(row) - 1)
        x = -total / 2
        for b in row:
            sx, sy, _ = sizes[b]
            centers[b] = (x + sx / 2, sy / 2, z)
            x += sx + BLOCK_GAP
        layer_top[li] = max(sizes[b][1] for b in row)
        z += thick / 2 + LAYER_GAP

    index = {b: i for i, b in enumerate(blocks)}
    c_arr = np.array([centers[b] for b in blocks], dtype=np.float32).reshape(-1, 3)
    s_arr = np.array([sizes[b] for b in blocks], dtype=np.float32).reshape(-1, 3)
    l_arr = np.array([layer[b] for b in blocks], dtype=np.int32)
    edges = _route(vis.edges, index, c_arr, s_arr, layer, layer_top)
    groups = _group_boxes(graph, vis, index, c_arr, s_arr)
    meta = {
        "axes": {"forward": "+z", "branches": "x", "up": "+y"},
        "sizing": size_legend(),
        "depth": depth,
        "layers": n_layers,
        "blocks": len(blocks),
    }
    return Layout(blocks, c_arr, s_arr, l_arr, edges, groups, vis, meta)


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


def _route(vis_edges, index, centers, sizes, layer, layer_top) -> list[RoutedEdge]:
    out = []
    arcs_over: dict[int, int] = defaultdict(int)
    for s, d, kind in vis_edges:
        cs, cd = centers[index[s]], centers[index[d]]
        ss, sd = sizes[index[s]], sizes[index[d]]
        start = np.array([cs[0], cs[1], cs[2] + ss[2] / 2], dtype=np.float32)
        end = np.array([cd[0], cd[1], cd[2] - sd[2] / 2], dtype=np.float32)
        ls, ld = layer[s], layer[d]
        if ld - ls <= 1:
            pts = np.stack([start, end])
        else:
            between = layer_top[ls + 1:ld]
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


def _group_boxes(graph: Graph, vis: VisibleGraph, index, centers, sizes) -> list[GroupBox]:
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
        lo = lo_all[idx].min(axis=0) - pad
        hi = hi_all[idx].max(axis=0) + pad
        lo[1] = max(lo[1], -pad)
        boxes.append(GroupBox(g, node.kind, node.depth, lo.astype(np.float32),
                              hi.astype(np.float32)))
    return boxes


def _levels_below(path: str, groups: set[str], graph: Graph) -> int:
    deepest = 0
    prefix = path + "."
    for g in groups:
        if g.startswith(prefix):
            deepest = max(deepest, graph[g].depth - graph[path].depth)
    return deepest
