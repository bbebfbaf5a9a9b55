"""Binary frames of training: one ``probe`` frame per step, and the ``scalars`` history.

``probe`` frame
    header: ``{"type": "probe", "step": int, "time": unix seconds, "split": "train"|"val",
    "scalars": {"loss": float, ...}, "kinds": {KIND: {"step": int, "modules": [dotted module
    paths]}}, "stat_names": STAT_NAMES, "matrices": [{"module", "param", "array", "full_shape",
    "method"[, "layout": "tiles", "kernel": [kh, kw]]}], "alarms": [{"alarm", "module",
    "step", "value", "kind", "message"}]}`` where
    KIND is ``weight``, ``grad`` or ``act`` (only the kinds captured at this step are present;
    a frame may carry scalars alone). Alarms (nnviz3d/live/health.py) are ``nan``, ``inf``,
    ``dead``, ``vanishing``, ``exploding`` or ``stalled``, listed in every frame while they
    hold.

    arrays, per present KIND (M = len(modules)):

    ===================  ====  ========  ==================================================
    ``KIND_stats``       f4    (M, 8)    mean, std, min, max, L2 norm, fraction of exact
                                         zeros, NaN count, Inf count (over finite values)
    ``KIND_hist``        u4    (M, 64)   counts over [min, max] of that row's finite values
    ``KIND_range``       f4    (M, 2)    the histogram's [lo, hi]
    ``weight_update``    f4    (M,)      ||w - w_prev|| / ||w_prev|| since the previous
                                         weight capture (NaN at the first)
    ``KIND_sampled``     u4    (M,)      elements the histogram counted (all of them, or
                                         an even stride of a large tensor)
    ``act_dead``         f4    (M,)      fraction of units outputting 0 for the whole batch
                                         (ReLU-family modules; NaN for others)
    ``mat_K``            f2    (h, w)    matrix K of ``matrices``: a weight downsampled to
                                         <= 256 per side, a conv's kernels whole as
                                         (O, I*kh*kw) (layout ``tiles``), or a bias as
                                         (1, <= 256) (param ``bias``); f4 (or f8) when a
                                         finite value is too large for float16 (it would
                                         arrive as Inf)
    ===================  ====  ========  ==================================================

    Header numbers that are NaN or infinite (a NaN ``loss``, an alarm's ``value``) travel as
    the codec's ``nonfinite`` map says (nnviz3d/protocol/codec.py), never as bare ``NaN``.

``scalars`` frame
    header: ``{"type": "scalars", "names": [metric names]}``; arrays ``steps`` i4 (N,),
    ``split`` u1 (N,) (0 train, 1 validation), ``values`` f4 (N, K) with NaN where a metric
    was not given at that step, and ``given`` u1 (N, K): 1 where it was, so a metric that was
    NaN (a diverged loss) is told from one that was absent. A frame whose header has
    ``"from": R`` holds only rows ``R`` on of the server's history, to append to the R rows
    the client holds (same ``names``); without it, a frame is the whole history, which
    replaces the client's. The server keeps a bounded history (older rows decimated,
    nnviz3d/server/probe_history.py) and sends it whole on join and after it changed.
"""

from __future__ import annotations

import numpy as np

from .codec import decode_frame, encode_frame
from .messages import PROBE, SCALARS, STAT_NAMES

SPLITS = ("train", "val")


