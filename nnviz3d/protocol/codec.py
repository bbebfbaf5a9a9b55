"""Binary frames: a small JSON header plus raw little-endian arrays with dtype and shape.

Layout (all integers little-endian)::

    0   4  magic "NV3D"
    4   2  uint16 PROTOCOL_VERSION
    6   2  uint16 flags (0)
    8   4  uint32 header length H
    12  H  header, UTF-8 JSON: {"type": ..., ..., "arrays": [
               {"name", "dtype", "shape", "offset", "nbytes"}, ...][, "nonfinite": {...}]}
    ...    each array at an 8-byte-aligned offset from the frame start, C order

so a browser can view every array in place (``new Float32Array(buf, offset, n)``).

Non-finite numbers: JSON has no NaN or Infinity (``JSON.parse`` rejects Python's bare ``NaN``),
so a header number that is NaN, +Inf or -Inf travels as ``null`` and the top-level
``"nonfinite"`` map names it: ``{JSON pointer (RFC 6901): "NaN" | "Infinity" | "-Infinity"}``,
e.g. ``{"/scalars/loss": "NaN"}``. Decoders (here and web/src/codec.ts) put the numbers back
and drop the map; a string ``"NaN"`` stays a string. Headers written before this rule (bare
``NaN`` tokens, in old recordings) still decode on both sides. :func:`dumps_json` /
:func:`loads_json` apply the same rule to JSON text messages.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

from .messages import MAGIC, NONFINITE, NONFINITE_VALUES, PROTOCOL_VERSION

DTYPES = {
    "f4": np.float32,
    "f2": np.float16,
    "f8": np.float64,
    "u1": np.uint8,
    "u2": np.uint16,
    "u4": np.uint32,
    "i1": np.int8,
    "i2": np.int16,
    "i4": np.int32,
}
"""Wire dtype codes (numpy's, without byte order: always little-endian)."""
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}
PREFIX = struct.Struct("<4sHHI")
ALIGN = 8


class FrameError(ValueError):
    """A binary frame that cannot be decoded; the message says what was wrong."""


