"""Activations of one input, layer by layer: feature maps as slabs, vectors as unit grids, and
saliency maps, as overlays.

Colours: a map with negative values uses the diverging map over a symmetric range (white =
0); a non-negative one (after ReLU, a saliency magnitude) the sequential map over [0, max].
Each layer has its own range, stated in its legend.
"""

from __future__ import annotations

import math

import numpy as np

from . import colormaps
from .overlay import Overlay

MAX_SLABS = 64
"""Feature maps with more channels show the first MAX_SLABS (the meta says so)."""
MAX_SIDE = 256
"""Token x feature maps are average-pooled to at most this many cells per side."""


def _colour(v: np.ndarray, units: str) -> tuple[np.ndarray, dict]:
    finite = v[np.isfinite(v)]
    if finite.size and finite.min() < 0:
        lo, hi = colormaps.symmetric_range(finite)
        return colormaps.colorize(v, lo, hi), colormaps.legend("diverging", lo, hi, units)
    hi = float(finite.max()) if finite.size and finite.max() > 0 else 1e-12
    return (
        colormaps.colorize(v, 0.0, hi, "sequential"),
        colormaps.legend("sequential", 0.0, hi, units),
    )


def pool_2d(m: np.ndarray, limit: int = MAX_SIDE) -> tuple[np.ndarray, str]:
    """Average-pool a matrix to at most ``limit`` per side over near-equal runs of rows and
    columns (the same bins as torch's adaptive_avg_pool2d), with summed-area tables. A cell is
    the mean of its finite values (NaN when it has none): one NaN or Inf never spreads through
    the tables to the cells after it."""
    rows, cols = m.shape
    h, w = min(rows, limit), min(cols, limit)
    if (h, w) == (rows, cols):
        return m.astype(np.float32), f"none: full {rows}x{cols}"
    i, j = np.arange(h), np.arange(w)
    r0, r1 = (i * rows) // h, -(-((i + 1) * rows) // h)
    c0, c1 = (j * cols) // w, -(-((j + 1) * cols) // w)
    v = m.astype(np.float64)
    finite = np.isfinite(v)

    def box_sums(x: np.ndarray) -> np.ndarray:
        table = np.zeros((rows + 1, cols + 1))
        table[1:, 1:] = np.cumsum(np.cumsum(x, axis=0), axis=1)
        return table[r1][:, c1] - table[r0][:, c1] - table[r1][:, c0] + table[r0][:, c0]

    sums = box_sums(np.where(finite, v, 0.0))
    counts = np.rint(box_sums(finite.astype(np.float64)))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out.astype(np.float32), f"average pooling {rows}x{cols} -> {h}x{w}"


def activation_overlay(module: str, out: np.ndarray, name: str = "activation") -> Overlay:
    """One layer's output for one input (batch dimension removed)."""
    a = np.asarray(out, np.float32)
    full = list(a.shape)
    if a.ndim == 3:
        shown = min(a.shape[0], MAX_SLABS)
        v = a[:shown]
        colors, legend = _colour(v, f"{name} value")
        return Overlay(
            "slabs",
            module,
            name,
            {"values": v, "colors": colors},
            legend,
            {
                "full_shape": full,
                "channels_shown": shown,
                "method": "all channels"
                if shown == full[0]
                else f"first {shown} of {full[0]} channels",
            },
        )
    if a.ndim > 3:
        a = a.reshape(-1, a.shape[-1])
    if a.ndim == 2:
        v, method = pool_2d(a)
    else:
        flat = a.reshape(-1)
        cols = max(1, math.ceil(math.sqrt(flat.size)))
        rows = max(1, math.ceil(flat.size / cols))
        v = np.full(rows * cols, np.nan, np.float32)
        v[: flat.size] = flat
        v = v.reshape(rows, cols)
        method = f"{flat.size} units laid out row by row in a {rows}x{cols} grid"
        if v.shape[0] > MAX_SIDE or v.shape[1] > MAX_SIDE:
            v, pooled = pool_2d(v)  # the NaN padding (and NaN units) are left out
            method += f", then {pooled}"
    colors, legend = _colour(v, f"{name} value")
    return Overlay(
        "grid",
        module,
        name,
        {"values": v, "colors": colors},
        legend,
        {
            "full_shape": full,
            "method": method,
            "dtype": "float32",
            "rows": int(v.shape[0]),
            "cols": int(v.shape[1]),
        },
    )


def attention_overlay(module: str, weights: np.ndarray) -> Overlay:
    """Attention weights (heads, queries, keys) as slabs, one head per slab, on the sequential
    map over [0, max] (each row sums to 1)."""
    w = np.asarray(weights, np.float32)
    shown = min(w.shape[0], MAX_SLABS)
    v = w[:shown]
    finite = v[np.isfinite(v)]
    hi = float(finite.max()) if finite.size and finite.max() > 0 else 1e-12
    return Overlay(
        "slabs",
        module,
        "attention",
        {"values": v, "colors": colormaps.colorize(v, 0.0, hi, "sequential")},
        colormaps.legend("sequential", 0.0, hi, "attention weight"),
        {
            "full_shape": list(w.shape),
            "axes": ["head", "query", "key"],
            "method": "softmax(q k^T * scale + mask) recomputed from each scaled_dot_product_"
            "attention call"
            + ("" if shown == w.shape[0] else f"; first {shown} of {w.shape[0]} heads"),
        },
    )


def saliency_overlay(module: str, saliency_map: np.ndarray, method: str, target: int) -> Overlay:
    """A saliency map (H, W) as a grid anchored to ``module`` (the input, or Grad-CAM's
    layer), coloured like an activation (signed maps diverge around 0)."""
    v = np.asarray(saliency_map, np.float32)
    if v.ndim == 1:
        v = v[None]
    colors, legend = _colour(v, f"{method} saliency for class {target}")
    return Overlay(
        "grid",
        module,
        "saliency",
        {"values": v, "colors": colors},
        legend,
        {
            "full_shape": list(v.shape),
            "method": method,
            "target": int(target),
            "dtype": "float32",
            "rows": int(v.shape[0]),
            "cols": int(v.shape[1]),
        },
    )


def feature_overlay(module: str, vis) -> Overlay:
    """A feature visualisation (nnviz3d/analysis/feature_vis.py: the input that excites one
    unit) as slabs, with how strongly it excites the unit against random inputs."""
    image = np.asarray(vis.image, np.float32)
    if image.ndim == 2:
        image = image[None]
    elif image.ndim == 1:
        image = image[None, None]
    o = activation_overlay(module, image, name=f"feature:{vis.unit}")
    o.meta.update(
        unit=int(vis.unit),
        activation=float(vis.activation),
        random_activation=float(vis.random_activation),
        ratio=float(vis.ratio),
        steps=int(vis.steps),
        seconds=round(float(vis.seconds), 3),
        method=f"input optimised for {vis.steps} steps ({vis.param} "
        f"parameterisation, jitter) to maximise the unit's mean activation",
    )
    return o
