"""TorchScript archives (``torch.jit.save``), read without ``torch.jit.load``.

``torch.jit.load`` is not safe on a file from elsewhere: a scripted class's ``__setstate__``
runs at load time. So ``data.pkl`` is read with a restricted unpickler that calls nothing:
``__torch__.*`` classes become inert stand-ins that keep their class name and attributes,
tensors become ``(shape, dtype)`` records taken from the pickle (no storage is read), and any
other global is refused. The module tree and class names come from the stand-ins; the graph
is the prefix-grouping one of :mod:`.tensor_tree`, with data-flow edges read from the
``code/`` entries by :mod:`.torchscript_flow` (parsed, never run).
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .tensor_tree import TensorEntry, add_flow, first_names, graph_from_tensors
from .torchscript_flow import data_flow, parse_classes
from .zip_archive import archive_kind

MAX_INFLATE = 4
"""An entry may not claim to be more than this many times the archive's size (zip bomb)."""


class TorchScriptFormat:
    name = "TorchScript"
    extensions = (".pt", ".pth", ".jit", ".torchscript")

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return archive_kind(head, path) == "torchscript"

    @staticmethod
    def open(path: Path) -> Graph:
        a = _read(path)
        graph = graph_from_tensors(a.entries, model=a.kinds[""],
                                   strategy="TorchScript archive", kinds=a.kinds)
        flow = _flow(path, a, graph)
        if flow is not None:
            add_flow(graph, flow)
            graph.strategy += "; data flow read from its code/ (not run)"
        return graph

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of the floating-point tensors, each read from its storage entry
        (``data/KEY``) into memory, one storage at a time."""
        import torch

        a = _read(path)
        entries, records, prefix = a.entries, a.records, a.prefix
        limit = max(os.path.getsize(path), 1) * MAX_INFLATE
        with zipfile.ZipFile(path) as z:
            for entry, rec in zip(entries, records):
                if entry.tied_to is not None:
                    continue  # read once, under the first name
                dtype = getattr(torch, rec.dtype, None)
                if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
                    continue
                try:
                    info = z.getinfo(f"{prefix}data/{rec.key}")
                except KeyError:
                    raise ModelFileError(f"{path}: expected storage data/{rec.key} for tensor "
                                         f"{entry.name!r}; found no such entry") from None
                if info.file_size > limit:
                    raise ModelFileError(f"{path}: expected a TorchScript archive; found "
                                         f"storage {rec.key} claiming {info.file_size:,} bytes "
                                         f"(corrupt)")
                storage = torch.frombuffer(bytearray(z.read(info)), dtype=dtype)
                yield entry.name, storage.as_strided(rec.shape, rec.stride, rec.offset)


@dataclass
class _Archive:
    kinds: dict[str, str]
    """Class name by module path."""
    entries: list[TensorEntry]
    records: list[_TensorRecord]
    """Where each entry's data lies."""
    prefix: str
    """The archive's top folder (``name/``)."""
    qualnames: dict[str, str]
    """Qualified class (``__torch__.a.b.Class``) by module path, to find its ``code/``."""
    children: dict[str, list[str]]
    """Submodule attribute names by module path."""


