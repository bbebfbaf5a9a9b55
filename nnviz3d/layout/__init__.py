"""3D placement of a captured graph (numpy only)."""

from .auto_view import ALL, AUTO, AUTO_BLOCKS, depth_argument, layout_depth
from .collapse import VisibleGraph, collapse
from .layered import GroupBox, Layout, RoutedEdge, layout_graph

__all__ = [
    "ALL",
    "AUTO",
    "AUTO_BLOCKS",
    "depth_argument",
    "layout_depth",
    "GroupBox",
    "Layout",
    "RoutedEdge",
    "VisibleGraph",
    "collapse",
    "layout_graph",
]
