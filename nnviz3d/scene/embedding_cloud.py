"""A layer's feature embedding as a ``points`` overlay: one point per probe input, coloured
by its label (Tableau 10), or by its index when there are no labels."""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay


def embedding_cloud(layer: str, points: np.ndarray, labels=None, *, method: str, step: int,
                    knn: float | None = None, dims: int | None = None) -> Overlay:
    p = np.asarray(points, np.float32)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"{layer}: an embedding needs (N, 3) points, got {p.shape}")
    if labels is not None:
        values = np.asarray(labels, np.float32)
        colors, legend = colormaps.categorical(labels)
    else:
        values = np.arange(len(p), dtype=np.float32)
        hi = max(len(p) - 1, 1)
        colors = colormaps.colorize(values, 0, hi, "sequential")
        legend = colormaps.legend("sequential", 0, hi, "input index")
    meta = {"method": method, "step": int(step), "count": len(p), "knn": knn,
            "dims": dims, "labelled": labels is not None,
            "projection": f"{method.upper()} of the layer's features (conv maps averaged over "
                          f"H, W; token sequences over tokens), aligned to the previous step"}
    return Overlay("points", layer, "embedding",
                   {"positions": p, "values": values, "colors": colors}, legend, meta)
