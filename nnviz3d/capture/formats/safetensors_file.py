"""safetensors: an 8-byte little-endian header length N, N bytes of JSON, then the data.

The graph is read with the standard library only: the header is checked against the file
size before it is read, and every tensor's ``data_offsets`` against the data section and its
dtype x shape; no tensor data is read. :meth:`SafetensorsFormat.tensors` then maps the file and
views one tensor at a time (no copy until a caller converts it).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .storage_bounds import check_shape
from .tensor_tree import TensorEntry, graph_from_tensors

DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "U16": 2,
    "I16": 2,
    "F16": 2,
    "BF16": 2,
    "U32": 4,
    "I32": 4,
    "F32": 4,
    "U64": 8,
    "I64": 8,
    "F64": 8,
}
TORCH_DTYPES = {
    "F16": "float16",
    "BF16": "bfloat16",
    "F32": "float32",
    "F64": "float64",
    "F8_E5M2": "float8_e5m2",
    "F8_E4M3": "float8_e4m3fn",
}
"""Floating dtypes whose tensors are read for weight views (integers and masks are not)."""
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
        return graph_from_tensors(
            SafetensorsFormat.entries(path), model=Path(path).name, strategy="safetensors header"
        )

    @staticmethod
    def entries(path: Path) -> list[TensorEntry]:
        """The header's tensors, checked against the file."""
        return _header(path)[0]

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of every floating-point tensor, viewed on a memory map."""
        import torch

        entries, offsets, start = _header(path)
        with open(path, "rb") as f:  # the map outlives the file object, and the tensors it
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # backs keep it alive
        for entry in entries:
            dtype = getattr(torch, TORCH_DTYPES.get(entry.dtype, ""), None)
            if dtype is None or not dtype.is_floating_point or not entry.numel:
                continue
            with warnings.catch_warnings():  # the view is only read
                warnings.simplefilter("ignore")
                flat = torch.frombuffer(
                    mm, dtype=dtype, count=entry.numel, offset=start + offsets[entry.name]
                )
            yield entry.name, flat.reshape(entry.shape)


def _header(path: Path) -> tuple[list[TensorEntry], dict[str, int], int]:
    """The checked entries, each tensor's offset in the data section, and where it starts."""
    size = os.path.getsize(path)
    expected = "a safetensors file"
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > MAX_HEADER or 8 + n > size:
            raise ModelFileError(
                f"{path}: expected {expected} whose header fits in the file; found a header "
                f"claiming {n:,} bytes in a file of {size:,} bytes (truncated or corrupt)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: expected {expected} with a JSON header; found unparseable JSON ({exc})"
        ) from None
    if not isinstance(header, dict):
        raise ModelFileError(
            f"{path}: expected {expected} with a JSON object header; "
            f"found a {type(header).__name__}"
        )
    data_size = size - 8 - n
    entries, offsets = [], {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        entries.append(_entry(path, name, info, data_size))
        offsets[name] = info["data_offsets"][0]
    if not entries:
        raise ModelFileError(f"{path}: expected {expected} holding tensors; found none")
    return entries, offsets, 8 + n


def _entry(path, name: str, info, data_size: int) -> TensorEntry:
    try:
        dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        ok = (
            dtype in DTYPE_BYTES
            and isinstance(shape, list)
            and all(isinstance(d, int) and d >= 0 for d in shape)
            and isinstance(start, int)
            and isinstance(end, int)
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelFileError(
            f"{path}: expected each safetensors header entry to have a known "
            f"dtype, a shape and two data offsets; found {str(info)[:80]} "
            f"for tensor {name!r}"
        )
    entry = TensorEntry(name, list(shape), dtype)
    check_shape(path, f"tensor {name[:80]!r}", entry.shape)
    if not 0 <= start <= end <= data_size:
        raise ModelFileError(
            f"{path}: expected tensor {name!r} to lie inside the file's "
            f"{data_size:,} data bytes; found offsets {start:,}..{end:,} "
            f"(truncated or corrupt)"
        )
    if end - start != entry.numel * DTYPE_BYTES[dtype]:
        raise ModelFileError(
            f"{path}: expected tensor {name!r} ({dtype} {shape}) to take "
            f"{entry.numel * DTYPE_BYTES[dtype]:,} bytes; found "
            f"{end - start:,}"
        )
    return entry
