"""A :class:`~nnviz3d.scene.Scene` as one binary ``scene`` frame.

Header: scene meta plus, per block/group/label/edge, the non-numeric facts (path, kind,
text, shapes as metadata). Arrays: every position, extent, colour and edge polyline.

==================  =======  =====================================================
array               dtype    shape
==================  =======  =====================================================
block_position      f4       (B, 3) centre
block_scale         f4       (B, 3) extent
block_color         u1       (B, 3) sRGB 0-255
block_instance      i4       (B,)   index of the first block of its repeat, or -1
group_position      f4       (G, 3)
group_scale         f4       (G, 3)
group_color         u1       (G, 3)
label_position      f4       (L, 3)
label_size          f4       (L,)   text height in scene units
edge_offsets        u4       (E+1,) edge e's points are edge_points[off[e]:off[e+1]]
edge_points         f4       (P, 3)
edge_color          u1       (E, 3)
==================  =======  =====================================================
"""

from __future__ import annotations

import numpy as np

from ..scene.nodes import BLOCK, EDGE, GROUP, LABEL, Scene
from .codec import decode_frame, encode_frame

SCENE = "scene"


def encode_scene(scene: Scene, version: int = 0) -> bytes:
    blocks = scene.of_type(BLOCK)
    groups = scene.of_type(GROUP)
    labels = scene.of_type(LABEL)
    edges = scene.of_type(EDGE)
    first_of: dict[str, int] = {}
    instance = np.full(len(blocks), -1, np.int32)
    for i, b in enumerate(blocks):
        if b.instance_of is not None:
            instance[i] = first_of.setdefault(b.instance_of, i)
    header = {
        "type": SCENE,
        "version": version,
        "meta": scene.meta,
        "blocks": [{"path": b.path, **b.meta} for b in blocks],
        "groups": [{"path": g.path, "opacity": g.opacity, **g.meta} for g in groups],
        "labels": [{"path": lb.path, "text": lb.text, "for": lb.meta.get("for")} for lb in labels],
        "edges": [{"path": e.path, **e.meta} for e in edges],
    }
    counts = [len(e.points) for e in edges]
    offsets = np.zeros(len(edges) + 1, np.uint32)
    offsets[1:] = np.cumsum(counts, dtype=np.uint64) if counts else []
    arrays = {
        "block_position": _stack(b.position for b in blocks),
        "block_scale": _stack(b.scale for b in blocks),
        "block_color": _colors(b.color for b in blocks),
        "block_instance": instance,
        "group_position": _stack(g.position for g in groups),
        "group_scale": _stack(g.scale for g in groups),
        "group_color": _colors(g.color for g in groups),
        "label_position": _stack(lb.position for lb in labels),
        "label_size": np.array([lb.scale[1] for lb in labels], np.float32),
        "edge_offsets": offsets,
        "edge_points": _stack(p for e in edges for p in e.points),
        "edge_color": _colors(e.color for e in edges),
    }
    return encode_frame(header, arrays)


def decode_scene(buf: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    header, arrays = decode_frame(buf)
    if header.get("type") != SCENE:
        raise ValueError(f"expected a scene frame, got {header.get('type')!r}")
    return header, arrays


def _stack(vectors) -> np.ndarray:
    rows = list(vectors)
    return np.asarray(rows, np.float32).reshape(-1, 3)


def _colors(colors) -> np.ndarray:
    rows = [tuple(c) for c in colors]
    return np.clip(np.round(np.asarray(rows, np.float64).reshape(-1, 3) * 255), 0, 255).astype(
        np.uint8
    )
