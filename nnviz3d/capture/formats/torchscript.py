"""TorchScript archives (``torch.jit.save``), read without ``torch.jit.load``.

``torch.jit.load`` is not safe on a file from elsewhere: a scripted class's ``__setstate__``
runs at load time. So ``data.pkl`` is read with a restricted unpickler that calls nothing
(:class:`~.pickle_scan.InertUnpickler`, strict): ``__torch__.*`` classes become inert stand-ins
that keep their class name and attributes, tensors become records of shape, strides and
storage taken from the pickle (no storage is read), and any other global is refused. Every
record is checked against the bytes its ``data/KEY`` entry holds before any is read. The
module tree and class names come from the stand-ins; the graph is the prefix-grouping one of
:mod:`.tensor_tree`, with data-flow edges read from the ``code/`` entries by
:mod:`.torchscript_flow` (parsed, never run).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .pickle_scan import Refused, Stub, TensorRecord, check_records, scan
from .tensor_tree import TensorEntry, add_flow, first_names, graph_from_tensors
from .torchscript_flow import data_flow, parse_classes
from .zip_archive import archive_kind, check_zip, inflate_limit

EXPECTED = "a TorchScript archive"


class TorchScriptFormat:
    name = "TorchScript"
    extensions = (".pt", ".pth", ".jit", ".torchscript")

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return archive_kind(head, path) == "torchscript"

    @staticmethod
    def open(path: Path) -> Graph:
        a = _read(path)
        graph = graph_from_tensors(
            a.entries, model=a.kinds[""], strategy="TorchScript archive", kinds=a.kinds
        )
        flow = _flow(path, a, graph)
        if flow is not None:
            add_flow(graph, flow)
            graph.strategy += "; data flow read from its code/ (not run)"
        return graph

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of the floating-point tensors, each a view of its storage entry
        (``data/KEY``), read into memory once per storage."""
        import torch

        a = _read(path)
        storages: dict[str, object] = {}
        with zipfile.ZipFile(path) as z:
            for entry, rec in zip(a.entries, a.records):
                if entry.tied_to is not None:
                    continue  # read once, under the first name
                dtype = getattr(torch, rec.dtype, None)
                if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
                    continue
                if rec.key not in storages:
                    storages[rec.key] = bytearray(z.read(f"{a.prefix}data/{rec.key}"))
                storage = (
                    torch.frombuffer(storages[rec.key], dtype=dtype)
                    if storages[rec.key]
                    else torch.empty(0, dtype=dtype)
                )
                yield entry.name, storage.as_strided(rec.shape, rec.stride, rec.offset)


@dataclass
class _Archive:
    kinds: dict[str, str]
    """Class name by module path."""
    entries: list[TensorEntry]
    records: list[TensorRecord]
    """Where each entry's data lies."""
    prefix: str
    """The archive's top folder (``name/``)."""
    qualnames: dict[str, str]
    """Qualified class (``__torch__.a.b.Class``) by module path, to find its ``code/``."""
    children: dict[str, list[str]]
    """Submodule attribute names by module path."""


def _read(path: Path) -> _Archive:
    """The module tree, tensor entries and storage records of the archive's data.pkl, every
    record checked against its storage entry."""
    prefix = check_zip(path, EXPECTED)
    with zipfile.ZipFile(path) as z:
        sizes = {i.filename: i.file_size for i in z.infolist()}
        if f"{prefix}data.pkl" not in sizes:
            raise ModelFileError(f"{path}: expected {EXPECTED} with a data.pkl entry; found none")
        raw = z.read(f"{prefix}data.pkl")
    try:
        root, unpickler = scan(io.BytesIO(raw), strict=True)
    except Refused as exc:
        raise ModelFileError(
            f"{path}: expected a TorchScript archive of modules and "
            f"tensors; found {exc}, which nnviz3d does not unpickle"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any malformed pickle: one line
        raise ModelFileError(
            f"{path}: expected {EXPECTED}; found a data.pkl that does not "
            f"read ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
        ) from None
    if not isinstance(root, Stub):
        raise ModelFileError(
            f"{path}: expected a TorchScript module; found a {type(root).__name__}"
        )
    a = _Archive({}, [], [], prefix, {}, {})
    _walk(root, "", a, set())
    a.kinds[""] = root.kind
    check_records(
        path,
        list(zip([e.name for e in a.entries], a.records)),
        unpickler.storages,
        lambda key: sizes.get(f"{prefix}data/{key}"),
        inflate_limit(path),
        "readable TorchScript weights",
    )
    tied = first_names(
        [
            (e.name, (r.key, r.offset, tuple(r.shape), tuple(r.stride), r.dtype))
            for e, r in zip(a.entries, a.records)
        ]
    )
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


def _walk(obj: Stub, path: str, a: _Archive, seen: set[int]) -> None:
    if id(obj) in seen or path.count(".") > 64:
        return
    seen.add(id(obj))
    if path:
        a.kinds[path] = obj.kind
    a.qualnames[path] = obj.qualname
    state = obj.state if isinstance(obj.state, dict) else {}
    for key, value in state.items():
        child = f"{path}.{key}" if path else str(key)
        if isinstance(value, Stub):
            a.children.setdefault(path, []).append(str(key))
            _walk(value, child, a, seen)
        elif isinstance(value, TensorRecord):
            a.entries.append(TensorEntry(child, value.shape, value.dtype))
            a.records.append(value)
