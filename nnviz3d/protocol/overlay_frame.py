"""Overlays (nnviz3d/scene/overlay.py) as one binary ``overlays`` frame.

Header: ``{"type": "overlays", "channel": "weights"|"detail", "step": int, "overlays":
[{"kind", "module", "name", "legend", "meta", "arrays": {role: array name}}]}``. Overlay k's
arrays are named ``o{k}_{role}`` (roles per kind in nnviz3d/scene/overlay.py). Channel
``weights`` holds every weight/bias overlay of one step (it replaces the previous one);
``detail`` holds the ridges and scatter of the module a client selected; ``inspect`` the
activation maps of every layer (and saliency) for one input a client chose; ``feature`` one
unit's feature visualisation; ``landscape`` the loss surface around the current weights.
"""

from __future__ import annotations

import numpy as np

from ..scene.overlay import Overlay
from .codec import decode_frame, encode_frame
from .messages import OVERLAYS

CHANNELS = ("weights", "detail", "inspect", "feature", "landscape")


def encode_overlays(channel: str, step: int, overlays: list[Overlay], **extra) -> bytes:
    if channel not in CHANNELS:
        raise ValueError(f"unknown overlay channel {channel!r}; expected one of {CHANNELS}")
    header = {"type": OVERLAYS, "channel": channel, "step": int(step), "overlays": [], **extra}
    arrays: dict[str, np.ndarray] = {}
    for k, o in enumerate(overlays):
        names = {}
        for role, arr in o.arrays.items():
            names[role] = f"o{k}_{role}"
            arrays[names[role]] = np.ascontiguousarray(arr)
        header["overlays"].append({"kind": o.kind, "module": o.module, "name": o.name,
                                   "legend": o.legend, "meta": o.meta, "arrays": names})
    return encode_frame(header, arrays)


def decode_overlays(buf: bytes) -> tuple[dict, list[Overlay]]:
    header, arrays = decode_frame(buf)
    if header.get("type") != OVERLAYS:
        raise ValueError(f"expected an overlays frame, got {header.get('type')!r}")
    out = [Overlay(o["kind"], o["module"], o["name"],
                   {role: arrays[name] for role, name in o["arrays"].items()},
                   o["legend"], o["meta"]) for o in header["overlays"]]
    return header, out
