"""Each row of a recording's ``frames`` table checked before anything uses it: the binary
frame decodes and has the shape the replay, the tour, compare and export read, and the row's
own columns (step, kinds, split, scalars) agree with it. A check that fails raises
:class:`FrameDamage` saying what was wrong; the reader adds the file and the row."""

from __future__ import annotations

import json
import math

from ..protocol.codec import decode_frame
from ..protocol.messages import OVERLAYS, PROBE, PROBE_KINDS, STAT_NAMES
from ..protocol.probe_frame import SPLITS

EMBEDDING = "embedding"
MATRICES = "mat"
KNOWN_KINDS = (*PROBE_KINDS, MATRICES, EMBEDDING)
MAX_STEP = 2**31 - 1
"""Steps travel as int32 (the ``scalars`` frame)."""
MAX_METRICS = 1024
"""Distinct metric names in one row (and in one run, checked by the reader)."""


class FrameDamage(ValueError):
    """What is wrong with one row of ``frames``."""


def check_step(step) -> int:
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= MAX_STEP:
        raise FrameDamage(f"step {_short(step)} is not an integer in 0..{MAX_STEP}")
    return step


def check_kinds(text) -> list[str]:
    """The ``kinds`` column: comma-separated kinds this format knows."""
    if not isinstance(text, str):
        raise FrameDamage(f"kinds {_short(text)} is not text")
    kinds = text.split(",") if text else []
    unknown = [k for k in kinds if k not in KNOWN_KINDS]
    if unknown or len(set(kinds)) != len(kinds):
        raise FrameDamage(f"kinds {_short(text)} are not {', '.join(KNOWN_KINDS)} (each once)")
    if EMBEDDING in kinds and kinds != [EMBEDDING]:
        raise FrameDamage(f"kinds {_short(text)} mix an embedding with probes")
    return kinds


def check_split(split) -> str:
    if split not in SPLITS:
        raise FrameDamage(f"split {_short(split)} is not one of {', '.join(SPLITS)}")
    return split


def check_scalars(text) -> dict[str, float]:
    """The ``scalars`` column: a JSON object of metric name -> number (NaN and infinities
    included: they are what the run reported)."""
    if text is None:
        return {}
    try:
        obj = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise FrameDamage(f"scalars are not JSON ({_one_line(exc)})") from None
    return check_metrics(obj, "scalars")


def check_metrics(obj, what: str) -> dict[str, float]:
    if not isinstance(obj, dict):
        raise FrameDamage(f"{what} are {_short(obj)}, not an object of metrics")
    if len(obj) > MAX_METRICS:
        raise FrameDamage(f"{what} hold {len(obj)} metrics, more than {MAX_METRICS}")
    for name, value in obj.items():
        if value is None:  # a non-finite number written as null with a "nonfinite" map
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise FrameDamage(f"{what}: metric {_short(name)} is {_short(value)}, not a number")
    return {k: _float(v) for k, v in obj.items()}


def _float(v) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except OverflowError:  # an integer beyond any float, as the protocol reads it
        return math.inf if v > 0 else -math.inf


def check_frame(data: bytes, kinds: list[str], step: int, split: str) -> dict:
    """The decoded header of ``data``, the frame of a row with ``kinds``, ``step`` and
    ``split``."""
    try:
        header, arrays = decode_frame(data)
    except Exception as exc:  # noqa: BLE001 - whatever the decoder tripped on
        raise FrameDamage(f"it does not decode ({_one_line(exc)})") from None
    if not isinstance(header, dict):
        raise FrameDamage("its header is not a JSON object")
    if kinds == [EMBEDDING]:
        if header.get("type") != OVERLAYS or not isinstance(header.get("layer", ""), str):
            raise FrameDamage("an embedding row whose frame is not an embedding")
        return header
    if header.get("type") != PROBE:
        raise FrameDamage(f"a frame of type {_short(header.get('type'))}, not a probe frame")
    if header.get("step") != step:
        raise FrameDamage(f"its frame says step {_short(header.get('step'))}")
    if header.get("split") != split:
        raise FrameDamage(f"its frame says split {_short(header.get('split'))}")
    check_metrics(header.get("scalars", {}), "the frame's scalars")
    probed = header.get("kinds", {})
    if not isinstance(probed, dict) or set(probed) - set(PROBE_KINDS):
        raise FrameDamage(f"its frame's kinds {_short(probed)} are not {', '.join(PROBE_KINDS)}")
    if set(probed) != set(kinds) - {MATRICES}:
        raise FrameDamage(
            f"the row says kinds {','.join(kinds) or '(none)'}, its frame "
            f"{','.join(probed) or '(none)'}"
        )
    for kind, info in probed.items():
        _check_kind(kind, info, arrays)
    matrices = header.get("matrices", [])
    if not isinstance(matrices, list) or bool(matrices) != (MATRICES in kinds):
        raise FrameDamage("its weight matrices do not match the row's kinds")
    for m in matrices:
        _check_matrix(m, arrays)
    alarms = header.get("alarms", [])
    if not isinstance(alarms, list) or not all(
        isinstance(a, dict) and isinstance(a.get("message", ""), str) for a in alarms
    ):
        raise FrameDamage("its alarms are not a list of alarms")
    return header


