"""The scene a server shows: graph + view settings -> encoded scene bytes, rebuilt on change."""

from __future__ import annotations

import threading

from ..graph import ROLE_MODULE, Graph
from ..layout import layout_depth, layout_graph
from ..protocol import encode_scene
from ..scene import BLOCK, build_topology_scene

MAX_SEARCH_PATHS = 50_000
"""Module paths offered to the viewer's search (a bigger model offers its first ones)."""


class SceneState:
    """Holds the current scene so every client, late joiners included, gets all of it."""

    def __init__(self, graph: Graph, depth: int | str | None = None) -> None:
        self.graph = graph
        self.depth = depth
        self._layout_depth = layout_depth(depth)
        self._modules = [n.path for n in graph.nodes if n.path and n.role == ROLE_MODULE][
            :MAX_SEARCH_PATHS
        ]
        self.expanded: set[str] = set()
        self.collapsed: set[str] = set()
        self.version = 0
        self._lock = threading.Lock()
        self.frame = b""
        self.blocks = 0
        self.rebuild()

    def rebuild(self) -> None:
        with self._lock:
            layout = layout_graph(self.graph, self._layout_depth, self.expanded, self.collapsed)
            scene = build_topology_scene(self.graph, layout)
            scene.meta["depth"] = self.depth
            scene.meta["expanded"] = sorted(self.expanded)
            # every module path, so that search finds layers inside closed groups and stacks
            scene.meta["modules"] = self._modules
            self.version += 1
            self.frame = encode_scene(scene, self.version)
            self.blocks = len(scene.of_type(BLOCK))

    def expand(self, path: str) -> str | None:
        """Open a group; returns an error sentence or None."""
        node = self._group(path)
        if isinstance(node, str):
            return node
        self.collapsed.discard(path)
        self.expanded.add(path)
        self.rebuild()
        return None

    def collapse(self, path: str) -> str | None:
        node = self._group(path)
        if isinstance(node, str):
            return node
        self.expanded = {p for p in self.expanded if p != path and not p.startswith(path + ".")}
        self.collapsed = {p for p in self.collapsed if not p.startswith(path + ".")}
        self.collapsed.add(path)
        self.rebuild()
        return None

    def _group(self, path: str):
        if path not in self.graph:
            return f"no module {path!r} in {self.graph.model}"
        node = self.graph[path]
        if not node.is_group or not path:
            return f"{path!r} is not a group that can be expanded or collapsed"
        return node
