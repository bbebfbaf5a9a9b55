"""3D placement of a captured graph (numpy only)."""

from .collapse import VisibleGraph, collapse
from .layered import GroupBox, Layout, RoutedEdge, layout_graph

__all__ = ["GroupBox", "Layout", "RoutedEdge", "VisibleGraph", "collapse", "layout_graph"]
