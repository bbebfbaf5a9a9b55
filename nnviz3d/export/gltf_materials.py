"""Colours and PBR materials of a glTF export, as the viewer draws them.

glTF's ``baseColorFactor`` is linear RGB, the scene's colours are sRGB: every colour is
converted here (:func:`srgb_to_linear`, the same formula as web/src/colormap.ts). The
"colour by quantity" rule is the viewer's (web/src/colorBy.ts): one probe statistic per block
through viridis over that step's range of the shown blocks (log10 for norms and update
ratios), grey-black without data, red where any probe kind saw NaN or Inf.
"""

from __future__ import annotations

import numpy as np

from ..protocol.messages import STAT_NAMES
from ..scene.colormaps import SEQUENTIAL_STOPS

STAT_COLUMNS = {name: i for i, name in enumerate(STAT_NAMES)}
QUANTITIES: dict[str, tuple[str, str, bool]] = {
    "weight_norm": ("weight", "norm", True),
    "grad_norm": ("grad", "norm", True),
    "update_ratio": ("weight", "update", True),
    "act_mean": ("act", "mean", False),
    "act_std": ("act", "std", False),
    "act_zero": ("act", "zero_frac", False),
}
"""Colour-by keys of the viewer (web/src/colorBy.ts QUANTITIES, less "kind"):
key -> (probe kind, stats column or "update", log scale)."""
NO_DATA = (0.2, 0.2, 0.2)
"""Linear RGB of a block without a value (colorBy.ts NO_DATA: a mid-grey, #7c7c7c)."""
UNHEALTHY = (1.0, 0.02, 0.02)
"""Linear RGB of a block with NaN/Inf (colorBy.ts UNHEALTHY)."""
LEVELS = 256
"""Rows of the viridis lookup table (colormap.ts LUT_SIZE)."""
BLOCK_ROUGHNESS = 0.6
BLOCK_METALNESS = 0.05


def srgb_to_linear(c) -> np.ndarray:
    """sRGB in [0, 1] to linear (IEC 61966-2-1, as colormap.ts ``srgbToLinear``)."""
    c = np.asarray(c, np.float64)
    return np.where(
        c < 0.04045, c * 0.0773993808, np.power(np.maximum(c, 0) * 0.9478672986 + 0.0521327014, 2.4)
    )


def _viridis_lut() -> np.ndarray:
    stops = (
        np.array([[(c >> 16) & 255, (c >> 8) & 255, c & 255] for c in SEQUENTIAL_STOPS], np.float64)
        / 255
    )
    x = np.arange(LEVELS) / (LEVELS - 1) * (len(stops) - 1)
    k = np.minimum(np.floor(x).astype(int), len(stops) - 2)
    f = (x - k)[:, None]
    return srgb_to_linear(stops[k] + (stops[k + 1] - stops[k]) * f)


VIRIDIS_LINEAR = _viridis_lut()
"""(256, 3) linear RGB, interpolated between the stops in sRGB (colormap.ts LUT)."""


