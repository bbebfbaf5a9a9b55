"""A state_dict or checkpoint written by ``torch.save`` (zip archive or legacy pickle).

Before torch reads anything, the pickle is scanned without running (:mod:`.pickle_scan`):
every storage must really be in the file with the bytes the pickle claims, and every tensor
must lie inside its storage and hold no more elements than it (a stride-0 ``expand`` of
200,000 x 200,000 saves in a few KB and would need 160 GB the moment it is materialised).
Then it is loaded with ``torch.load(weights_only=True)`` inside
:func:`~.code_guard.refusing_code`: nothing but tensors, containers and primitives is ever
unpickled. A zip state_dict is memory-mapped; a legacy one is read from a file object torch
cannot take for a tar archive (its oldest format extracts members to disk). A dict of tensors
is accepted as is or nested under ``state_dict``/``model``/``module``; other values (an epoch,
optimizer state) are ignored.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from ...graph import Graph
from .code_guard import CodeRefused, refusing_code
from .errors import ModelFileError
from .pickle_scan import Refused, check_records, scan, tensor_records
from .tensor_tree import TensorEntry, first_names, graph_from_tensors, tie_key
from .zip_archive import archive_kind, check_zip, torch_reader

PICKLE_PROTOCOLS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
EXPECTED = "a torch state_dict or checkpoint"
NESTED_KEYS = ("state_dict", "model", "module")
HOW_TO_SAVE = (
    "save the weights instead with torch.save(model.state_dict(), PATH) or "
    "safetensors.torch.save_file(model.state_dict(), PATH)"
)


class StateDictFormat:
    name = "torch state_dict"
    extensions = (".pt", ".pth", ".bin", ".ckpt")

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return head.startswith(PICKLE_PROTOCOLS) or archive_kind(head, path) == "state_dict"

    @staticmethod
    def open(path: Path) -> Graph:
        return graph_from_tensors(
            StateDictFormat.entries(path), model=Path(path).name, strategy="torch state_dict"
        )

    @staticmethod
    def entries(path: Path) -> list[TensorEntry]:
        """The named tensors, with their ties. A zip state_dict is memory-mapped (no data is
        read, and shared storages are visible); a legacy pickle loads on the meta device."""
        mapped = archive_kind(_head(path), path) == "state_dict"
        obj = _load(path, "cpu" if mapped else "meta")
        named = named_tensors(obj)
        if not named:
            raise ModelFileError(
                f"{path}: expected a torch state_dict of tensors; found a "
                f"{type(obj).__name__} holding no tensors"
            )
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
    """``torch.load(weights_only=True)`` of a scanned file: nothing but tensors, containers
    and primitives, and no storage bigger than the bytes the file holds for it."""
    import torch

    zipped = archive_kind(_head(path), path) == "state_dict"
    if zipped:
        _scan_zip(path)
    else:
        _scan_legacy(path)
    try:
        with warnings.catch_warnings(), refusing_code():
            warnings.simplefilter("ignore")
            if zipped:
                return torch.load(
                    path, map_location=device, weights_only=True, mmap=device == "cpu"
                )
            with open(path, "rb", buffering=0) as raw:
                return torch.load(_NoFileno(raw), map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = _first_line(exc)
        if "weights only" in str(exc).lower() or "unsupported" in reason.lower():
            raise ModelFileError(
                f"{path}: expected a torch state_dict of tensors; found a pickle that needs "
                f"arbitrary Python objects to load ({_global_in(str(exc))}), and nnviz3d "
                f"never unpickles arbitrary objects: {HOW_TO_SAVE}"
            ) from None
        raise ModelFileError(
            f"{path}: expected {EXPECTED}; found a pickle that does not load ({reason})"
        ) from None
    except CodeRefused as exc:
        raise ModelFileError(
            f"{path}: expected a torch state_dict of tensors; found one "
            f"whose loading needs {exc}, and nnviz3d never unpickles "
            f"arbitrary objects: {HOW_TO_SAVE}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(
            f"{path}: expected {EXPECTED}; found one torch.load cannot "
            f"read, truncated or corrupt? ({type(exc).__name__}: "
            f"{_first_line(exc)})"
        ) from None


class _NoFileno(io.BufferedReader):
    """A file torch reads through ``read`` only: without ``fileno`` torch.load does not try
    its tar format, which extracts members (symlinks included) to a temporary folder."""

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")


def _scan(path: Path, file) -> tuple[object, object]:
    """The inert scan of the pickle at ``file``'s position, or one sentence."""
    try:
        return scan(file)
    except Refused as exc:
        raise ModelFileError(
            f"{path}: expected a torch state_dict of tensors; found {exc}, "
            f"which nnviz3d does not read: {HOW_TO_SAVE}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any malformed pickle: one sentence
        raise ModelFileError(
            f"{path}: expected {EXPECTED}; found a pickle that does not "
            f"load ({type(exc).__name__}: {_first_line(exc)})"
        ) from None


def _refuse_globals(path: Path, unpickler) -> None:
    if unpickler.globals:
        raise ModelFileError(
            f"{path}: expected a torch state_dict of tensors; found a pickle that needs "
            f"arbitrary Python objects to load (Unsupported global: GLOBAL "
            f"{unpickler.globals[0]}), and nnviz3d never unpickles arbitrary objects: "
            f"{HOW_TO_SAVE}"
        )


def _scan_zip(path: Path) -> None:
    """data.pkl, read with torch's own reader, against the storages' entry sizes."""
    check_zip(path, EXPECTED)
    reader, names = torch_reader(str(path), path, EXPECTED)
    if "data.pkl" not in names or reader.get_record_size("data.pkl") > os.path.getsize(path):
        raise ModelFileError(f"{path}: expected {EXPECTED} with a data.pkl entry; found none")
    root, unpickler = _scan(path, io.BytesIO(reader.get_record("data.pkl")))
    keys = set(names)
    check_records(
        path,
        list(tensor_records(root)),
        unpickler.storages,
        lambda key: reader.get_record_size(f"data/{key}") if f"data/{key}" in keys else None,
        os.path.getsize(path),
        "readable torch state_dict weights",
    )


def _scan_legacy(path: Path) -> None:
    """A legacy ``torch.save`` file is pickles (magic number, protocol, system info, the
    object, its storage keys) then each storage as an 8-byte element count and its bytes:
    walked here to learn what every storage really holds."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        magic, first = _scan(path, f)
        if magic != LEGACY_MAGIC:
            _refuse_globals(path, first)
            raise ModelFileError(
                f"{path}: expected {EXPECTED}; found a pickle that is not a torch.save file"
            )
        protocol, _ = _scan(path, f)
        if protocol != LEGACY_PROTOCOL:
            raise ModelFileError(
                f"{path}: expected {EXPECTED}; found legacy protocol {str(protocol)[:20]}"
            )
        _scan(path, f)  # system info
        root, unpickler = _scan(path, f)
        keys, _ = _scan(path, f)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ModelFileError(f"{path}: expected {EXPECTED}; found no storage key list")
        held: dict[str, int] = {}
        for key in keys:
            ref = unpickler.storages.get(key)
            head = f.read(8)
            if ref is None or len(head) < 8:
                raise ModelFileError(
                    f"{path}: expected storage {key} in the file; found the "
                    f"file truncated or corrupt"
                )
            (count,) = struct.unpack("<q", head)
            nbytes = count * ref.itemsize
            if count < 0 or f.tell() + nbytes > size:
                raise ModelFileError(
                    f"{path}: expected storage {key} of {max(count, 0):,} "
                    f"elements in the file; found only "
                    f"{size - f.tell():,} bytes left (truncated or corrupt)"
                )
            held[key] = nbytes
            f.seek(nbytes, os.SEEK_CUR)
    check_records(
        path,
        list(tensor_records(root)),
        unpickler.storages,
        held.get,
        size,
        "readable torch state_dict weights",
    )


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
