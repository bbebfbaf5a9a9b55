"""torch.export archives (``.pt2``, ``torch.export.save``): a serialized graph, no Python code.

``torch.export.load`` is not safe on any file (see :mod:`.code_guard` for every place it can
unpickle, load native code or ``eval``). Two layers keep a hostile archive from running:

1. :func:`check_archive` reads the archive through torch's own reader and refuses, before torch
   sees it, anything but the entries ``torch.export.save`` writes (no legacy layout, no
   duplicate names, no AOTInductor libraries), a missing or unknown version, pickled weights
   or constants, sample inputs that are not plain tensors, weights whose shape claims more
   than their bytes hold, operators outside ``aten``/``prims``/a few higher-order ones (no
   ``aten.save``/``aten.from_file``), and symbolic shapes that are not plain arithmetic.
2. The load itself runs inside :func:`~.code_guard.refusing_code`, where torch *cannot*
   unpickle (``torch.load`` is weights-only, ``pickle.loads`` and the TorchScript unpickler
   refuse), load native code, or ``eval`` an unsafe shape expression, whatever the check
   missed.

The graph is captured with :func:`~nnviz3d.capture.capture_graph` on
``torch.export.unflatten(ep)`` with the example inputs the archive stores, so it has data flow
edges like a live model's; only the symbolic strategies (:data:`SYMBOLIC`) are used, so the
graph never runs on real tensors and nothing it computes is allocated. An archive saved
without example inputs is refused.
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...graph import Graph
from .code_guard import check_sym_expr, refusing_code
from .errors import ModelFileError
from .pickle_scan import Refused, check_records, scan, tensor_records
from .storage_bounds import check_view
from .zip_archive import archive_kind, check_zip, inflate_limit, torch_reader

EXPECTED = "a torch.export .pt2 archive"
ENTRIES = re.compile(
    r"""(archive_format|archive_version|byteorder|\.data/version
    |\.data/serialization_id|models/model\.json|data/sample_inputs/model\.pt
    |data/weights/model_weights_config\.json|data/weights/weight_[0-9]+
    |data/constants/model_constants_config\.json|data/constants/tensor_[0-9]+
    |extra/[A-Za-z0-9_.\-]+)""",
    re.X,
)
"""Every entry ``torch.export.save`` writes for one model (and nothing that unpickles)."""
OPERATORS = re.compile(
    r"""(torch\.ops\.(aten|prims|quantized_decomposed)\.\w+(\.\w+)?
    |torch\.ops\.higher_order\.(cond|while_loop|map_impl|scan|wrap_with_set_grad_enabled
        |wrap_with_autocast|invoke_subgraph)
    |_operator\.(getitem|add|sub|mul|truediv|floordiv|mod|pow|neg|pos|abs|eq|ne|lt|le|gt|ge
        |and_|or_|xor|not_|invert|lshift|rshift|matmul)
    |math\.(ceil|floor|trunc|sqrt|exp|log|log2|log10|sin|cos|tan|fabs|pow)
    |torch\.(sym_\w+|_sym_\w+))""",
    re.X,
)
"""Operators a graph may call: pure tensor and shape arithmetic."""
DENIED = re.compile(r"torch\.ops\.aten\.(save|from_file|_print|warn)(\.\w+)?")
"""aten operators that read or write files or print."""
MAX_JSON = 256 * 1024 * 1024
SYMBOLIC = ("export", "fx")
"""Capture strategies that never run the graph on real tensors (torch.export runs it on fake
tensors, torch.fx on proxies): what the file's operators compute is never allocated."""


class ExportArchiveFormat:
    name = "torch.export .pt2"
    extensions = (".pt2",)

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return archive_kind(head, path) == "export"

    @staticmethod
    def open(path: Path) -> Graph:
        return _capture(_load(path), path)

    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of the archive's floating-point parameters and buffers."""
        import torch

        ep = _load(path)
        for name, value in ep.state_dict.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                yield name, value.detach()


UNSAFE = (
    "nnviz3d never unpickles arbitrary objects: export the model again with plain "
    "tensor weights (torch.export.save of an ExportedProgram without custom objects)"
)


def _load(path: Path):
    """``torch.export.load`` of a checked archive, with unpickling impossible."""
    import torch

    check_archive(path)
    refused: list[str] = []
    try:
        with refusing_code() as guard, _quiet():
            refused = guard.refused
            ep = torch.export.load(path)
    except Exception:
        if not refused:
            raise
    if refused:  # raised, or swallowed by torch: either way the file needed it
        raise ModelFileError(
            f"{path}: expected {EXPECTED} of plain tensors and operators; "
            f"found one whose loading needs {refused[0]}, which nnviz3d "
            f"refuses; {UNSAFE}"
        ) from None
    return ep


@contextmanager
def _quiet():
    """No warnings, and no torch log records (torch.export.load logs a traceback when it
    falls back to its legacy layout; a CLI prints one line)."""
    loggers = [logging.getLogger(n) for n in ("torch.export", "torch._export")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def check_archive(path: Path) -> None:
    """Refuse a .pt2 that holds anything but what ``torch.export.save`` writes for plain
    tensors and operators (see the module docstring); ModelFileError naming what was found.
    Entries are read with torch's own reader, so what is checked is what torch loads."""
    check_zip(path, EXPECTED)
    reader, names = torch_reader(str(path), path, EXPECTED)
    for name in names:
        if not ENTRIES.fullmatch(name):
            raise ModelFileError(
                f"{path}: expected only the entries torch.export.save writes; "
                f"found {name[:80]!r}, which torch.export.load would "
                f"unpickle or run; {UNSAFE}"
            )
    limit = inflate_limit(path)

    def read(name: str) -> bytes | None:
        if name not in names:
            return None
        if reader.get_record_size(name) > limit:
            raise ModelFileError(
                f"{path}: {name} claims {reader.get_record_size(name):,} bytes (corrupt)"
            )
        return reader.get_record(name)

    if read("archive_format") != b"pt2" or read("archive_version") != b"0":
        raise ModelFileError(
            f"{path}: expected {EXPECTED} (archive_format pt2, "
            f"archive_version 0); found an older, newer or unknown export "
            f"format"
        )
    for needed in (
        "models/model.json",
        "data/weights/model_weights_config.json",
        "data/constants/model_constants_config.json",
    ):
        if needed not in names:
            raise ModelFileError(f"{path}: expected {EXPECTED} with {needed}; found none")
    sizes = {n: reader.get_record_size(n) for n in names}
    _check_payloads(path, "data/weights/", "weight_", read, sizes)
    _check_payloads(path, "data/constants/", "tensor_", read, sizes)
    _check_sample_inputs(path, read("data/sample_inputs/model.pt"))
    _check_program(path, read("models/model.json"))


def _json(path: Path, name: str, raw: bytes | None):
    if raw is None or len(raw) > MAX_JSON:
        raise ModelFileError(f"{path}: expected {name} to be JSON of a sensible size")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise ModelFileError(f"{path}: expected {name} to be JSON; found something else") from None


def _check_payloads(path: Path, folder: str, prefix: str, read, sizes: dict[str, int]) -> None:
    """Every weight or constant is a raw tensor payload whose shape fits its bytes (as torch
    builds them: the first entry naming a payload fixes its dtype, later ones are views)."""
    from torch._export.serde.serialize import deserialize_scalar_type

    kind = folder.split("/")[1]
    name = f"{folder}model_{kind}_config.json"
    try:
        entries = list(_json(path, name, read(name))["config"].items())
    except (KeyError, TypeError, AttributeError):
        raise ModelFileError(
            f"{path}: expected {name} to be a payload config; found something else"
        ) from None
    itemsizes: dict[str, int] = {}
    for fqn, meta in entries:
        pickled = not isinstance(meta, dict) or meta.get("use_pickle") is not False
        file = str(meta.get("path_name", "")) if isinstance(meta, dict) else ""
        if pickled or not re.fullmatch(f"{prefix}[0-9]+", file):
            raise ModelFileError(
                f"{path}: expected {fqn!r} as a raw tensor payload; found a "
                f"pickled object ({name}); {UNSAFE}"
            )
        if folder + file not in sizes:
            raise ModelFileError(
                f"{path}: expected payload {folder}{file} for {fqn!r}; found no such entry"
            )
        try:
            tm = meta["tensor_meta"]
            shape = [d["as_int"] for d in tm["sizes"]]
            stride = [d["as_int"] for d in tm["strides"]]
            offset = tm["storage_offset"]["as_int"]
            itemsize = itemsizes.setdefault(file, deserialize_scalar_type(tm["dtype"]).itemsize)
            strided = tm.get("layout", 7) == 7
        except (KeyError, TypeError, AttributeError, ValueError):
            raise ModelFileError(
                f"{path}: expected {fqn!r} to have a tensor_meta of integer "
                f"sizes, strides, offset and a known dtype ({name}); found "
                f"something else"
            ) from None
        if not strided:
            raise ModelFileError(
                f"{path}: expected {fqn!r} to be a strided tensor; found layout {tm.get('layout')}"
            )
        check_view(path, repr(fqn), shape, stride, offset, itemsize, sizes[folder + file])


def _check_sample_inputs(path: Path, raw: bytes | None) -> None:
    """Sample inputs must be plain tensors that fit their bytes: scanned without running
    (torch retries a failed weights-only load without it, and they run through the graph)."""
    import torch

    if raw is None:
        raise ModelFileError(
            f"{path}: expected a torch.export archive saved with example "
            f"inputs; found none, so its graph cannot be traced (export it "
            f"again with example args and torch.export.save)"
        )
    name = "data/sample_inputs/model.pt"
    inner = Path(f"{path}:{name}")
    reader, names = torch_reader(io.BytesIO(raw), inner, "a torch.save archive")
    pkl = next((n for n in names if n == "data.pkl"), None)
    if pkl is None or reader.get_record_size(pkl) > len(raw):
        raise ModelFileError(
            f"{path}: expected sample inputs saved with torch.save ({name}); found something else"
        )
    try:
        root, unpickler = scan(io.BytesIO(reader.get_record(pkl)))
    except Refused as exc:
        raise ModelFileError(
            f"{path}: expected sample inputs of plain tensors ({name}); found {exc}; {UNSAFE}"
        ) from None
    except Exception:  # noqa: BLE001 - a malformed pickle: torch would retry unsafely
        raise ModelFileError(
            f"{path}: expected sample inputs of plain tensors ({name}); "
            f"found a pickle that does not read"
        ) from None
    keys = set(names)
    check_records(
        path,
        list(tensor_records(root)),
        unpickler.storages,
        lambda key: reader.get_record_size(f"data/{key}") if f"data/{key}" in keys else None,
        len(raw),
        f"sample inputs of plain tensors ({name})",
    )
    try:
        with refusing_code(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(raw), weights_only=True)
    except Exception:  # noqa: BLE001 - torch would retry unsafely: refuse
        raise ModelFileError(
            f"{path}: expected sample inputs of plain tensors ({name}); "
            f"found objects that need unpickling; {UNSAFE}"
        ) from None


def _check_program(path: Path, raw: bytes | None) -> None:
    """Every operator the graph calls is pure tensor or shape arithmetic, and every symbolic
    shape is a plain expression (torch parses them with ``sympy.sympify``: an ``eval``)."""
    program = _json(path, "models/model.json", raw)
    stack, seen = [program], 0
    while stack:
        obj = stack.pop()
        seen += 1
        if isinstance(obj, list):
            stack.extend(obj)
            continue
        if not isinstance(obj, dict):
            continue
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                stack.append(value)
            elif key in ("target", "as_operator") and isinstance(value, str):
                if not OPERATORS.fullmatch(value) or DENIED.fullmatch(value):
                    raise ModelFileError(
                        f"{path}: expected a graph of tensor operators; found "
                        f"the operator {value[:80]!r}, which nnviz3d does "
                        f"not run"
                    )
            elif key == "expr_str":
                reason = check_sym_expr(value)
                if reason is not None:
                    raise ModelFileError(
                        f"{path}: expected symbolic shapes of plain "
                        f"arithmetic; found one with {reason}, which torch "
                        f"would eval"
                    )


def _capture(ep, path: Path) -> Graph:
    import torch

    from ..topology import capture_graph

    example = getattr(ep, "example_inputs", None)
    if not example:
        raise ModelFileError(
            f"{path}: expected a torch.export archive saved with example "
            f"inputs; found none, so its graph cannot be traced (export "
            f"it again with example args and torch.export.save)"
        )
    graph = capture_graph(torch.export.unflatten(ep), example, strategies=SYMBOLIC)
    kinds = _module_kinds(ep)
    for node in graph.nodes:
        if node.role == "module" and node.kind in ("InterpreterModule", "UnflattenedModule"):
            node.kind = kinds.get(node.module_path or node.path, node.kind)
    graph.model = Path(path).name
    return graph


def _module_kinds(ep) -> dict[str, str]:
    """Class names by module path, from the ``nn_module_stack`` the exported nodes carry
    (``torch.export.unflatten`` rebuilds the tree but names every module InterpreterModule)."""
    kinds: dict[str, str] = {}
    for fx_node in ep.graph.nodes:
        for value in (fx_node.meta.get("nn_module_stack") or {}).values():
            if isinstance(value, tuple) and len(value) == 2:
                mod_path, cls = value
                mod_path = str(mod_path).removeprefix("L['self']").lstrip(".")
                name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
                kinds[mod_path] = name.rpartition(".")[2]
    return kinds
