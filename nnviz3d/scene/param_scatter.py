"""Each output unit's weight vector projected to 3D with PCA, coloured by its L2 norm.

Rows of the weight matrix are units (conv weights as out x in*kh*kw). When the probe pooled
the matrix (more than 256 rows or columns), a point is the mean of a run of neighbouring
units and the meta says so.
"""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay


def pca_3d(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3)`` coordinates of the centred rows on their first three principal axes (zero
    columns when there are fewer), and the explained-variance ratio of each axis."""
    x = np.asarray(rows, np.float64)
    x = np.where(np.isfinite(x), x, 0.0)
    x = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    k = min(3, len(s))
    coords = np.zeros((len(x), 3))
    coords[:, :k] = u[:, :k] * s[:k]
    var = s**2
    ratio = np.zeros(3)
    if var.sum() > 0:
        ratio[:k] = var[:k] / var.sum()
    return coords, ratio


def param_scatter(module: str, matrix: np.ndarray, *, full_shape, method: str) -> Overlay:
    m = np.asarray(matrix, np.float32)
    if m.ndim != 2 or m.shape[0] < 2:
        raise ValueError(
            f"{module}: a PCA scatter needs a matrix of at least 2 units, got "
            f"shape {tuple(m.shape)}"
        )
    coords, ratio = pca_3d(m)
    scale = np.abs(coords).max()
    positions = coords / scale if scale > 0 else coords
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.sqrt(np.nansum(np.square(m, dtype=np.float64), axis=1))
    finite = norms[np.isfinite(norms)]  # an Inf weight makes its unit's norm Inf: grey
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    return Overlay(
        "points",
        module,
        "weight_pca",
        {
            "positions": positions.astype(np.float32),
            "values": norms.astype(np.float32),
            "colors": colormaps.colorize(norms, lo, hi if hi > lo else lo + 1e-12, "sequential"),
        },
        colormaps.legend("sequential", lo, hi, "L2 norm of the unit's weights"),
        {
            "full_shape": list(full_shape),
            "method": method,
            "units": int(m.shape[0]),
            "explained_variance": [round(float(r), 4) for r in ratio],
            "projection": "PCA of the centred unit weight vectors; axes scaled together so "
            "the farthest point is at distance 1",
        },
    )