def encode_probe(
    step: int,
    time: float,
    split: str,
    scalars: dict[str, float],
    kinds: dict[str, dict],
    matrices: list[dict] | None = None,
    alarms: list[dict] | None = None,
    extra: dict | None = None,
) -> bytes:
    """``kinds[KIND]`` = ``{"step", "modules", "stats", "hist", "range"[, "update", "sampled"]}``;
    ``matrices`` = ``[{"module", "param", "full_shape", "method", "data"}]``."""
    header = {
        "type": PROBE,
        "step": int(step),
        "time": float(time),
        "split": split,
        "scalars": {str(k): _number(v) for k, v in scalars.items()},
        "stat_names": list(STAT_NAMES),
        "kinds": {},
        "matrices": [],
        "alarms": list(alarms or []),
        **(extra or {}),
    }
    arrays: dict[str, np.ndarray] = {}
    for kind, res in kinds.items():
        header["kinds"][kind] = {"step": int(res["step"]), "modules": list(res["modules"])}
        arrays[f"{kind}_stats"] = np.asarray(res["stats"], np.float32)
        arrays[f"{kind}_hist"] = np.asarray(res["hist"], np.uint32)
        arrays[f"{kind}_range"] = np.asarray(res["range"], np.float32)
        if "update" in res:
            arrays[f"{kind}_update"] = np.asarray(res["update"], np.float32)
        if "sampled" in res:
            arrays[f"{kind}_sampled"] = np.asarray(res["sampled"], np.uint32)
        if "dead" in res:
            arrays[f"{kind}_dead"] = np.asarray(res["dead"], np.float32)
    for k, m in enumerate(matrices or []):
        name = f"mat_{k}"
        entry = {
            "module": m["module"],
            "param": m["param"],
            "array": name,
            "full_shape": list(m["full_shape"]),
            "method": m["method"],
        }
        if m.get("layout"):
            entry.update(layout=m["layout"], kernel=list(m["kernel"]))
        header["matrices"].append(entry)
        arrays[name] = matrix_values(m["data"])
    return encode_frame(header, arrays)


FLOAT_WIDTHS = (np.float16, np.float32, np.float64)


def matrix_values(data) -> np.ndarray:
    """A weight matrix for the wire: float16 unless a finite value would overflow it (to Inf,
    drawn as missing), then the narrowest float that holds every finite value."""
    a = np.asarray(data)
    if a.dtype == np.float16:
        return a
    a = np.asarray(a, np.float64) if a.dtype.kind not in "f" or a.dtype.itemsize > 8 else a
    finite = np.abs(a[np.isfinite(a)])
    top = float(finite.max()) if finite.size else 0.0
    for dtype in FLOAT_WIDTHS:
        if top <= float(np.finfo(dtype).max):
            return np.asarray(a, dtype)
    return np.asarray(a, np.float64)


def encode_scalars(rows: list[tuple[int, str, dict[str, float]]]) -> bytes:
    """``rows`` = ``[(step, split, {name: value})]`` in step order."""
    names = sorted({str(k) for _, _, d in rows for k in d})
    values = np.full((len(rows), len(names)), np.nan, np.float32)
    given = np.zeros((len(rows), len(names)), np.uint8)
    col = {n: i for i, n in enumerate(names)}
    with np.errstate(over="ignore"):  # a finite value beyond float32 is +-Inf, as it should
        for r, (_, _, d) in enumerate(rows):
            for k, v in d.items():
                values[r, col[str(k)]] = _number(v)
                given[r, col[str(k)]] = 1
    return encode_frame(
        {"type": SCALARS, "names": names},
        {
            "steps": np.array([s for s, _, _ in rows], np.int32),
            "split": np.array([SPLITS.index(sp) for _, sp, _ in rows], np.uint8),
            "values": values,
            "given": given,
        },
    )


def _number(v) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer beyond any float
        return float("inf") if v > 0 else float("-inf")
    except (TypeError, ValueError):
        return float("nan")


def decode_probe(buf: bytes):
    header, arrays = decode_frame(buf)
    if header.get("type") != PROBE:
        raise ValueError(f"expected a probe frame, got {header.get('type')!r}")
    return header, arrays


def decode_scalars(buf: bytes):
    header, arrays = decode_frame(buf)
    if header.get("type") != SCALARS:
        raise ValueError(f"expected a scalars frame, got {header.get('type')!r}")
    return header, arrays
