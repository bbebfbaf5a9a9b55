"""torch.export archives (``.pt2``, ``torch.export.save``): a serialized graph, no Python code.

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

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.load(path)
            return _capture(ep, path)


    @staticmethod
    def tensors(path: Path) -> Iterator[tuple[str, object]]:
        """``(name, tensor)`` of the archive's floating-point parameters and buffers."""
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ep = torch.export.load(path)
        for name, value in ep.state_dict.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
                yield name, value.detach()


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
