"""Weight overlays: a matrix as a coloured height map, conv kernels as tiles, a bias as bars.

Input is what a probe frame carries in ``matrices`` (nnviz3d/capture/probes.py): a weight as
an (R, C) matrix (conv weights as out x in*kh*kw), average-pooled to at most 256 per side, or
a conv weight's kernels in full (``layout: "tiles"``), or a bias as a (1, N) row. The colour
range is symmetric around 0 per tensor, so white is always exactly 0.
"""

from __future__ import annotations

import numpy as np

from . import colormaps
from .overlay import Overlay

RELIEF = "value / max |value|"
"""How weight grids and bias bars get their heights (so a receiver can derive them)."""


def weight_grid(
    module: str,
    values: np.ndarray,
    *,
    full_shape,
    method: str,
    name: str = "weight",
    dtype: str = "float16",
    **meta,
) -> Overlay:
    """An (R, C) matrix as a ``grid`` overlay: colour from the diverging map over [-a, a],
    relief ``v / a`` (gaps, NaN, are grey and flat)."""
    v = np.asarray(values, np.float32)
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(
            f"{module}.{name}: a weight grid needs a non-empty 2-D matrix, "
            f"got shape {tuple(v.shape)}"
        )
    lo, hi = colormaps.symmetric_range(v)
    heights = np.where(np.isfinite(v), v / np.float32(hi), 0).astype(np.float32)
    return Overlay(
        "grid",
        module,
        name,
        {"values": v, "colors": colormaps.colorize(v, lo, hi), "heights": heights},
        colormaps.legend("diverging", lo, hi, f"{name} value"),
        {
            "full_shape": list(full_shape),
            "method": method,
            "dtype": dtype,
            "rows": int(v.shape[0]),
            "cols": int(v.shape[1]),
            "relief": RELIEF,
            **meta,
        },
    )


def kernel_tiles(kernels: np.ndarray, in_channels: int, kernel: tuple[int, int]) -> np.ndarray:
    """Conv kernels ``(O, I*kh*kw)`` laid out as an image of O x I tiles of kh x kw with a
    one-cell NaN gap between tiles: shape ``(O*(kh+1)-1, I*(kw+1)-1)``; tile (o, i) holds
    ``w[o, i]`` with its kernel rows top to bottom."""
    kh, kw = kernel
    w = np.asarray(kernels, np.float32).reshape(-1, in_channels, kh, kw)
    out_channels = w.shape[0]
    image = np.full((out_channels, kh + 1, in_channels, kw + 1), np.nan, np.float32)
    image[:, :kh, :, :kw] = w.transpose(0, 2, 1, 3)
    return image.reshape(out_channels * (kh + 1), in_channels * (kw + 1))[:-1, :-1]


def bias_bars(
    module: str, values: np.ndarray, *, full_shape, method: str, dtype: str = "float16"
) -> Overlay:
    """A bias vector as ``bars``: signed height ``v / a``, diverging colour over [-a, a]."""
    v = np.asarray(values, np.float32).reshape(-1)
    lo, hi = colormaps.symmetric_range(v)
    heights = np.where(np.isfinite(v), v / np.float32(hi), 0).astype(np.float32)
    return Overlay(
        "bars",
        module,
        "bias",
        {"values": v, "colors": colormaps.colorize(v, lo, hi), "heights": heights},
        colormaps.legend("diverging", lo, hi, "bias value"),
        {
            "full_shape": list(full_shape),
            "method": method,
            "dtype": dtype,
            "count": v.size,
            "relief": RELIEF,
        },
    )


def weight_overlays(header: dict, arrays: dict[str, np.ndarray]) -> list[Overlay]:
    """Every weight/bias overlay of one probe frame (empty when it carries no matrices)."""
    out = []
    for m in header.get("matrices", []):
        data = arrays[m["array"]]
        dtype = str(data.dtype) if data.dtype != np.float16 else "float16"
        if m["param"] == "bias":
            out.append(
                bias_bars(
                    m["module"], data, full_shape=m["full_shape"], method=m["method"], dtype=dtype
                )
            )
            continue
        values, extra = data, {}
        if m.get("layout") == "tiles":
            values = kernel_tiles(data, m["full_shape"][1], tuple(m["kernel"]))
            extra = {"layout": "tiles", "kernel": list(m["kernel"])}
        out.append(
            weight_grid(
                m["module"],
                values,
                full_shape=m["full_shape"],
                method=m["method"],
                name=m["param"],
                dtype=dtype,
                **extra,
            )
        )
    return out