def _check_kind(kind: str, info, arrays: dict) -> None:
    if (
        not isinstance(info, dict)
        or not isinstance(info.get("modules"), list)
        or not set(map(type, info["modules"])) <= {str}
    ):
        raise FrameDamage(f"its {kind} entry has no list of module paths")
    check_step(info.get("step"))
    rows = len(info["modules"])
    want = {"stats": (rows, len(STAT_NAMES)), "hist": (rows, None), "range": (rows, 2)}
    for part, shape in want.items():
        arr = arrays.get(f"{kind}_{part}")
        if (
            arr is None
            or arr.ndim != 2
            or arr.shape[0] != shape[0]
            or (shape[1] is not None and arr.shape[1] != shape[1])
        ):
            got = "missing" if arr is None else f"shaped {tuple(arr.shape)}"
            raise FrameDamage(
                f"its {kind}_{part} array is {got}, not {rows} rows"
                + (f" of {shape[1]}" if shape[1] else "")
            )
    for part in ("update", "sampled", "dead"):
        arr = arrays.get(f"{kind}_{part}")
        if arr is not None and arr.shape != (rows,):
            raise FrameDamage(
                f"its {kind}_{part} array is shaped {tuple(arr.shape)}, not ({rows},)"
            )


def _check_matrix(m, arrays: dict) -> None:
    if not isinstance(m, dict) or not all(
        isinstance(m.get(k), str) for k in ("module", "param", "array", "method")
    ):
        raise FrameDamage(
            f"a weight matrix entry {_short(m)} is not module, param, array and method"
        )
    arr = arrays.get(m["array"])
    if arr is None or arr.ndim != 2:
        raise FrameDamage(f"weight matrix {_short(m['array'])} is missing or not 2-D")
    shape = m.get("full_shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise FrameDamage(f"weight matrix {_short(m['array'])} has no full shape")


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- recorded model requests (the ``requests`` table) -----------------------------------------
REQUEST_KINDS = ("inspect", "feature", "landscape")
MAX_REQUEST_ARGS_BYTES = 1024
MAX_NAME = 512
"""The longest method or module name a recorded request may carry."""


def check_request_args(kind, text) -> tuple:
    """The ``kind`` and ``args`` columns of a recorded request: ``inspect`` (index, method,
    target), ``feature`` (module, unit) or ``landscape`` (steps), each value of its type."""
    if kind not in REQUEST_KINDS:
        raise FrameDamage(f"request kind {_short(kind)} is not one of {', '.join(REQUEST_KINDS)}")
    if not isinstance(text, str) or len(text) > MAX_REQUEST_ARGS_BYTES:
        raise FrameDamage(
            f"request arguments are not JSON text of at most {MAX_REQUEST_ARGS_BYTES} characters"
        )
    try:
        args = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise FrameDamage(f"request arguments are not JSON ({_one_line(exc)})") from None
    types = {"inspect": (int, str, int), "feature": (str, int), "landscape": (int,)}[kind]
    if (
        not isinstance(args, list)
        or len(args) != len(types)
        or not all(isinstance(a, t) and not isinstance(a, bool) for a, t in zip(args, types))
    ):
        names = {
            "inspect": "index, method, target",
            "feature": "module, unit",
            "landscape": "steps",
        }[kind]
        raise FrameDamage(f"{kind} arguments {_short(args)} are not {names}")
    for a in args:
        if isinstance(a, str) and len(a) > MAX_NAME:
            raise FrameDamage(f"{kind} argument {_short(a)} is longer than {MAX_NAME}")
        if isinstance(a, int) and not -1 <= a <= MAX_STEP:
            raise FrameDamage(f"{kind} argument {a} is out of range")
    return tuple(args)


def check_request_frame(data: bytes, kind: str, step: int) -> dict:
    """The decoded header of a recorded request's overlays frame, which must be of channel
    ``kind`` and say ``step``."""
    try:
        header, _ = decode_frame(data)
    except Exception as exc:  # noqa: BLE001 - whatever the decoder tripped on
        raise FrameDamage(f"it does not decode ({_one_line(exc)})") from None
    if (
        not isinstance(header, dict)
        or header.get("type") != OVERLAYS
        or header.get("channel") != kind
    ):
        raise FrameDamage(f"a {kind} request whose frame is not {kind} overlays")
    if header.get("step") != step:
        raise FrameDamage(f"its frame says step {_short(header.get('step'))}")
    if not isinstance(header.get("overlays"), list):
        raise FrameDamage("its frame has no list of overlays")
    return header
