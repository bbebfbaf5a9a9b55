"""The presentation camera: a 3/4 view from above that frames the whole scene, shared by the
glTF export (its camera node, which stock viewers open on) and the notebook widget.

The view direction is the viewer's (web/src/navigation.ts ``VIEW_FROM``: from the left of the
forward axis, above, a little towards the inputs, so data flows left to right); a footprint that
is wide as well as long (a layout folded into rows along x) is seen from higher up so rows do not
hide one another. The distance and the aim are solved exactly from the scene's corners for the
camera's field of view, so every corner projects inside the frame and the model fills it (the
viewer's ``frame`` fits a bounding sphere and leaves wide margins). Nothing here assumes a shape:
only the points given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..scene.nodes import BLOCK, EDGE, GROUP, Scene

VIEW_FROM = (-0.85, 0.6, -0.3)
"""Direction from the model to the camera (navigation.ts VIEW_FROM)."""
HIGH_ELEVATION = math.radians(55)
"""Elevation of the view over a square footprint (a long, thin one keeps VIEW_FROM's ~34°)."""
YFOV = math.radians(35)
"""Vertical field of view: narrow enough that a long model's near end is not distorted."""
SLIDE_ASPECT = 16 / 9
FIT_ASPECT = 16 / 10
"""The frame is fitted for this (narrower) aspect, so it also fits 16:9 and 16:10 screens."""
FILL = 0.94
"""Fraction of the frame the model may use on its binding side (a margin for anti-aliasing)."""


@dataclass(frozen=True)
class Framing:
    position: np.ndarray
    """Camera position (world)."""
    target: np.ndarray
    """Point the camera aims at, at the depth of the scene's centre (an orbit target)."""
    rotation: np.ndarray
    """3x3 camera-to-world rotation: columns right, up, back (the camera looks along -z)."""
    yfov: float
    aspect: float
    near: float
    far: float

    @property
    def forward(self) -> np.ndarray:
        return -self.rotation[:, 2]

    def quaternion(self) -> list[float]:
        """The rotation as a unit quaternion (x, y, z, w), as glTF nodes hold it."""
        m = self.rotation
        w = math.sqrt(max(0.0, 1 + m[0, 0] + m[1, 1] + m[2, 2])) / 2
        x = math.copysign(
            math.sqrt(max(0.0, 1 + m[0, 0] - m[1, 1] - m[2, 2])) / 2, m[2, 1] - m[1, 2]
        )
        y = math.copysign(
            math.sqrt(max(0.0, 1 - m[0, 0] + m[1, 1] - m[2, 2])) / 2, m[0, 2] - m[2, 0]
        )
        z = math.copysign(
            math.sqrt(max(0.0, 1 - m[0, 0] - m[1, 1] + m[2, 2])) / 2, m[1, 0] - m[0, 1]
        )
        q = np.array([x, y, z, w])
        return [float(v) for v in q / np.linalg.norm(q)]

    def camera_coords(self, points) -> np.ndarray:
        """``(N, 3)`` points in camera coordinates (x right, y up, z = distance in front)."""
        p = np.asarray(points, np.float64).reshape(-1, 3) - self.position
        return np.stack([p @ self.rotation[:, 0], p @ self.rotation[:, 1], p @ self.forward], 1)

    def project(self, points, aspect: float | None = None) -> np.ndarray:
        """``(N, 2)`` normalised device coordinates (-1..1 inside the frame, y up) at ``aspect``
        (default the camera's)."""
        c = self.camera_coords(points)
        ty = math.tan(self.yfov / 2)
        tx = ty * (aspect or self.aspect)
        z = np.maximum(c[:, 2], 1e-9)
        return np.stack([c[:, 0] / (z * tx), c[:, 1] / (z * ty)], 1)

    def view_height_at(self, points) -> np.ndarray:
        """World height of the whole frame at each point's depth."""
        return 2 * math.tan(self.yfov / 2) * np.maximum(self.camera_coords(points)[:, 2], 1e-9)


def view_direction(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Unit vector from the model to the camera for a bounding box ``lo``..``hi``: VIEW_FROM's
    azimuth, its elevation raised towards HIGH_ELEVATION as the footprint gets wider along x."""
    d = np.asarray(VIEW_FROM, np.float64)
    flat = math.hypot(d[0], d[2])
    base = math.atan2(d[1], flat)
    size = np.maximum(np.asarray(hi, np.float64) - lo, 1e-9)
    wide = min(1.0, float(size[0] / size[2]))  # 0: a thin line along z, 1: square or wider
    elevation = base + (HIGH_ELEVATION - base) * wide
    azimuth = (d[0] / flat, d[2] / flat)
    return np.array(
        [azimuth[0] * math.cos(elevation), math.sin(elevation), azimuth[1] * math.cos(elevation)]
    )


def frame_points(
    points,
    *,
    direction=None,
    yfov: float = YFOV,
    aspect: float = SLIDE_ASPECT,
    fit_aspect: float = FIT_ASPECT,
    fill: float = FILL,
) -> Framing:
    """The camera looking along ``-direction`` (default :func:`view_direction`) that holds
    every point in ``fill`` of its frame at ``fit_aspect``, as close as it can: the distance
    and the off-axis aim are solved from the four frustum planes (each plane's binding point),
    so the model touches the frame on its binding side and is centred on the other."""
    p = np.asarray(points, np.float64).reshape(-1, 3)
    p = p[np.all(np.isfinite(p), axis=1)]
    if not len(p):
        p = np.array([[-0.5, 0, -0.5], [0.5, 1, 0.5]])
    lo, hi = p.min(0), p.max(0)
    back = np.asarray(direction if direction is not None else view_direction(lo, hi), np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(-back, [0.0, 1.0, 0.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight down
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    fwd = -back
    # a point is in the frame when |x| <= tx * depth and |y| <= ty * depth (camera coordinates)
    ty = math.tan(yfov / 2) * fill
    tx = math.tan(yfov / 2) * fit_aspect * fill
    x, y, z = p @ right, p @ up, p @ fwd
    # camera at a*right + b*up + c*fwd: x - a <= tx (z - c) for all points, both signs
    m_r, m_l = np.max(x - tx * z), np.max(-x - tx * z)
    m_t, m_b = np.max(y - ty * z), np.max(-y - ty * z)
    c_h, c_v = -(m_r + m_l) / (2 * tx), -(m_t + m_b) / (2 * ty)
    c = min(c_h, c_v)
    a, b = (m_r - m_l) / 2, (m_t - m_b) / 2
    # the other axis has room to spare: centre the picture on it (in perspective the planes'
    # slack is not the picture's margin, so bisect the offset until both margins are equal)
    if c_h <= c_v:
        b = _centred(y, z - c, b)
    else:
        a = _centred(x, z - c, a)
    position = a * right + b * up + c * fwd
    depth = z - c
    centre_depth = float((lo + hi) / 2 @ fwd - c)
    near = max(1e-3, float(depth.min()) * 0.5)
    far = float(depth.max()) * 2 + 1.0
    rotation = np.stack([right, up, back], 1)
    return Framing(
        position=position,
        target=position + fwd * centre_depth,
        rotation=rotation,
        yfov=yfov,
        aspect=aspect,
        near=near,
        far=far,
    )


def _centred(v: np.ndarray, depth: np.ndarray, start: float) -> float:
    """The offset ``o`` near ``start`` for which ``(v - o) / depth`` spans symmetrically."""

    def skew(o: float) -> float:
        r = (v - o) / depth
        return float(r.max() + r.min())

    span = float(np.ptp(v)) + 1.0
    lo, hi = start - span, start + span  # skew falls as the offset grows
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if skew(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def scene_points(scene: Scene) -> np.ndarray:
    """The points a view of ``scene`` must show: the 8 corners of every block and group box
    and the points of every edge (skip arcs rise above the blocks)."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    boxes = [n for n in scene.nodes.values() if n.type in (BLOCK, GROUP)]
    parts = [np.zeros((0, 3))]
    if boxes:
        pos = np.array([n.position for n in boxes], np.float64)
        size = np.array([n.scale for n in boxes], np.float64)
        parts.append((pos[:, None] + corners[None] * size[:, None]).reshape(-1, 3))
    parts += [np.asarray(n.points, np.float64) for n in scene.of_type(EDGE) if n.points is not None]
    return np.concatenate(parts)


def frame_scene(scene: Scene, **kwargs) -> Framing:
    """:func:`frame_points` of :func:`scene_points`."""
    return frame_points(scene_points(scene), **kwargs)
