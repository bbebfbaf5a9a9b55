"""A state_dict or checkpoint written by ``torch.save`` (zip archive or legacy pickle).

Loaded only with ``torch.load(weights_only=True)`` onto the meta device: nothing but tensors,
containers and primitives is ever unpickled, and no tensor data is allocated. A dict of
tensors is accepted as is or nested under ``state_dict``/``model``/``module``; other values
(an epoch, optimizer state) are ignored.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .tensor_tree import TensorEntry, first_names, graph_from_tensors, tie_key
from .zip_archive import archive_kind

PICKLE_PROTOCOLS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
NESTED_KEYS = ("state_dict", "model", "module")
HOW_TO_SAVE = ("save the weights instead with torch.save(model.state_dict(), PATH) or "
               "safetensors.torch.save_file(model.state_dict(), PATH)")


class StateDictFormat:
    name = "torch state_dict"
    extensions = (".pt", ".pth", ".bin", ".ckpt")

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return head.startswith(PICKLE_PROTOCOLS) or archive_kind(head, path) == "state_dict"

    @staticmethod
    def open(path: Path) -> Graph:
        return graph_from_tensors(StateDictFormat.entries(path), model=Path(path).name,
                                  strategy="torch state_dict")

    @staticmethod
    def entries(path: Path) -> list[TensorEntry]:
        """The named tensors, with their ties. A zip state_dict is memory-mapped (no data is
        read, and shared storages are visible); a legacy pickle loads on the meta device."""
        mapped = archive_kind(_head(path), path) == "state_dict"
        obj = _load(path, "cpu" if mapped else "meta")
        named = named_tensors(obj)
        if not named:
            raise ModelFileError(f"{path}: expected a torch state_dict of tensors; found a "
                                 f"{type(obj).__name__} holding no tensors")
        tied = first_names([(n, tie_key(t)) for n, t in named])
        return [TensorEntry(n, list(t.shape), str(t.dtype), tied.get(n)) for n, t in named]

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of the floating-point tensors, memory-mapped where the file is a
        zip archive (a legacy pickle is read into memory: it is no bigger than the file)."""
        named = named_tensors(_load(path, "cpu"))
        tied = first_names([(n, tie_key(t)) for n, t in named])
        for name, value in named:
            if value.is_floating_point() and value.numel() and name not in tied:
                yield name, value


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def _load(path: Path, device: str):
    """``torch.load(weights_only=True)``: nothing but tensors, containers and primitives."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return torch.load(path, map_location=device, weights_only=True,
                                  mmap=device == "cpu")
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _first_line(exc)
        if "weights only" in str(exc).lower() or "unsupported" in reason.lower():
            raise ModelFileError(
                f"{path}: expected a torch state_dict of tensors; found a pickle that needs "
                f"arbitrary Python objects to load ({_global_in(str(exc))}), and nnviz3d "
                f"never unpickles arbitrary objects: {HOW_TO_SAVE}") from None
        raise ModelFileError(f"{path}: expected a torch state_dict or checkpoint; found a "
                             f"pickle that does not load ({reason})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path}: expected a torch state_dict or checkpoint; found "
                             f"one torch.load cannot read, truncated or corrupt? "
                             f"({type(exc).__name__}: {_first_line(exc)})") from None


def named_tensors(obj) -> list[tuple[str, object]]:
    """``(dotted name, tensor)`` of a state_dict, of the first nested one, or of nested
    dicts."""
    import torch

    if isinstance(obj, Mapping):
        for key in NESTED_KEYS:
            if isinstance(obj.get(key), Mapping):
                return named_tensors(obj[key])
    out: list[tuple[str, torch.Tensor]] = []

    def walk(prefix: str, value, depth: int) -> None:
        if isinstance(value, torch.Tensor):
            out.append((prefix, value))
        elif isinstance(value, Mapping) and depth < 16:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v, depth + 1)

    walk("", obj, 0)
    return out


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _global_in(message: str) -> str:
    """torch's weights-only message names the offending global; keep just that part."""
    for line in message.splitlines():
        line = line.strip()
        line = line.removeprefix("WeightsUnpickler error:").strip()
        if line.startswith(("Unsupported global", "Unsupported operand", "Trying to call")):
            line = line.partition(" was not an allowed")[0]
            return line if len(line) <= 160 else line[:157] + "..."
    return "it is not a plain dict of tensors"
