"""Sharded checkpoints as Hugging Face writes them: ``model.safetensors.index.json`` (or
``pytorch_model.bin.index.json``) maps every tensor name to one of several shard files beside
it. The index is opened; every shard is read by its own format (by content), and the graph is
the union of their tensors. Shard names must be plain file names in the index's folder, and a
shard that is a symbolic link must point into that folder or into the Hugging Face cache's
``blobs`` folder beside its snapshots (``snapshots/REV/x.safetensors -> ../../blobs/SHA``):
an index cannot make nnviz3d read a file elsewhere."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .tensor_tree import TensorEntry, graph_from_tensors

MAX_INDEX = 64 * 1024 * 1024


class ShardedFormat:
    name = "sharded checkpoint index"
    extensions = (".json",)

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return path.name.endswith(".index.json") and head.lstrip()[:1] == b"{"

    @staticmethod
    def open(path: Path) -> Graph:
        entries: list[TensorEntry] = []
        for shard, fmt in _shards(path):
            entries += _entries(shard, fmt)
        return graph_from_tensors(
            entries,
            model=path.name.removesuffix(".index.json"),
            strategy=f"sharded checkpoint ({len(_shards(path))} shards)",
        )

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        for shard, fmt in _shards(path):
            yield from fmt.tensors(shard)


def _shards(path: Path) -> list[tuple[Path, type]]:
    from . import detect_format

    if os.path.getsize(path) > MAX_INDEX:
        raise ModelFileError(
            f"{path}: expected a checkpoint index of a few MB; found "
            f"{os.path.getsize(path):,} bytes"
        )
    try:
        index = json.loads(path.read_text("utf-8"))
        weight_map = index["weight_map"]
        names = sorted(set(weight_map.values()))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise ModelFileError(
            f"{path}: expected a checkpoint index (JSON with a weight_map of "
            f"tensor name -> shard file); found something else"
        ) from None
    if not names or not all(isinstance(n, str) for n in names):
        raise ModelFileError(f"{path}: expected a weight_map naming shard files; found none")
    out = []
    for name in names:
        if Path(name).name != name or name in (".", ".."):
            raise ModelFileError(
                f"{path}: expected shard file names beside the index; found "
                f"{name!r}, which points elsewhere"
            )
        shard = path.parent / name
        _check_inside(path, name, shard)
        if not shard.is_file():
            raise ModelFileError(
                f"{path}: expected shard {name} beside the index; found no "
                f"such file (download every shard)"
            )
        fmt = detect_format(shard)
        if fmt is None or not hasattr(fmt, "entries"):
            raise ModelFileError(
                f"{path}: expected shard {name} to be safetensors or a torch "
                f"state_dict; found neither"
            )
        out.append((shard, fmt))
    return out


def _check_inside(path: Path, name: str, shard: Path) -> None:
    """Refuse a shard whose link leads outside the index's folder (or the HF cache's blobs)."""
    if not shard.is_symlink():
        return
    folder = path.parent.resolve()
    target = shard.resolve()
    if not any(target.is_relative_to(root) for root in (folder, folder.parent.parent / "blobs")):
        raise ModelFileError(
            f"{path}: expected shard {name} beside the index; found a link "
            f"to {target}, outside the model's folder"
        )


def _entries(shard: Path, fmt) -> list[TensorEntry]:
    if not hasattr(fmt, "entries"):
        raise ModelFileError(
            f"{shard}: expected a safetensors or state_dict shard; found a {fmt.name} file"
        )
    return fmt.entries(shard)
