"""Open model files: one explicit registry of formats, each a small class.

Every format has ``name``, ``extensions``, ``matches(head, path)`` (by content: magic bytes or
zip entries) and ``open(path) -> Graph``. :func:`open_model_file` picks the format by content;
the extension only breaks ties. Every failure is a :class:`ModelFileError` with one sentence.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...graph import Graph
from ...record.run_file import SQLITE_MAGIC
from .errors import ModelFileError, failure
from .export_archive import ExportArchiveFormat
from .onnx_file import OnnxFormat
from .safetensors_file import SafetensorsFormat
from .sharded import ShardedFormat
from .torch_checkpoint import StateDictFormat
from .torchscript import TorchScriptFormat
from .zip_archive import ZIP_MAGIC

FORMATS = (
    SafetensorsFormat,
    OnnxFormat,
    ExportArchiveFormat,
    TorchScriptFormat,
    StateDictFormat,
    ShardedFormat,
)
"""Tried in this order; the first whose ``matches`` is true opens the file."""

EXPECTED = (
    "safetensors, ONNX, a torch state_dict/checkpoint, TorchScript, torch.export "
    ".pt2 or a sharded checkpoint's .index.json"
)
HEAD_BYTES = 64

__all__ = ["FORMATS", "ModelFileError", "detect_format", "open_model_file"]


def detect_format(path: str | os.PathLike):
    """The format class that will open ``path``, or ``None``."""
    path = Path(path)
    head = _head(path)
    found = [fmt for fmt in FORMATS if fmt.matches(head, path)]
    for fmt in found:
        if path.suffix.lower() in fmt.extensions:
            return fmt
    return found[0] if found else None


def open_model_file(path: str | os.PathLike) -> Graph:
    """The graph of the model file at ``path``; :class:`ModelFileError` if it cannot be."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: expected a model file; found no such file")
    fmt = detect_format(path)
    if fmt is None:
        raise ModelFileError(
            f"{path}: not a model file nnviz3d can open (expected {EXPECTED}); "
            f"found {_describe(_head(path), path)}"
        )
    try:
        return fmt.open(path)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file can fail anywhere: one sentence
        raise ModelFileError(
            f"{path}: expected a readable {fmt.name} file; found one that "
            f"fails to open ({failure(exc)})"
        ) from None


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError as exc:
        raise ModelFileError(
            f"{path}: expected a readable model file; found {exc.strerror}"
        ) from None


def _describe(head: bytes, path: Path) -> str:
    if not head:
        return "an empty file"
    if head.startswith(b"glTF"):
        return "a glTF binary: a 3D scene (nnviz3d export writes these), not a model"
    if head.startswith(SQLITE_MAGIC):
        return "an SQLite file: if it is an nnviz3d recording, use nnviz3d replay or compare"
    if head.startswith(ZIP_MAGIC):
        return "a zip archive that is not a torch archive, or is truncated or corrupt"
    if len(head) >= 8 and head[8:9] != b"{" and head[:1] == b"{":
        return "text that looks like JSON"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data starting {head[:8].hex(' ')}"
    if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
        return f"text starting {text[:24]!r}"
    return f"binary data starting {head[:8].hex(' ')}"
