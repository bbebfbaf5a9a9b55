"""Overlays: data drawn beside a block (weight maps, bias bars, histogram ridges, PCA scatter).

An overlay is sink-neutral: numbers, colours (uint8 sRGB, computed by its builder) and
normalised heights or positions, anchored to a module path. The browser, glTF export and the
notebook each turn the same overlay into their own geometry.

Kinds and their arrays:

=========  ===========================================================================
``grid``   ``values`` f4 (R, C) (NaN = gap/missing), ``colors`` u1 (R, C, 3), and for
           weight maps ``heights`` f4 (R, C) in [-1, 1] (relief, 0 for gaps)
``bars``   ``values`` f4 (N,), ``colors`` u1 (N, 3), ``heights`` f4 (N,) in [-1, 1]
``ridge``  ``values`` f4 (T, B) counts per shared bin, ``heights`` f4 (T, B) in [0, 1],
           ``colors`` u1 (T, 3) one per row (its step), ``steps`` i4 (T,),
           ``edges`` f4 (B + 1,) shared bin edges
``points`` ``positions`` f4 (N, 3) in [-1, 1], ``values`` f4 (N,), ``colors`` u1 (N, 3)
``slabs``  ``values`` f4 (C, H, W), ``colors`` u1 (C, H, W, 3): one H x W map per channel,
           drawn as a stack of C slabs (the TensorSpace idiom)
``surface`` ``values`` f4 (R, C) (loss; rows = betas, columns = alphas), ``heights`` f4
           (R, C) in [0, 1], ``colors`` u1 (R, C, 3), ``alphas`` f4 (C,), ``betas`` f4 (R,),
           optional ``path`` f4 (N, 2) (alpha, beta) and ``path_losses`` f4 (N,)
=========  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

KINDS = ("grid", "bars", "ridge", "points", "slabs", "surface")


@dataclass
class Overlay:
    kind: str
    """One of :data:`KINDS`."""
    module: str
    """Dotted module path of the block it belongs to ("" for the root model)."""
    name: str
    """What it shows: ``weight``, ``bias``, ``weight_hist``, ``grad_hist``, ``act_hist``,
    ``weight_pca``."""
    arrays: dict[str, np.ndarray]
    legend: dict
    """Colour bar: see :func:`nnviz3d.scene.colormaps.legend`."""
    meta: dict = field(default_factory=dict)
    """Traceability: full tensor shape, downsampling method, value dtype, steps..."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown overlay kind {self.kind!r}; expected one of {KINDS}")
