"""nnviz3d: see a PyTorch network in 3D, live, in a browser, in VR and in glTF."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "capture_graph",
    "CaptureError",
    "export_gltf",
    "show",
    "view",
    "watch",
    "Watcher",
    "ViewHandle",
    "HealthThresholds",
    "__version__",
]

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time __getattr__ imports lazily
    from .capture import CaptureError, capture_graph
    from .export import export_gltf
    from .export.notebook import show
    from .live import Watcher, watch
    from .live.health import HealthThresholds
    from .viewer import ViewHandle, view

_LAZY = {
    "capture_graph": "capture",
    "CaptureError": "capture",
    "watch": "live",
    "Watcher": "live",
    "HealthThresholds": "live.health",
    "export_gltf": "export",
    "show": "export.notebook",
    "view": "viewer",
    "ViewHandle": "viewer",
}
"""Public name -> the submodule defining it, imported on first use: torch is imported only
when one of them is, so ``import nnviz3d`` stays fast."""


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnviz3d' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
