"""Overlays (nnviz3d/scene/overlay.py) as one binary ``overlays`` frame.

Header: ``{"type": "overlays", "channel": "weights"|"detail", "step": int, "overlays":
[{"kind", "module", "name", "legend", "meta", "arrays": {role: array name}}]}``. Overlay k's
arrays are named ``o{k}_{role}`` (roles per kind in nnviz3d/scene/overlay.py). Channel
``weights`` holds every weight/bias overlay of one step (it replaces the previous one);
``detail`` holds the ridges and scatter of the module a client selected; ``inspect`` the
activation maps of every layer (and saliency) for one input a client chose; ``feature`` one
unit's feature visualisation; ``landscape`` the loss surface around the current weights;
``embedding`` one layer's feature embedding (the header names the ``layer``).
"""

from __future__ import annotations

import numpy as np

from ..scene import colormaps
from ..scene.overlay import Overlay
from ..scene.weight_map import RELIEF
from .codec import decode_frame, encode_frame
from .messages import OVERLAYS

CHANNELS = ("weights", "detail", "inspect", "feature", "landscape", "embedding")


def encode_overlays(
    channel: str, step: int, overlays: list[Overlay], *, compact: bool = False, **extra
) -> bytes:
    """``compact``: grids and bars travel as values only (float16 when that is what they
    were), with the colour maps' LUTs once in the header; the receiver derives colours and
    heights exactly as the builder did (``derived`` lists them). A GPT-2's weight maps shrink
    from 36 MB to about 6 MB."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown overlay channel {channel!r}; expected one of {CHANNELS}")
    header = {"type": OVERLAYS, "channel": channel, "step": int(step), "overlays": [], **extra}
    arrays: dict[str, np.ndarray] = {}
    luts = set()
    for k, o in enumerate(overlays):
        names, derived = {}, []
        for role, arr in o.arrays.items():
            if compact and _derivable(o) and role in ("colors", "heights"):
                derived.append(role)
                continue
            if compact and role == "values" and o.meta.get("dtype") == "float16":
                arr = arr.astype(np.float16)  # exact: the values were float16 to begin with
            names[role] = f"o{k}_{role}"
            arrays[names[role]] = np.ascontiguousarray(arr)
        entry = {
            "kind": o.kind,
            "module": o.module,
            "name": o.name,
            "legend": o.legend,
            "meta": o.meta,
            "arrays": names,
        }
        if derived:
            entry["derived"] = derived
            luts.add(o.legend["colormap"])
        header["overlays"].append(entry)
    if luts:
        header["luts"] = {name: colormaps.lut_bytes(name) for name in sorted(luts)}
    return encode_frame(header, arrays)


def decode_overlays(buf: bytes) -> tuple[dict, list[Overlay]]:
    header, arrays = decode_frame(buf)
    if header.get("type") != OVERLAYS:
        raise ValueError(f"expected an overlays frame, got {header.get('type')!r}")
    out = []
    for o in header["overlays"]:
        arrs = {role: arrays[name] for role, name in o["arrays"].items()}
        if o.get("derived"):
            arrs = derive(arrs, o["legend"])
        out.append(Overlay(o["kind"], o["module"], o["name"], arrs, o["legend"], o["meta"]))
    return header, out


def _derivable(o: Overlay) -> bool:
    """Colours and heights follow from values and legend alone (weight grids, bias bars)."""
    return o.kind in ("grid", "bars") and o.meta.get("relief") == RELIEF


def derive(arrays: dict[str, np.ndarray], legend: dict) -> dict[str, np.ndarray]:
    """Colours and heights of a compact grid or bars overlay, as its builder made them."""
    v = np.asarray(arrays["values"], np.float32)
    out = dict(arrays, values=v)
    out["colors"] = colormaps.colorize(v, legend["lo"], legend["hi"], legend["colormap"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = v / np.float32(legend["hi"])
    out["heights"] = np.where(np.isfinite(h), h, 0).astype(np.float32)  # NaN/Inf: flat
    return out
