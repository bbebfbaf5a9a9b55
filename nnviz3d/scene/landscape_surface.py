"""The loss landscape (nnviz3d/analysis/landscape.py) as a ``surface`` overlay: a height field
over the (alpha, beta) grid with the current weights at the centre, and the training
trajectory projected on it when there is one.

Heights are the loss scaled to [0, 1] between the grid's minimum and a cap (the 95th
percentile), so one huge corner does not flatten the bowl; colours use the same range on the
sequential map. Cells whose loss is NaN/Inf are grey and at height 1.
"""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay


def landscape_surface(result) -> Overlay:
    losses = np.asarray(result.losses, np.float64)
    finite = losses[np.isfinite(losses)]
    lo = float(finite.min()) if finite.size else 0.0
    cap = float(np.percentile(finite, 95)) if finite.size else 1.0
    cap = cap if cap > lo else lo + 1e-12
    heights = np.where(np.isfinite(losses), (np.minimum(losses, cap) - lo) / (cap - lo), 1.0)
    arrays = {"values": losses.astype(np.float32), "heights": heights.astype(np.float32),
              "colors": colormaps.colorize(np.minimum(losses, cap), lo, cap, "sequential"),
              "alphas": np.asarray(result.alphas, np.float32),
              "betas": np.asarray(result.betas, np.float32)}
    # center_loss may be NaN (a diverged model): the codec carries it (nnviz3d/protocol/codec.py)
    meta = {"center_loss": float(result.center_loss), "directions": result.directions,
            "seconds": round(float(result.seconds), 3),
            "seconds_per_point": float(result.seconds_per_point),
            "nonfinite": int(result.nonfinite), "cap": cap, "min": lo,
            "method": "loss at w + alpha*d1 + beta*d2 (Li et al. 2018); rows are betas, "
                      "columns alphas; height = loss clipped at the 95th percentile"}
    if result.trajectory is not None:
        arrays["path"] = np.asarray(result.trajectory.coords, np.float32)
        arrays["path_losses"] = np.asarray(result.trajectory.losses, np.float32)
    legend = colormaps.legend("sequential", lo, cap, "loss")
    return Overlay("surface", "", "landscape", arrays, legend, meta)
