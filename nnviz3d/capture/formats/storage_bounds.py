"""Shapes from a file are checked against the bytes the file holds before anything is built.

A tensor saved as a stride-0 ``expand`` of 200,000 x 200,000 takes a few bytes on disk and
160 GB the moment anything makes it contiguous; a safetensors or ONNX header can claim any
shape. :func:`check_view` refuses a tensor that reaches outside its storage or claims more
elements than its storage holds; :data:`MAX_NUMEL` bounds shapes that come with no data at all
(ONNX external data, which is never read).
"""

from __future__ import annotations

from pathlib import Path

from .errors import ModelFileError

MAX_NUMEL = 2**40
"""Elements a shape-only tensor may claim (a trillion: four times the largest models)."""
MAX_DIMS = 64


def numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def dtype_itemsize(name: str) -> int:
    """Bytes per element of the torch dtype called ``name`` (``float32``, ``half``...)."""
    import torch

    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ModelFileError(f"expected a torch dtype; found {name!r}")
    return dtype.itemsize


def check_shape(path: Path, what: str, shape) -> int:
    """The element count of a declared shape; refused unless it is a short list of
    non-negative integers claiming at most :data:`MAX_NUMEL` elements."""
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) > MAX_DIMS
        or not all(type(d) is int and d >= 0 for d in shape)
    ):  # noqa: E721
        raise ModelFileError(
            f"{path}: expected {what} to have a shape of at most {MAX_DIMS} "
            f"non-negative integers; found {str(shape)[:80]}"
        )
    n = numel(shape)
    if n > MAX_NUMEL:
        raise ModelFileError(
            f"{path}: expected {what} to have at most {MAX_NUMEL:,} elements; "
            f"found shape {list(shape)} ({n:,} elements: corrupt or hostile "
            f"file)"
        )
    return n


def check_view(
    path: Path, what: str, shape, stride, offset: int, itemsize: int, storage_bytes: int
) -> None:
    """Refuse ``what`` unless the view (shape, strides, offset in elements) lies inside a
    storage of ``storage_bytes`` and claims no more elements than that storage holds (a
    stride-0 or overlapping view would multiply the memory anything materialising it needs)."""
    n = check_shape(path, what, shape)
    ok = (
        len(stride) == len(shape)
        and all(type(s) is int and s >= 0 for s in stride)  # noqa: E721
        and type(offset) is int
        and offset >= 0
    )  # noqa: E721
    if not ok:
        raise ModelFileError(
            f"{path}: expected {what} to have one non-negative stride per "
            f"dimension and a non-negative offset; found strides "
            f"{str(stride)[:60]}, offset {offset}"
        )
    if n == 0:
        return
    end = offset + sum((d - 1) * s for d, s in zip(shape, stride)) + 1
    if end * itemsize > storage_bytes:
        raise ModelFileError(
            f"{path}: expected {what} (shape {list(shape)}) to lie inside "
            f"its {storage_bytes:,}-byte storage; found it reaching byte "
            f"{end * itemsize:,} (corrupt or hostile file)"
        )
    if n * itemsize > storage_bytes:
        raise ModelFileError(
            f"{path}: expected {what} to hold no more data than its storage; "
            f"found shape {list(shape)} ({n * itemsize:,} bytes) on a "
            f"{storage_bytes:,}-byte storage (a stride-0 or overlapping view "
            f"that would need {n * itemsize:,} bytes of memory)"
        )
