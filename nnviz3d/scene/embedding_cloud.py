"""A layer's feature embedding as a ``points`` overlay: one point per probe input, coloured
by its label (Tableau 10), or by its index when there are no labels."""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay


def thumbnails(inputs, limit: int = 32, max_count: int = 20_000) -> np.ndarray | None:
    """(N, H, W) uint8 grey pictures of image-like probe inputs (first channel, each scaled to
    0..255 over the whole set), for hover; None when inputs are not small images."""
    x = np.asarray(inputs, np.float32)
    if x.ndim == 4:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[1] > limit or x.shape[2] > limit or len(x) > max_count:
        return None
    finite = np.isfinite(x)
    if not finite.any():
        return np.zeros(x.shape, np.uint8)
    x = x.astype(np.float64)
    lo, hi = float(x[finite].min()), float(x[finite].max())
    scaled = np.round((np.where(finite, x, lo) - lo) / (hi - lo if hi > lo else 1.0) * 255)
    return scaled.clip(0, 255).astype(np.uint8)  # NaN/Inf pixels are black


def embedding_cloud(
    layer: str,
    points: np.ndarray,
    labels=None,
    *,
    method: str,
    step: int,
    knn: float | None = None,
    dims: int | None = None,
    thumbs: np.ndarray | None = None,
) -> Overlay:
    p = np.asarray(points, np.float32)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{layer}: an embedding needs (N, 3) points, got {p.shape}")
    # an input whose features were NaN/Inf has no place: it sits at the centre, grey
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        p = np.where(bad[:, None], np.float32(0), p)
    if labels is not None:
        values = np.asarray(labels, np.float32)
        colors, legend = colormaps.categorical(labels)
    else:
        values = np.arange(len(p), dtype=np.float32)
        hi = max(len(p) - 1, 1)
        colors = colormaps.colorize(values, 0, hi, "sequential")
        legend = colormaps.legend("sequential", 0, hi, "input index")
    colors[bad] = colormaps.MISSING
    meta = {
        "method": method,
        "step": int(step),
        "count": len(p),
        "knn": knn,
        "dims": dims,
        "labelled": labels is not None,
        "nonfinite_points": int(bad.sum()),
        "projection": f"{method.upper()} of the layer's features (conv maps averaged over "
        f"H, W; token sequences over tokens), aligned to the previous step",
    }
    arrays = {"positions": p, "values": values, "colors": colors}
    if thumbs is not None and len(thumbs) == len(p):
        arrays["thumbs"] = thumbs
    return Overlay("points", layer, "embedding", arrays, legend, meta)
