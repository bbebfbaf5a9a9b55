"""Capture: the only package that imports torch. Model -> graph IR (and, later, probes)."""

from .errors import CaptureError
from .topology import capture_graph

__all__ = ["CaptureError", "capture_graph"]