def encode_frame(header: dict, arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One binary frame: ``header`` (JSON-able, with a ``type``) and named arrays."""
    specs, chunks, rel = [], [], []
    size = 0
    for name, arr in (arrays or {}).items():
        arr = np.asarray(arr)
        code = _CODES.get(arr.dtype.newbyteorder("="))
        if code is None:
            raise TypeError(
                f"array {name!r} has dtype {arr.dtype}; the protocol carries {', '.join(DTYPES)}"
            )
        data = np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[code]).newbyteorder("<"))
        specs.append(
            {
                "name": name,
                "dtype": code,
                "shape": list(arr.shape),
                "offset": 0,
                "nbytes": data.nbytes,
            }
        )
        chunks.append(data)
        rel.append(size)
        size += _pad(data.nbytes)
    for spec, r in zip(specs, rel):
        spec["offset"] = r
    head, length = {**header, "arrays": specs}, None
    if NONFINITE not in head:  # the common case: one dump checks the header and measures it
        try:
            length = len(_dumps(head))
        except (ValueError, TypeError):
            pass
    if length is None:  # non-finite or numpy values (or a "nonfinite" key given): made safe
        head = json_safe(head)
        specs = head["arrays"]
        length = len(_dumps(head))

    # Offsets are absolute, so the header's length depends on them; only their digits change
    # (ASCII JSON: characters are bytes), so the length is settled without dumping again.
    def grown(base: int) -> int:
        return sum(len(str(base + r)) - len(str(r)) for r in rel)

    base = _pad(PREFIX.size + length)
    while (needed := _pad(PREFIX.size + length + grown(base))) > base:
        base = needed
    for spec, r in zip(specs, rel):
        spec["offset"] = base + r
    raw = _dumps(head).encode()
    if PREFIX.size + len(raw) > base:  # cannot happen (the arithmetic above): said, not hidden
        raise AssertionError(f"header of {len(raw)} bytes overruns its {base}-byte slot")
    out = bytearray(base + size)
    PREFIX.pack_into(out, 0, MAGIC.encode(), PROTOCOL_VERSION, 0, base - PREFIX.size)
    out[PREFIX.size : base] = raw.ljust(base - PREFIX.size, b" ")
    for spec, data in zip(specs, chunks):
        out[spec["offset"] : spec["offset"] + data.nbytes] = data.tobytes()
    return bytes(out)


def decode_frame(buf: bytes, *, max_bytes: int = 1 << 31) -> tuple[dict, dict[str, np.ndarray]]:
    """Inverse of :func:`encode_frame`; arrays are zero-copy views into ``buf``."""
    if len(buf) > max_bytes:
        raise FrameError(f"frame of {len(buf)} bytes exceeds the limit of {max_bytes}")
    if len(buf) < PREFIX.size:
        raise FrameError(f"frame of {len(buf)} bytes is shorter than the {PREFIX.size}-byte prefix")
    magic, version, _flags, hlen = PREFIX.unpack_from(buf, 0)
    if magic != MAGIC.encode():
        raise FrameError(f"bad magic {magic!r}: not an nnviz3d frame")
    if version != PROTOCOL_VERSION:
        raise FrameError(
            f"frame has protocol version {version}, this side speaks {PROTOCOL_VERSION}"
        )
    if PREFIX.size + hlen > len(buf):
        raise FrameError(f"header length {hlen} runs past the end of a {len(buf)}-byte frame")
    try:
        header = loads_json(bytes(buf[PREFIX.size : PREFIX.size + hlen]))
    except ValueError as exc:
        raise FrameError(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise FrameError(f"header is a JSON {type(header).__name__}, not an object")
    arrays = {}
    for spec in header.get("arrays", []):
        dtype = DTYPES.get(spec.get("dtype"))
        if dtype is None:
            raise FrameError(f"array {spec.get('name')!r} has unknown dtype {spec.get('dtype')!r}")
        shape = tuple(int(d) for d in spec["shape"])
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * np.dtype(dtype).itemsize
        start = int(spec["offset"])
        if nbytes != spec["nbytes"] or start < 0 or start + nbytes > len(buf):
            raise FrameError(
                f"array {spec['name']!r} ({nbytes} bytes at {start}) does not fit "
                f"a {len(buf)}-byte frame"
            )
        arrays[spec["name"]] = np.frombuffer(
            buf, dtype=np.dtype(dtype).newbyteorder("<"), count=count, offset=start
        ).reshape(shape)
    return header, arrays


def json_safe(obj: dict) -> dict:
    """``obj`` (a JSON object) with every NaN/Inf number replaced by ``None`` and named in its
    top-level ``"nonfinite"`` map (see the module docstring); numpy scalars and arrays become
    Python numbers and lists, tuples lists. Returns ``obj`` itself when nothing needed it."""
    if not isinstance(obj, dict):
        raise TypeError(f"a header is a dict, got {type(obj).__name__}")
    obj = {k: v for k, v in obj.items() if k != NONFINITE}
    try:
        json.dumps(obj, allow_nan=False)
        return obj
    except (ValueError, TypeError):
        pass  # non-finite numbers or numpy values somewhere: the slow, exact path
    found: dict[str, str] = {}
    out = _walk(obj, "", found)
    if found:
        out[NONFINITE] = found
    return out


def dumps_json(obj: dict) -> str:
    """Compact JSON text of a message, with non-finite numbers as :func:`json_safe` writes
    them (never a bare ``NaN``, which browsers reject)."""
    return _dumps(json_safe(obj))


def loads_json(text: str | bytes):
    """Parse JSON written by :func:`dumps_json` (or older, with bare ``NaN``/``Infinity``):
    the numbers named in a top-level ``"nonfinite"`` map are put back and the map dropped."""
    obj = json.loads(text)
    if isinstance(obj, dict) and isinstance(obj.get(NONFINITE), dict):
        for pointer, tag in obj.pop(NONFINITE).items():
            _restore(obj, pointer, tag)
    return obj


_NUMBERS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
assert tuple(_NUMBERS) == NONFINITE_VALUES


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def _key(k) -> str:
    """A dict key as JSON writes it."""
    if isinstance(k, str):
        return k
    if isinstance(k, (bool, np.bool_)):
        return "true" if k else "false"
    if k is None:
        return "null"
    if isinstance(k, (int, np.integer)):
        return str(int(k))
    if isinstance(k, (float, np.floating)):
        k = float(k)
        return repr(k) if math.isfinite(k) else _tag(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _tag(x: float) -> str:
    return "NaN" if x != x else "Infinity" if x > 0 else "-Infinity"


def _walk(obj, path: str, found: dict[str, str]):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            k = _key(k)
            out[k] = _walk(v, f"{path}/{k.replace('~', '~0').replace('/', '~1')}", found)
        return out
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [_walk(v, f"{path}/{i}", found) for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if math.isfinite(x):
            return x
        found[path] = _tag(x)
        return None
    return obj


def _restore(obj, pointer: str, tag) -> None:
    """Set the ``null`` at JSON ``pointer`` in ``obj`` to the number ``tag`` names; anything
    else (no such place, not null, an unknown tag) is ignored."""
    if tag not in _NUMBERS or not isinstance(pointer, str) or not pointer.startswith("/"):
        return
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
    cur = obj
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(cur, dict):
            if part not in cur:
                return
            if last:
                if cur[part] is None:
                    cur[part] = _NUMBERS[tag]
                return
            cur = cur[part]
        elif isinstance(cur, list):
            if not part.isdigit() or int(part) >= len(cur):
                return
            if last:
                if cur[int(part)] is None:
                    cur[int(part)] = _NUMBERS[tag]
                return
            cur = cur[int(part)]
        else:
            return


def _pad(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN
