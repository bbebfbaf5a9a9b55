"""Read a torch pickle (``data.pkl``, a legacy ``torch.save`` file) without running anything.

:class:`InertUnpickler` calls nothing real: a global becomes an inert stand-in (or, in strict
mode, is refused), a tensor becomes a :class:`TensorRecord` (shape, strides, offset, dtype,
storage) and a storage a :class:`StorageRef` (its key and the size the pickle claims). No
tensor data is read and nothing is allocated beyond the pickle's own small objects, so the
records can be checked against the bytes the file really holds (:func:`check_records`)
before torch is allowed to build a single tensor.
"""

from __future__ import annotations

import pickle
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import ModelFileError
from .storage_bounds import check_view, dtype_itemsize

TENSOR_REBUILDS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3")
"""``torch._utils`` functions that build a plain strided tensor on a storage."""


class Refused(Exception):
    """The pickle needs something nnviz3d does not unpickle; ``str`` names it."""


class Stub:
    """An inert stand-in for any other pickled object: its class name and its state."""

    kind = "Module"
    qualname = ""
    state = None
    args: tuple = ()

    def __init__(self, *args, **kwargs) -> None:
        self.args = args

    def __setstate__(self, state) -> None:
        self.state = state


class StorageRef:
    """A storage as the pickle names it: entry ``data/KEY`` (or the KEY-th storage of a
    legacy file), its element type and the number of elements it claims."""

    def __init__(self, kind: str, key: str, numel: int, itemsize: int, base: int = 0) -> None:
        self.kind, self.key, self.numel, self.itemsize = kind, key, numel, itemsize
        self.base = base
        """Element offset of a legacy storage view inside its root storage."""

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize


class TensorRecord:
    """Where a tensor's data lies: storage, offset and strides in elements, and the dtype
    torch names it by (``float``, ``half``, ``bfloat16``...)."""

    def __init__(
        self, storage: StorageRef | None, offset, shape, stride, dtype: str, itemsize: int
    ) -> None:
        self.storage, self.offset = storage, offset
        self.shape, self.stride = list(shape), list(stride)
        self.dtype, self.itemsize = dtype, itemsize

    @property
    def key(self) -> str:
        return self.storage.key if self.storage is not None else ""


def _storage_kind(name: str) -> tuple[str, int]:
    """``FloatStorage`` -> (``float``, 4); ``UntypedStorage`` -> (``uint8``, 1)."""
    import torch

    if name == "UntypedStorage":
        return "uint8", 1
    cls = getattr(torch, name, None)
    with warnings.catch_warnings():  # the legacy storage classes warn on any use
        warnings.simplefilter("ignore")
        dtype = getattr(cls, "dtype", None)
    if not isinstance(dtype, torch.dtype):
        raise Refused(f"an unknown storage type torch.{name}")
    return name.removesuffix("Storage").lower(), dtype.itemsize


def _int(value, what: str) -> int:
    if type(value) is not int:  # noqa: E721 - bool is not a size
        raise Refused(f"a tensor whose {what} is not an integer")
    return value


def _ints(values, what: str) -> list[int]:
    if not isinstance(values, (tuple, list)) or len(values) > 64:
        raise Refused(f"a tensor whose {what} is not a short list of integers")
    return [_int(v, what) for v in values]


def _record(storage, offset, size, stride, dtype: str | None = None) -> TensorRecord:
    if not isinstance(storage, StorageRef):
        raise Refused("a tensor without a storage entry")
    shape = _ints(size, "shape")
    strides = _ints(stride, "strides")
    if len(strides) != len(shape):
        raise Refused("a tensor whose strides do not match its shape")
    if dtype is None:
        return TensorRecord(
            storage,
            _int(offset, "offset") + storage.base,
            shape,
            strides,
            storage.kind,
            storage.itemsize,
        )
    return TensorRecord(
        storage, _int(offset, "offset") + storage.base, shape, strides, dtype, dtype_itemsize(dtype)
    )


def _rebuild_tensor(storage, offset, size, stride, *rest):
    return _record(storage, offset, size, stride)


def _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, *rest):
    if not isinstance(dtype, _DtypeName):
        raise Refused("a tensor whose dtype is not a torch dtype")
    return _record(storage, offset, size, stride, str(dtype))


class _DtypeName(str):
    """A ``torch.float32`` global, kept as its name."""


def _first(data, *rest):
    return data


def _from_type(func, new_type, args, state):
    if not callable(func) or not isinstance(args, tuple):
        raise Refused("a tensor subclass nnviz3d does not read")
    return func(*args)


def _identity(value):
    return value


