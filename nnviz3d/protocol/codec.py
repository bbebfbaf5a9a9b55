"""Binary frames: a small JSON header plus raw little-endian arrays with dtype and shape.

Layout (all integers little-endian)::

    0   4  magic "NV3D"
    4   2  uint16 PROTOCOL_VERSION
    6   2  uint16 flags (0)
    8   4  uint32 header length H
    12  H  header, UTF-8 JSON: {"type": ..., ..., "arrays": [
               {"name", "dtype", "shape", "offset", "nbytes"}, ...]}
    ...    each array at an 8-byte-aligned offset from the frame start, C order

so a browser can view every array in place (``new Float32Array(buf, offset, n)``).
"""

from __future__ import annotations

import json
import struct

import numpy as np

from .messages import MAGIC, PROTOCOL_VERSION

DTYPES = {"f4": np.float32, "f2": np.float16, "f8": np.float64, "u1": np.uint8,
          "u2": np.uint16, "u4": np.uint32, "i1": np.int8, "i2": np.int16, "i4": np.int32}
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
            raise TypeError(f"array {name!r} has dtype {arr.dtype}; the protocol carries "
                            f"{', '.join(DTYPES)}")
        data = np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[code]).newbyteorder("<"))
        specs.append({"name": name, "dtype": code, "shape": list(arr.shape),
                      "offset": 0, "nbytes": data.nbytes})
        chunks.append(data)
        rel.append(size)
        size += _pad(data.nbytes)
    head = {**header, "arrays": specs}
    # Offsets are absolute, so the header's length depends on them: settle it by iterating.
    base = _pad(PREFIX.size + len(json.dumps(head, separators=(",", ":"))))
    while True:
        for spec, r in zip(specs, rel):
            spec["offset"] = base + r
        raw = json.dumps(head, separators=(",", ":")).encode()
        needed = _pad(PREFIX.size + len(raw))
        if needed <= base:
            break
        base = needed
    out = bytearray(base + size)
    PREFIX.pack_into(out, 0, MAGIC.encode(), PROTOCOL_VERSION, 0, base - PREFIX.size)
    out[PREFIX.size:base] = raw.ljust(base - PREFIX.size, b" ")
    for spec, data in zip(specs, chunks):
        out[spec["offset"]:spec["offset"] + data.nbytes] = data.tobytes()
    return bytes(out)


def decode_frame(buf: bytes, *, max_bytes: int = 1 << 31) -> tuple[dict, dict[str, np.ndarray]]:
    """Inverse of :func:`encode_frame`; arrays are zero-copy views into ``buf``."""
    if len(buf) > max_bytes:
        raise FrameError(f"frame of {len(buf)} bytes exceeds the limit of {max_bytes}")
    if len(buf) < PREFIX.size:
        raise FrameError(f"frame of {len(buf)} bytes is shorter than the {PREFIX.size}-byte "
                         f"prefix")
    magic, version, _flags, hlen = PREFIX.unpack_from(buf, 0)
    if magic != MAGIC.encode():
        raise FrameError(f"bad magic {magic!r}: not an nnviz3d frame")
    if version != PROTOCOL_VERSION:
        raise FrameError(f"frame has protocol version {version}, this side speaks "
                         f"{PROTOCOL_VERSION}")
    if PREFIX.size + hlen > len(buf):
        raise FrameError(f"header length {hlen} runs past the end of a {len(buf)}-byte frame")
    try:
        header = json.loads(bytes(buf[PREFIX.size:PREFIX.size + hlen]))
    except ValueError as exc:
        raise FrameError(f"header is not JSON: {exc}") from exc
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
            raise FrameError(f"array {spec['name']!r} ({nbytes} bytes at {start}) does not fit "
                             f"a {len(buf)}-byte frame")
        arrays[spec["name"]] = np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<"),
                                             count=count, offset=start).reshape(shape)
    return header, arrays


def _pad(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN
