"""Capture: the only package that imports torch. Model -> graph IR (and, later, probes)."""

from .errors import CaptureError

__all__ = ["CaptureError", "capture_graph"]


def __getattr__(name: str):
    """``capture_graph`` is loaded on first use: importing a torch-free part of capture (the
    model-file readers' constants, the path helpers) does not import torch."""
    if name == "capture_graph":
        from .topology import capture_graph

        return capture_graph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
