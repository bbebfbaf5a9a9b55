"""Triangle geometry of a glTF export (numpy in, trimesh out): boxes, edge tubes, weight
carpets and bias bars, placed where the viewer places them (web/src/overlays.ts)."""

from __future__ import annotations

import numpy as np

TUBE_RADIUS = 0.018
TUBE_SIDES = 6
CARPET_START, CARPET_DEPTH, BARS_START, BARS_DEPTH = 0.08, 0.48, 0.6, 0.1
"""Where weight maps and bias bars lie in front of their block (overlays.ts)."""
RELIEF_MAX, RELIEF_PER_CELL, BAR_HEIGHT = 0.05, 0.6, 0.12
RELIEF_SEGMENTS = 64
"""Most quads per side of a weight carpet's relief (overlayMeshes.ts)."""


def unit_box():
    """A 1 x 1 x 1 box centred on the origin: every block and group box is this mesh, scaled
    by its node, so all blocks of one colour share one glTF mesh."""
    import trimesh

    return trimesh.creation.box(extents=(1.0, 1.0, 1.0))


def tube(points: np.ndarray, radius: float = TUBE_RADIUS, sides: int = TUBE_SIDES):
    """An open prism of ``sides`` faces around each segment of a polyline (one mesh)."""
    import trimesh

    p = np.asarray(points, np.float64).reshape(-1, 3)
    a, b = p[:-1], p[1:]
    d = b - a
    keep = np.linalg.norm(d, axis=1) > 1e-9
    a, b, d = a[keep], b[keep], d[keep]
    if not len(a):
        return None
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    helper = np.where(np.abs(d[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(d, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(d, u)
    ang = np.arange(sides) * (2 * np.pi / sides)
    ring = np.cos(ang)[None, :, None] * u[:, None] + np.sin(ang)[None, :, None] * v[:, None]
    ring *= radius
    verts = np.concatenate([a[:, None] + ring, b[:, None] + ring], axis=1)  # (S, 2k, 3)
    k = np.arange(sides)
    k1 = (k + 1) % sides
    quad = np.stack(
        [np.stack([k, k1, sides + k1], 1), np.stack([k, sides + k1, sides + k], 1)], 1
    ).reshape(-1, 3)
    faces = quad[None] + (np.arange(len(a)) * 2 * sides)[:, None, None]
    return trimesh.Trimesh(verts.reshape(-1, 3), faces.reshape(-1, 3), process=False)


def carpet(heights: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A weight map lying on the floor: ``width`` along x, CARPET_DEPTH along z, relief
    ``relief * (1 + h)`` as in overlayMeshes.ts ``gridMesh``. Returns vertices (centred on its
    own origin in x and z), faces and texture coordinates (row 0 at the block's side)."""
    h = np.asarray(heights, np.float32)
    rows, cols = h.shape
    relief = min(RELIEF_MAX, RELIEF_PER_CELL * min(width / cols, CARPET_DEPTH / rows))
    sx, sz = min(cols, RELIEF_SEGMENTS), min(rows, RELIEF_SEGMENTS)
    u = np.linspace(0, 1, sx + 1)
    w = np.linspace(0, 1, sz + 1)  # 0 at the block's side (-z end), 1 at the far end
    uu, ww = np.meshgrid(u, w)
    c = np.minimum(np.floor(uu * cols).astype(int), cols - 1)
    r = np.minimum(np.floor(ww * rows).astype(int), rows - 1)
    y = relief * (1 + h[r, c]) + 0.004
    verts = np.stack([(uu - 0.5) * width, y, (ww - 0.5) * CARPET_DEPTH], -1).reshape(-1, 3)
    i = np.arange(sz)[:, None] * (sx + 1) + np.arange(sx)[None, :]
    i = i.reshape(-1)
    faces = np.concatenate(
        [np.stack([i, i + sx + 1, i + 1], 1), np.stack([i + 1, i + sx + 1, i + sx + 2], 1)]
    )
    # glTF's texture origin is the image's top-left: image row 0 (matrix row 0) at v = 0
    uv = np.stack([uu, ww], -1).reshape(-1, 2)
    return verts.astype(np.float32), faces.astype(np.int64), uv.astype(np.float32)


def bars(heights: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Bias bars standing in a row along x (centred on the origin): vertices, faces, and the
    bar index of every vertex (for colours). Heights |h| * BAR_HEIGHT, at least 0.004."""

    h = np.abs(np.asarray(heights, np.float64).reshape(-1))
    n = len(h)
    step = width / n
    box = unit_box()
    bv = np.asarray(box.vertices) + [0, 0.5, 0]
    sizes = np.stack(
        [np.full(n, step * 0.8), np.maximum(0.004, h * BAR_HEIGHT), np.full(n, BARS_DEPTH)], 1
    )
    centres = np.stack([-width / 2 + (np.arange(n) + 0.5) * step, np.zeros(n), np.zeros(n)], 1)
    verts = bv[None] * sizes[:, None] + centres[:, None]
    faces = np.asarray(box.faces)[None] + (np.arange(n) * len(bv))[:, None, None]
    owner = np.repeat(np.arange(n), len(bv))
    return verts.reshape(-1, 3).astype(np.float32), faces.reshape(-1, 3), owner
