"""Layer similarity (linear CKA, nnviz3d/analysis/cka.py) at one step as one binary frame.

An ``overlays`` frame on channel ``cka``: header ``{"type": "overlays", "channel": "cka",
"step", "layer": CKA_KEY, "method": "cka", "layers": [L module paths in graph order], "undefined": [indices of
layers whose features did not vary], "inputs": N, "widths": [D per layer] (only with
features), "cross": bool}`` and arrays ``matrix`` (L, L) float32 in [0, 1] and ``points``
(L, 3) float32 (the layers' 3D map by MDS of 1 - CKA). A frame may carry ``features`` (N,
sum D) float16, every layer's probe-set features side by side, so that two recorded runs can be
compared layer by layer (``nnviz3d compare``); the run's final frame carries them when they are
small (:data:`FEATURE_VALUES`).

A cross frame (``cross`` true, from ``nnviz3d compare``) holds an A x B ``matrix`` with
``layers`` (A's), ``layers_b`` (B's), no ``points``, and ``note`` (what it was computed from,
or why there is none).

It is recorded and replayed as an embedding row (nnviz3d/record, kinds ``["embedding"]``) under
the pseudo-layer :data:`CKA_KEY`, so seeking shows the matrix at or before the step sought.
:func:`check_cka` refuses any frame with wrong sizes, non-finite values or values outside
[0, 1] (recordings are untrusted); the viewer (web/src/ckaPanel.ts) checks the same.
"""

from __future__ import annotations

import numpy as np

from .codec import decode_frame, encode_frame
from .messages import OVERLAYS

CKA_KEY = "#cka"
"""The pseudo-layer the frames are kept and recorded under (no module path starts with #)."""
MAX_LAYERS = 512
"""The most layers a frame may name (a matrix of 262,144 cells)."""
MAX_NAME = 1000
FEATURE_VALUES = 1 << 21
"""A frame carries the features when N x sum D is at most this (4 MiB of float16)."""


class CkaFrameError(ValueError):
    """A CKA frame that is not what it claims; the message says what is wrong."""


def encode_cka(
    step: int,
    layers: list[str],
    matrix,
    points=None,
    undefined=(),
    *,
    features: list | None = None,
    layers_b: list[str] | None = None,
    note: str = "",
) -> bytes:
    """The frame of one step (``layers_b``: a cross frame, A x B)."""
    m = np.asarray(matrix, np.float32)
    header = {
        "type": OVERLAYS,
        "channel": "cka",
        "step": int(step),
        "layer": CKA_KEY,
        "method": "cka",
        "layers": [str(p) for p in layers],
        "undefined": [int(i) for i in undefined],
        "cross": layers_b is not None,
    }
    arrays = {"matrix": np.ascontiguousarray(m)}
    if layers_b is not None:
        header["layers_b"] = [str(p) for p in layers_b]
        header["note"] = str(note)
    elif points is not None:
        arrays["points"] = np.ascontiguousarray(np.asarray(points, np.float32))
    if features is not None:
        flat = [np.asarray(f, np.float32).reshape(len(f), -1) for f in features]
        header["inputs"] = int(flat[0].shape[0])
        header["widths"] = [int(f.shape[1]) for f in flat]
        arrays["features"] = np.concatenate(flat, axis=1).astype(np.float16)
    return encode_frame(header, arrays)


def check_cka(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """``(header, arrays)`` of a CKA frame, every size and value checked; CkaFrameError if
    anything is wrong."""
    try:
        header, arrays = decode_frame(data)
    except ValueError as exc:
        raise CkaFrameError(f"not a frame: {exc}") from None
    if header.get("type") != OVERLAYS or header.get("channel") != "cka":
        raise CkaFrameError("not a CKA frame")
    if not isinstance(header.get("step"), int) or isinstance(header.get("step"), bool):
        raise CkaFrameError("its step is not an integer")
    a = _names(header.get("layers"), "layers")
    b = _names(header.get("layers_b"), "layers_b") if header.get("cross") else a
    m = arrays.get("matrix")
    if m is None or m.dtype != np.float32 or m.shape != (len(a), len(b)):
        raise CkaFrameError(
            f"its matrix is {_shape(m)}, not {len(a)} x {len(b)} float32 for the layers it names"
        )
    if not np.isfinite(m).all() or (m < 0).any() or (m > 1).any():
        raise CkaFrameError("its matrix holds values that are not CKA (NaN, Inf or outside 0..1)")
    undefined = header.get("undefined", [])
    if not isinstance(undefined, list) or not all(
        isinstance(i, int) and 0 <= i < len(a) for i in undefined
    ):
        raise CkaFrameError("its undefined layers are not indices of its layers")
    p = arrays.get("points")
    if p is not None and (
        p.dtype != np.float32 or p.shape != (len(a), 3) or not np.isfinite(p).all()
    ):
        raise CkaFrameError(f"its points are {_shape(p)}, not {len(a)} x 3 finite float32")
    f = arrays.get("features")
    if f is not None:
        widths = header.get("widths")
        n = header.get("inputs")
        if (
            not isinstance(widths, list)
            or len(widths) != len(a)
            or not all(isinstance(w, int) and w > 0 for w in widths)
            or not isinstance(n, int)
            or f.dtype != np.float16
            or f.shape != (n, sum(widths))
            or n < 2
        ):
            raise CkaFrameError("its features do not match its layers' widths and inputs")
        if not np.isfinite(f).all():
            raise CkaFrameError("its features hold NaN or Inf")
    return header, arrays


def features_of(header: dict, arrays: dict) -> list[np.ndarray] | None:
    """Each layer's (N, D) features of a checked frame, or None when it carries none."""
    f = arrays.get("features")
    if f is None:
        return None
    edges = np.concatenate([[0], np.cumsum(header["widths"])])
    return [f[:, edges[i] : edges[i + 1]].astype(np.float32) for i in range(len(edges) - 1)]


def _names(value, what: str) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) > MAX_LAYERS
        or not all(isinstance(p, str) and len(p) <= MAX_NAME for p in value)
    ):
        raise CkaFrameError(f"its {what} are not a list of at most {MAX_LAYERS} names")
    return value


def _shape(arr) -> str:
    return "missing" if arr is None else f"{' x '.join(map(str, arr.shape))} {arr.dtype}"
