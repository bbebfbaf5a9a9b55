"""torch.export archives (``.pt2``, ``torch.export.save``): a serialized graph, no Python code.

``torch.export.load`` is not safe on any file: a weight or constant saved "with pickle" is
read with ``torch.load(weights_only=False)``, opaque constants with ``pickle.loads``, and
sample inputs that fail a weights-only load are retried without it. So the archive is checked
first (:func:`check_archive`): every weight/constant must be a raw tensor payload, no custom
or opaque objects, no legacy constants file, and the sample inputs must load with
``weights_only=True``; anything else is refused before torch sees it.

Opened with ``torch.export.load`` and captured with :func:`~nnviz3d.capture.capture_graph` on
``torch.export.unflatten(ep)`` with the example inputs the archive stores, so the graph has data flow edges
like a live model's. An archive saved without example inputs is refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

from ...graph import Graph
from .errors import ModelFileError
from .zip_archive import archive_kind


class ExportArchiveFormat:
    name = "torch.export .pt2"
    extensions = (".pt2",)

    @staticmethod
    def matches(head: bytes, path: Path) -> bool:
        return archive_kind(head, path) == "export"

    @staticmethod
    def open(path: Path) -> Graph:
        import torch

        check_archive(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.load(path)
            return _capture(ep, path)


    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of the archive's floating-point parameters and buffers."""
        import torch

        check_archive(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.load(path)
        for name, value in ep.state_dict.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                yield name, value.detach()


UNSAFE = ("nnviz3d never unpickles arbitrary objects: export the model again with plain "
          "tensor weights (torch.export.save of an ExportedProgram without custom objects)")


def check_archive(path: Path) -> None:
    """Refuse a .pt2 whose loading would unpickle anything but tensors (see the module
    docstring); ModelFileError naming what was found."""
    import io
    import json
    import zipfile

    import torch

    limit = max(path.stat().st_size, 1) * 4
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        rel = {n.partition("/")[2]: n for n in names}
        fmt = z.read(rel["archive_format"]).strip() if "archive_format" in rel else b""
        if fmt != b"pt2":
            raise ModelFileError(f"{path}: expected a torch.export .pt2 archive (archive_format "
                                 f"pt2); found an older or unknown export format")
        for name, full in rel.items():
            if name.startswith("data/constants/") and name.endswith(".pt"):
                raise ModelFileError(f"{path}: expected constants as raw tensors; found a "
                                     f"legacy pickled constants file ({name}). {UNSAFE}")
            if not name.endswith(("_weights_config.json", "_constants_config.json")):
                continue
            info = z.getinfo(full)
            if info.file_size > limit:
                raise ModelFileError(f"{path}: {name} claims {info.file_size:,} bytes (corrupt)")
            try:
                config = json.loads(z.read(full))["config"]
                entries = list(config.items())
            except (ValueError, KeyError, TypeError, AttributeError):
                raise ModelFileError(f"{path}: expected {name} to be a payload config; found "
                                     f"something else") from None
            for fqn, meta in entries:
                pickled = not isinstance(meta, dict) or meta.get("use_pickle") is not False
                kind = str(meta.get("path_name", "")) if isinstance(meta, dict) else ""
                if pickled or kind.startswith(("custom_obj_", "opaque_obj_")):
                    raise ModelFileError(f"{path}: expected {fqn!r} as a raw tensor payload; "
                                         f"found a pickled object ({name}). {UNSAFE}")
        for name, full in rel.items():
            if name.startswith("data/sample_inputs/") and name.endswith(".pt"):
                if z.getinfo(full).file_size > limit:
                    raise ModelFileError(f"{path}: {name} claims too many bytes (corrupt)")
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        torch.load(io.BytesIO(z.read(full)), weights_only=True)
                except Exception:  # noqa: BLE001 - torch would retry unsafely: refuse
                    raise ModelFileError(f"{path}: expected sample inputs of plain tensors "
                                         f"({name}); found objects that need unpickling. "
                                         f"{UNSAFE}") from None


def _capture(ep, path: Path) -> Graph:
    import torch

    from ..topology import capture_graph

    example = getattr(ep, "example_inputs", None)
    if not example:
        raise ModelFileError(f"{path}: expected a torch.export archive saved with example "
                             f"inputs; found none, so its graph cannot be traced (export "
                             f"it again with example args and torch.export.save)")
    graph = capture_graph(torch.export.unflatten(ep), example)
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
