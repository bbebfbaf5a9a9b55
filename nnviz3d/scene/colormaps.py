"""Colour maps for data overlays, as 256-entry sRGB lookup tables (uint8).

Builders colour cells on the server, so the browser, a glTF file and a notebook show the same
colours; each overlay's legend carries the map's stops so a colour bar can be drawn anywhere.

- ``diverging``: blue (negative) - white (0) - red (positive), ColorBrewer RdBu reversed,
  used over a symmetric range [-a, a] so 0 is always white.
- ``sequential``: matplotlib's viridis, for magnitudes (norms, counts, steps).
"""

from __future__ import annotations

import numpy as np

DIVERGING_STOPS = (
    0x053061,
    0x2166AC,
    0x4393C3,
    0x92C5DE,
    0xD1E5F0,
    0xF7F7F7,
    0xFDDBC7,
    0xF4A582,
    0xD6604D,
    0xB2182B,
    0x67001F,
)
SEQUENTIAL_STOPS = (
    0x440154,
    0x482475,
    0x414487,
    0x355F8D,
    0x2A788E,
    0x21918C,
    0x22A884,
    0x44BF70,
    0x7AD151,
    0xBDDF26,
    0xFDE725,
)
CATEGORICAL = (
    0x4E79A7,
    0xF28E2B,
    0xE15759,
    0x76B7B2,
    0x59A14F,
    0xEDC948,
    0xB07AA1,
    0xFF9DA7,
    0x9C755F,
    0xBAB0AC,
)
"""Tableau 10, for classes (cycled beyond ten)."""
MISSING = (64, 64, 64)
"""Colour of NaN/Inf cells (and of gaps between conv kernel tiles)."""
LUT_SIZE = 256


def _lut(stops: tuple[int, ...]) -> np.ndarray:
    rgb = np.array([[(c >> 16) & 255, (c >> 8) & 255, c & 255] for c in stops], np.float64)
    x = np.linspace(0, len(stops) - 1, LUT_SIZE)
    k = np.minimum(np.floor(x).astype(int), len(stops) - 2)
    f = (x - k)[:, None]
    return np.round(rgb[k] * (1 - f) + rgb[k + 1] * f).astype(np.uint8)


MAPS = {
    "diverging": (DIVERGING_STOPS, _lut(DIVERGING_STOPS)),
    "sequential": (SEQUENTIAL_STOPS, _lut(SEQUENTIAL_STOPS)),
}


def lut_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """LUT row of each value: ``floor((v - lo) / (hi - lo) * 255 + 0.5)`` clamped to 0..255
    (NaN gives -1). The viewer computes the same in float64 (web/src/overlays.ts), so colours
    derived on either side are identical."""
    v = np.asarray(values, np.float64)
    width = hi - lo if hi > lo else 1.0
    idx = np.floor((v - lo) / width * (LUT_SIZE - 1) + 0.5)
    finite = np.isfinite(idx)
    out = np.full(v.shape, -1, np.int64)
    out[finite] = np.clip(idx[finite], 0, LUT_SIZE - 1)
    return out


def colorize(values: np.ndarray, lo: float, hi: float, name: str = "diverging") -> np.ndarray:
    """``(*values.shape, 3)`` uint8 sRGB; non-finite values get :data:`MISSING`."""
    lut = MAPS[name][1]
    idx = lut_index(values, lo, hi)
    out = lut[np.maximum(idx, 0)]
    out[idx < 0] = MISSING
    return out


def symmetric_range(values: np.ndarray) -> tuple[float, float]:
    """``(-a, a)`` with ``a`` the largest finite magnitude (1e-12 when all are 0 or none is
    finite), so 0 sits at the centre of a diverging map."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    a = float(np.abs(v).max()) if v.size else 0.0
    a = a if a > 0 else 1e-12
    return -a, a


def legend(name: str, lo: float, hi: float, units: str, **extra) -> dict:
    """What a colour bar needs: the stops as ``#rrggbb``, the range and the units."""
    stops = MAPS[name][0]
    return {
        "colormap": name,
        "stops": [f"#{c:06x}" for c in stops],
        "lo": float(lo),
        "hi": float(hi),
        "units": units,
        "missing": "#{:02x}{:02x}{:02x}".format(*MISSING),
        **extra,
    }


def lut_bytes(name: str) -> list[int]:
    """The LUT as a flat list of 768 bytes (r, g, b per row), for the wire."""
    return MAPS[name][1].reshape(-1).tolist()


def categorical(labels) -> tuple[np.ndarray, dict]:
    """``(N, 3)`` uint8 colours of integer labels and the legend naming each class's colour
    (a NaN/Inf label is class -1, drawn :data:`MISSING`)."""
    lab = np.asarray(labels)
    bad = np.zeros(lab.shape, bool)
    if lab.dtype.kind == "f":
        bad = ~np.isfinite(lab)
        lab = np.where(bad, -1, lab)
    lab = lab.astype(np.int64)
    rgb = np.array([[(c >> 16) & 255, (c >> 8) & 255, c & 255] for c in CATEGORICAL], np.uint8)
    classes = sorted(set(lab[~bad].tolist()))
    legend = {
        "colormap": "categorical",
        "stops": [f"#{CATEGORICAL[c % 10]:06x}" for c in classes],
        "classes": classes,
        "lo": float(min(classes, default=0)),
        "hi": float(max(classes, default=0)),
        "units": "class",
        "missing": "#{:02x}{:02x}{:02x}".format(*MISSING),
    }
    colors = rgb[lab % len(CATEGORICAL)]
    colors[bad] = MISSING
    return colors, legend