def quantity_levels(values: np.ndarray, log: bool, unhealthy: np.ndarray) -> np.ndarray:
    """Each block's viridis row (0..255), -1 without a value, -2 when unhealthy: the viewer's
    ``BlockColoring.compute`` for one step."""
    v = np.asarray(values, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            v = np.where(v > 0, np.log10(np.where(v > 0, v, 1)), np.nan)
    v = np.where(np.isfinite(v), v, np.nan)
    out = np.full(v.shape, -1, np.int32)
    have = ~np.isnan(v)
    if have.any():
        lo, hi = float(v[have].min()), float(v[have].max())
        t = (v[have] - lo) / (hi - lo) if hi > lo else np.full(int(have.sum()), 0.5)
        out[have] = np.round(np.clip(t, 0, 1) * (LEVELS - 1)).astype(np.int32)
    out[np.asarray(unhealthy, bool)] = -2
    return out


def level_color(level: int) -> tuple[float, float, float]:
    """Linear RGB of a :func:`quantity_levels` row."""
    if level == -2:
        return UNHEALTHY
    if level < 0:
        return NO_DATA
    return tuple(float(x) for x in VIRIDIS_LINEAR[level])


class MaterialTable:
    """trimesh PBR materials by name, one per colour, with their exact linear colours.

    trimesh stores ``baseColorFactor`` as 8-bit RGBA, which bands dark linear colours:
    :meth:`fix_factors` (a tree post-processor) writes back the exact floats by name."""

    def __init__(self) -> None:
        self.materials: dict[str, object] = {}
        self.factors: dict[str, list[float]] = {}
        self.unlit: set[str] = set()
        self.smooth: set[str] = set()
        """Textured materials sampled with linear filtering and mipmaps (text), not nearest."""

    def solid(self, name: str, linear_rgb, opacity: float = 1.0, *, double_sided=False):
        if name in self.materials:
            return self.materials[name]
        from trimesh.visual.material import PBRMaterial

        rgba = [float(x) for x in linear_rgb] + [float(opacity)]
        mat = PBRMaterial(
            name=name,
            baseColorFactor=np.round(np.array(rgba) * 255),
            metallicFactor=BLOCK_METALNESS,
            roughnessFactor=BLOCK_ROUGHNESS,
            alphaMode="BLEND" if opacity < 1 else None,
            doubleSided=True if double_sided else None,
        )
        self.materials[name] = mat
        self.factors[name] = rgba
        return mat

    def srgb(self, name: str, srgb_rgb, opacity: float = 1.0, **kw):
        return self.solid(name, srgb_to_linear(srgb_rgb), opacity, **kw)

    def textured(self, name: str, image):
        """A double-sided material showing ``image`` (a PIL image in sRGB, which is what
        glTF's baseColorTexture holds), unlit like the viewer's weight maps (KHR_materials_unlit;
        a loader without it draws it matte)."""
        from trimesh.visual.material import PBRMaterial

        self.unlit.add(name)
        return PBRMaterial(
            name=name,
            baseColorTexture=image,
            metallicFactor=0.0,
            roughnessFactor=1.0,
            doubleSided=True,
        )

    def label_atlas(self, name: str, image):
        """The material of every label quad: the text atlas (RGBA, sRGB) alpha-blended, unlit,
        one-sided (from behind a label would read mirrored), smoothly filtered."""
        if name in self.materials:
            return self.materials[name]
        from trimesh.visual.material import PBRMaterial

        self.unlit.add(name)
        self.smooth.add(name)
        mat = PBRMaterial(
            name=name,
            baseColorTexture=image,
            metallicFactor=0.0,
            roughnessFactor=1.0,
            alphaMode="BLEND",
            doubleSided=False,
        )
        self.materials[name] = mat
        return mat

    def set_samplers(self, tree: dict) -> None:
        """Weight maps: nearest texels, one per weight (as the viewer); label text: linear
        with mipmaps. Both clamp to the edge."""
        if not tree.get("textures"):
            return
        nearest = {"magFilter": 9728, "minFilter": 9728, "wrapS": 33071, "wrapT": 33071}
        smooth = {"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}
        smooth_textures = {
            m.get("pbrMetallicRoughness", {}).get("baseColorTexture", {}).get("index")
            for m in tree.get("materials", [])
            if m.get("name") in self.smooth
        }
        samplers: list[dict] = []
        for i, texture in enumerate(tree["textures"]):
            wanted = smooth if i in smooth_textures else nearest
            if wanted not in samplers:
                samplers.append(wanted)
            texture["sampler"] = samplers.index(wanted)
        tree["samplers"] = samplers

    def mark_unlit(self, tree: dict) -> None:
        used = False
        for mat in tree.get("materials", []):
            if mat.get("name") in self.unlit:
                mat.setdefault("extensions", {})["KHR_materials_unlit"] = {}
                used = True
        if used:
            ext = tree.setdefault("extensionsUsed", [])
            if "KHR_materials_unlit" not in ext:
                ext.append("KHR_materials_unlit")

    def fix_factors(self, tree: dict) -> None:
        for mat in tree.get("materials", []):
            exact = self.factors.get(mat.get("name"))
            if exact is not None:
                mat.setdefault("pbrMetallicRoughness", {})["baseColorFactor"] = exact
