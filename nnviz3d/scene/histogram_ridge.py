"""Histograms over training steps as a 3D ridge (TensorBoard's offset histogram, in 3D).

Each probe frame holds a 64-bin histogram per module over that step's own [min, max]. The
ridge puts every step on one shared axis: each histogram is re-binned onto shared edges
spanning all steps, assuming values are spread evenly inside a source bin (the counts of a
row still sum to the elements it counted). Rows are steps (oldest first); heights are each
row's fraction of its elements per bin, scaled by the largest fraction in the ridge.
"""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay

BINS = 64


def rebin(hist: np.ndarray, lo: float, hi: float, edges: np.ndarray) -> np.ndarray:
    """Counts of ``hist`` (evenly spaced bins over [lo, hi]) on new ``edges`` that cover
    [lo, hi]; the total is preserved."""
    h = np.asarray(hist, np.float64)
    total = h.sum()
    if not hi > lo:  # every counted value was equal: all of it lands in one bin
        out = np.zeros(len(edges) - 1)
        k = int(np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, len(out) - 1))
        out[k] = total
        return out
    src = np.linspace(lo, hi, len(h) + 1)
    cdf = np.concatenate([[0.0], np.cumsum(h)])
    at = np.interp(edges, src, cdf, left=0.0, right=total)
    return np.diff(at)


def histogram_ridge(module: str, kind: str, steps, hists, ranges, *, bins: int = BINS) -> Overlay:
    """``steps`` (T,), ``hists`` (T, B0) counts, ``ranges`` (T, 2) each row's [lo, hi]."""
    steps = np.asarray(steps, np.int64)
    hists = np.asarray(hists, np.float64)
    ranges = np.asarray(ranges, np.float64)
    if hists.ndim != 2 or len(hists) != len(steps) or ranges.shape != (len(steps), 2):
        raise ValueError(
            f"{module}: a ridge needs T steps, (T, bins) histograms and (T, 2) "
            f"ranges; got {steps.shape}, {hists.shape}, {ranges.shape}"
        )
    order = np.argsort(steps, kind="stable")
    steps, hists, ranges = steps[order], hists[order], ranges[order]
    finite = np.isfinite(ranges).all(axis=1)
    lo = float(ranges[finite, 0].min()) if finite.any() else 0.0
    hi = float(ranges[finite, 1].max()) if finite.any() else 1.0
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    counts = np.zeros((len(steps), bins))
    for t in np.flatnonzero(finite):
        counts[t] = rebin(hists[t], ranges[t, 0], ranges[t, 1], edges)
    totals = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    top = frac.max() if frac.size and frac.max() > 0 else 1.0
    t = np.linspace(0, 1, len(steps)) if len(steps) > 1 else np.ones(1)
    s_lo, s_hi = (int(steps[0]), int(steps[-1])) if len(steps) else (0, 0)
    return Overlay(
        "ridge",
        module,
        f"{kind}_hist",
        {
            "values": counts.astype(np.float32),
            "heights": (frac / top).astype(np.float32),
            "colors": colormaps.colorize(t, 0.0, 1.0, "sequential"),
            "steps": steps.astype(np.int32),
            "edges": edges.astype(np.float32),
        },
        colormaps.legend("sequential", s_lo, s_hi, "training step"),
        {
            "kind": kind,
            "bins": bins,
            "lo": lo,
            "hi": hi,
            "rows": len(steps),
            "method": "each step's 64-bin histogram re-binned onto shared edges (uniform "
            "within a bin); height = fraction of the step's elements, scaled by "
            "the ridge's largest fraction",
        },
    )
