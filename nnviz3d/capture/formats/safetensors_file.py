"""safetensors: an 8-byte little-endian header length N, N bytes of JSON, then the data.

Read with the standard library only: the header is checked against the file size before it
is read, and every tensor's ``data_offsets`` against the data section and its dtype x shape.
No tensor data is read.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .tensor_tree import TensorEntry, graph_from_tensors

DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "U16": 2, "I16": 2,
    "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
}
MAX_HEADER = 100 * 1024 * 1024
"""The safetensors library's own limit on the JSON header."""


class SafetensorsFormat:
    name = "safetensors"
    extensions = (".safetensors",)

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return len(head) >= 9 and head[8:9] == b"{"

    @staticmethod
    def open(path: Path) -> Graph:
        size = os.path.getsize(path)
        expected = "a safetensors file"
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > MAX_HEADER or 8 + n > size:
                raise ModelFileError(
                    f"{path}: expected {expected} whose header fits in the file; found a header "
                    f"claiming {n:,} bytes in a file of {size:,} bytes (truncated or corrupt)")
            raw = f.read(n)
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelFileError(f"{path}: expected {expected} with a JSON header; found "
                                 f"unparseable JSON ({exc})") from None
        if not isinstance(header, dict):
            raise ModelFileError(f"{path}: expected {expected} with a JSON object header; "
                                 f"found a {type(header).__name__}")
        data_size = size - 8 - n
        entries = []
        for name, info in header.items():
            if name == "__metadata__":
                continue
            entries.append(_entry(path, name, info, data_size))
        if not entries:
            raise ModelFileError(f"{path}: expected {expected} holding tensors; found none")
        return graph_from_tensors(entries, model=Path(path).name, strategy="safetensors header")


def _entry(path, name: str, info, data_size: int) -> TensorEntry:
    try:
        dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        ok = (dtype in DTYPE_BYTES and isinstance(shape, list)
              and all(isinstance(d, int) and d >= 0 for d in shape)
              and isinstance(start, int) and isinstance(end, int))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelFileError(f"{path}: expected each safetensors header entry to have a known "
                             f"dtype, a shape and two data offsets; found {str(info)[:80]} "
                             f"for tensor {name!r}")
    entry = TensorEntry(name, list(shape), dtype)
    if not 0 <= start <= end <= data_size:
        raise ModelFileError(f"{path}: expected tensor {name!r} to lie inside the file's "
                             f"{data_size:,} data bytes; found offsets {start:,}..{end:,} "
                             f"(truncated or corrupt)")
    if end - start != entry.numel * DTYPE_BYTES[dtype]:
        raise ModelFileError(f"{path}: expected tensor {name!r} ({dtype} {shape}) to take "
                             f"{entry.numel * DTYPE_BYTES[dtype]:,} bytes; found "
                             f"{end - start:,}")
    return entry