class InertUnpickler(pickle.Unpickler):
    """Unpickles nothing real. ``strict``: any global but torch's tensor machinery,
    ``collections.OrderedDict`` and TorchScript's ``__torch__`` classes is refused (TorchScript
    archives); otherwise it becomes an inert :class:`Stub` (``torch.save`` files, whose other
    objects torch's weights-only loader then judges)."""

    def __init__(self, file, *, strict: bool) -> None:
        super().__init__(file)
        self.strict = strict
        self.storages: dict[str, StorageRef] = {}
        self.globals: list[str] = []
        """Other globals the pickle names (non-strict mode), in order."""

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__"):
            return type(name, (Stub,), {"kind": name, "qualname": f"{module}.{name}"})
        if module == "torch._utils" and name in TENSOR_REBUILDS:
            return _rebuild_tensor_v3 if name.endswith("v3") else _rebuild_tensor
        if module == "torch._utils" and name in (
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
        ):
            return _first
        if module == "torch._tensor" and name == "_rebuild_from_type_v2":
            return _from_type
        if module.startswith("torch") and "_rebuild" in name:
            raise Refused(
                f"a tensor built by {module}.{name} (sparse, quantized, nested or without storage)"
            )
        if module == "torch" and name.endswith("Storage"):
            return name
        if module == "torch" and _is_dtype(name):
            return _DtypeName(name)
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return _identity
        if module == "torch.jit._pickle" and name == "restore_type_tag":
            return lambda value, tag: value
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if self.strict:
            raise Refused(f"the Python global {module}.{name}")
        self.globals.append(f"{module}.{name}")
        return type(name, (Stub,), {"kind": name, "qualname": f"{module}.{name}"})

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and _text(pid[0]) == "storage"):
            raise Refused(f"an unknown persistent id {str(pid)[:40]}")
        kind_name, key, numel = pid[1], _text(pid[2]), pid[4]
        if not isinstance(kind_name, str):
            raise Refused("a storage of an unknown type")
        kind, itemsize = _storage_kind(kind_name)
        numel = _int(numel, "storage size")
        if numel < 0:
            raise Refused("a storage of negative size")
        root = self.storages.setdefault(key, StorageRef(kind, key, numel, itemsize))
        if root.numel != numel or root.kind != kind:
            raise Refused(f"storage {key} named twice with different sizes or types")
        view = pid[5] if len(pid) > 5 else None
        if view is None:
            return root
        try:  # a legacy storage view: (view key, offset, size) inside the root storage
            offset, size = _int(view[1], "view offset"), _int(view[2], "view size")
        except (TypeError, IndexError):
            raise Refused("a malformed storage view") from None
        if offset < 0 or size < 0 or offset + size > numel:
            raise Refused(f"a storage view outside storage {key}")
        return StorageRef(kind, key, size, itemsize, base=offset)


def _text(value) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _is_dtype(name: str) -> bool:
    import torch

    return isinstance(getattr(torch, name, None), torch.dtype)


def scan(file, *, strict: bool = False) -> tuple[object, InertUnpickler]:
    """``(root object, unpickler)`` of the pickle at ``file``'s position; :class:`Refused`
    or another exception for a malformed one."""
    unpickler = InertUnpickler(file, strict=strict)
    return unpickler.load(), unpickler


def tensor_records(obj, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, TensorRecord]]:
    """``(dotted name, record)`` of every :class:`TensorRecord` reachable from ``obj`` through
    containers and stubs."""
    if depth > 64:
        return
    if isinstance(obj, TensorRecord):
        yield prefix or "tensor", obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from tensor_records(value, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from tensor_records(value, f"{prefix}.{i}" if prefix else str(i), depth + 1)
    elif isinstance(obj, Stub):
        yield from tensor_records(obj.state, prefix, depth + 1)
        yield from tensor_records(obj.args, prefix, depth + 1)


def check_records(
    path: Path,
    records,
    storages: dict[str, StorageRef],
    available: Callable[[str], int | None],
    total: int,
    expected: str = "readable weights",
) -> None:
    """Refuse, in one sentence (``{path}: expected {expected}; found ...``), unless every
    storage's claimed bytes are really in the file (``available(key)``: the bytes its entry
    holds, or ``None`` for no entry; at most ``total`` bytes for all storages together) and
    every tensor lies inside its storage without claiming more elements than it holds
    (``records``: ``(name, record)`` pairs)."""
    claimed = 0
    for key, ref in storages.items():
        have = available(key)
        if have is None:
            raise ModelFileError(
                f"{path}: expected {expected}; found no entry for storage "
                f"{key} (truncated or corrupt)"
            )
        if ref.nbytes > have:
            raise ModelFileError(
                f"{path}: expected {expected}; found storage {key} holding "
                f"{have:,} of the {ref.nbytes:,} bytes its tensors claim "
                f"(truncated, corrupt or hostile file)"
            )
        claimed += ref.nbytes
    if claimed > total:
        raise ModelFileError(
            f"{path}: expected {expected}; found storages claiming "
            f"{claimed:,} bytes in a file of {total:,} (corrupt or hostile "
            f"file)"
        )
    for name, rec in records:
        root = storages.get(rec.key)
        nbytes = root.nbytes if root is not None else 0
        check_view(
            path, f"tensor {name[:80]!r}", rec.shape, rec.stride, rec.offset, rec.itemsize, nbytes
        )
