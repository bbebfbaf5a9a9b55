"""Block sizes: footprint from the output shape, size from the parameter count (log scale).

The rules are returned by :func:`size_legend` so a viewer legend can explain them.
"""

from __future__ import annotations

import math

from ..graph import ROLE_INPUT, ROLE_OP, ROLE_OUTPUT, Node

BASE_SIDE = 0.6
PER_DECADE = 0.3
MIN_SIDE = 0.25
VECTOR_HEIGHT = 0.4
"""A vector's bar is this fraction of its width tall (a flat plate is invisible edge-on)."""


def size_legend() -> dict:
    return {
        "side": f"{BASE_SIDE} + {PER_DECADE} * log10(1 + parameters)",
        "footprint": "x from the last dimension, y from the one before it (log2), both "
        "scaled so the longer side equals 'side'; a vector's bar is "
        f"{VECTOR_HEIGHT} of its width tall",
        "thickness": "along the forward axis: 0.25 + 0.08 * log2(channels) for feature maps, "
        "0.35 otherwise",
        "units": "scene units (1 unit ~ 1 metre in VR)",
    }


def block_size(node: Node, params: int) -> tuple[float, float, float]:
    """``(x, y, z)`` extents of a block; z is the forward axis."""
    side = BASE_SIDE + PER_DECADE * math.log10(1 + max(params, 0))
    if node.role in (ROLE_OP, ROLE_INPUT, ROLE_OUTPUT):
        side = BASE_SIDE * 0.75
    shape = _feature_shape(node)
    thickness = 0.35
    if len(shape) >= 3:  # (C, H, W): a stack of C slabs
        c, h, w = shape[-3], shape[-2], shape[-1]
        fx, fy = _log2(w), _log2(h)
        thickness = 0.25 + 0.08 * _log2(c)
    elif len(shape) == 2:  # (tokens, features)
        fx, fy = _log2(shape[1]), _log2(shape[0])
    elif len(shape) == 1:  # a vector: a bar, tall enough to be seen from the default view
        fx = _log2(shape[0])
        fy = max(1.0, VECTOR_HEIGHT * fx)
    else:
        fx = fy = 1.0
    top = max(fx, fy)
    x = max(MIN_SIDE, side * fx / top)
    y = max(MIN_SIDE, side * fy / top)
    return (round(x, 4), round(y, 4), round(min(thickness, side), 4))


def _feature_shape(node: Node) -> list[int]:
    shapes = node.output_shapes or node.input_shapes
    if not shapes or not shapes[0]:
        return []
    shape = [d if isinstance(d, int) else 1 for d in shapes[0]]
    return shape[1:] if len(shape) >= 2 else shape  # drop the batch dimension


def _log2(d: int) -> float:
    return 1.0 + math.log2(max(int(d), 1))
