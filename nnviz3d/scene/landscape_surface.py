"""The loss landscape (nnviz3d/analysis/landscape.py) as a ``surface`` overlay: a height field
over the (alpha, beta) grid with the current weights at the centre, and the training
trajectory projected on it when there is one.

The colour scale runs from the grid's minimum to a robust top (the 90th percentile of the
finite losses), so one huge corner does not wash out the bowl: losses above the top are drawn
in the top colour. Heights follow the same normalised loss ``x = (loss - min) / (top - min)``
linearly up to a knee and then roll off smoothly towards 1 (``soft_height``), so a clipped
region still shows its slope instead of a flat plateau. Cells whose loss is NaN/Inf are grey
and at height 1.
"""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay

#: Quantile of the finite losses that tops the colour scale.
TOP_QUANTILE = 90.0
#: Normalised height where the linear part ends and the smooth cap begins.
KNEE = 0.75


def soft_height(x, knee: float = KNEE):
    """Height in [0, 1) of a normalised loss ``x`` (0 at the minimum, 1 at the colour top):
    ``x`` below the knee, then ``knee + (1 - knee) * tanh((x - knee) / (1 - knee))``, which
    meets the line with the same slope and never reaches 1 (the viewer uses the same formula
    for the training path)."""
    x = np.maximum(np.asarray(x, np.float64), 0.0)
    span = 1.0 - knee
    return np.where(x <= knee, x, knee + span * np.tanh((x - knee) / span))


def landscape_surface(result) -> Overlay:
    losses = np.asarray(result.losses, np.float64)
    finite = losses[np.isfinite(losses)]
    lo = float(finite.min()) if finite.size else 0.0
    top = float(np.percentile(finite, TOP_QUANTILE)) if finite.size else 1.0
    top = top if top > lo else lo + 1e-12
    with np.errstate(invalid="ignore", over="ignore"):
        heights = np.where(np.isfinite(losses), soft_height((losses - lo) / (top - lo)), 1.0)
    clipped = int(np.sum(np.isfinite(losses) & (losses > top)))
    arrays = {
        "values": losses.astype(np.float32),
        "heights": heights.astype(np.float32),
        "colors": colormaps.colorize(np.minimum(losses, top), lo, top, "sequential"),
        "alphas": np.asarray(result.alphas, np.float32),
        "betas": np.asarray(result.betas, np.float32),
    }
    # center_loss may be NaN (a diverged model): the codec carries it (nnviz3d/protocol/codec.py)
    meta = {
        "center_loss": float(result.center_loss),
        "directions": result.directions,
        "seconds": round(float(result.seconds), 3),
        "seconds_per_point": float(result.seconds_per_point),
        "nonfinite": int(result.nonfinite),
        "cap": top,
        "min": lo,
        "knee": KNEE,
        "clipped": clipped,
        "top_quantile": TOP_QUANTILE,
        "method": "loss at w + alpha*d1 + beta*d2 (Li et al. 2018); rows are betas, "
        f"columns alphas; colour scale tops at the {TOP_QUANTILE:g}th percentile "
        "(above it: top colour), height rolls off smoothly above it",
    }
    if result.trajectory is not None:
        arrays["path"] = np.asarray(result.trajectory.coords, np.float32)
        arrays["path_losses"] = np.asarray(result.trajectory.losses, np.float32)
    legend = colormaps.legend("sequential", lo, top, "loss")
    return Overlay("surface", "", "landscape", arrays, legend, meta)