def _read(path: Path) -> _Archive:
    """The module tree, tensor entries and storage records of the archive's data.pkl."""
    with zipfile.ZipFile(path) as z:
        info = next((i for i in z.infolist() if i.filename.endswith("/data.pkl")
                     and i.filename.count("/") == 1), None)
        if info is None:
            raise ModelFileError(f"{path}: expected a TorchScript archive with a data.pkl "
                                 f"entry; found none")
        if info.file_size > max(os.path.getsize(path), 1) * MAX_INFLATE:
            raise ModelFileError(f"{path}: expected a TorchScript archive; found a data.pkl "
                                 f"claiming {info.file_size:,} bytes (corrupt)")
        raw = z.read(info)
    try:
        root = _InertUnpickler(io.BytesIO(raw)).load()
    except _Refused as exc:
        raise ModelFileError(f"{path}: expected a TorchScript archive of modules and "
                             f"tensors; found {exc}, which nnviz3d does not unpickle") from None
    except Exception as exc:  # noqa: BLE001 - any malformed pickle: one line
        raise ModelFileError(f"{path}: expected a TorchScript archive; found a data.pkl "
                             f"that does not read ({type(exc).__name__}: {exc})") from None
    if not isinstance(root, _Stub):
        raise ModelFileError(f"{path}: expected a TorchScript module; found a "
                             f"{type(root).__name__}")
    a = _Archive({}, [], [], info.filename.rpartition("data.pkl")[0], {}, {})
    _walk(root, "", a, set())
    a.kinds[""] = root.kind
    tied = first_names([(e.name, (r.key, r.offset, tuple(r.shape), tuple(r.stride), r.dtype))
                        for e, r in zip(a.entries, a.records)])
    for e in a.entries:
        e.tied_to = tied.get(e.name)
    return a


MAX_CODE = 16 * 1024 * 1024
"""Bytes of code/ source read at most (a real model's is a few hundred KB)."""


def _flow(path: Path, a: _Archive, graph: Graph):
    """The data flow of the root's forward (nnviz3d/capture/formats/torchscript_flow.py), or
    None when the archive's code cannot be read."""
    sources, total = {}, 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename.removeprefix(a.prefix)
            if not (name.startswith("code/__torch__") and name.endswith(".py")):
                continue
            total += info.file_size
            if total > MAX_CODE:
                return None
            try:
                sources[name.removeprefix("code/")] = z.read(info).decode("utf-8")
            except (UnicodeDecodeError, zipfile.BadZipFile, OSError):
                continue
    leaves = {n.path for n in graph.nodes if n.path and not n.is_group}
    try:
        return data_flow(parse_classes(sources), a.qualnames, a.children, leaves)
    except RecursionError:
        return None


class _Refused(Exception):
    pass


class _Stub:
    """An inert stand-in for a scripted module: its class name and pickled attributes."""

    kind = "Module"
    qualname = ""
    state = None

    def __setstate__(self, state) -> None:
        self.state = state


class _TensorRecord:
    """Where a tensor's data lies: storage ``key`` (entry ``data/KEY``), offset and strides
    in elements, and the dtype torch names it by (``float``, ``half``, ``bfloat16``...)."""

    def __init__(self, shape, dtype: str, key: str = "", offset: int = 0,
                 stride=()) -> None:
        self.shape, self.dtype = list(shape), dtype
        self.key, self.offset, self.stride = key, int(offset), list(stride)


def _rebuild_tensor(storage, offset, size, stride, *rest):
    kind, key = storage if isinstance(storage, tuple) and len(storage) == 2 else ("unknown", "")
    return _TensorRecord(size, kind.removesuffix("Storage").lower(), key, offset, stride)


def _identity(value):
    return value


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module.startswith("__torch__"):
            return type(name, (_Stub,), {"kind": name, "qualname": f"{module}.{name}"})
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return name
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return _identity
        if module == "torch.jit._pickle" and name == "restore_type_tag":
            return lambda value, tag: value
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise _Refused(f"the Python global {module}.{name}")

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and len(pid) >= 3:
            return (str(pid[1]), str(pid[2]))
        raise _Refused(f"an unknown persistent id {str(pid)[:40]}")


def _walk(obj: _Stub, path: str, a: _Archive, seen: set[int]) -> None:
    if id(obj) in seen or path.count(".") > 64:
        return
    seen.add(id(obj))
    if path:
        a.kinds[path] = obj.kind
    a.qualnames[path] = obj.qualname
    state = obj.state if isinstance(obj.state, dict) else {}
    for key, value in state.items():
        child = f"{path}.{key}" if path else str(key)
        if isinstance(value, _Stub):
            a.children.setdefault(path, []).append(str(key))
            _walk(value, child, a, seen)
        elif isinstance(value, _TensorRecord):
            a.entries.append(TensorEntry(child, value.shape, value.dtype))
            a.records.append(value)
