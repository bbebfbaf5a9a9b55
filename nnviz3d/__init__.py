"""nnviz3d: see a PyTorch network in 3D, live, in a browser, in VR and in glTF."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["capture_graph", "CaptureError", "export_gltf", "show", "view", "watch",
           "__version__"]


def __getattr__(name: str):
    # torch is imported only when capture is first used: `import nnviz3d` stays fast.
    if name in ("capture_graph", "CaptureError"):
        from . import capture

        return getattr(capture, name)
    if name == "watch":
        from .live import watch

        return watch
    if name == "export_gltf":
        from .export import export_gltf

        return export_gltf
    if name == "show":
        from .export.notebook import show

        return show
    if name == "view":
        from .viewer import view

        return view
    raise AttributeError(f"module 'nnviz3d' has no attribute {name!r}")
