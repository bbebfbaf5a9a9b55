"""The neutral scene: path-keyed nodes with transforms, colours, metadata and numpy arrays.

It knows nothing of torch, websockets or glTF; the browser viewer, the glTF exporter and the
notebook widget are all sinks of a :class:`Scene`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BLOCK = "block"
EDGE = "edge"
LABEL = "label"
GROUP = "group"
NODE_TYPES = (BLOCK, EDGE, LABEL, GROUP)


@dataclass
class SceneNode:
    path: str
    """Slash path: ``/model/layer1/0/conv2``, ``/model/layer1/0/conv2/label``, ``/edges/...``."""
    type: str
    """``block``, ``edge``, ``label`` or ``group``."""
    position: np.ndarray = field(default_factory=lambda: np.zeros(3, np.float32))
    scale: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))
    """Extents of a block or group box; label height in ``scale[1]``."""
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    """sRGB in [0, 1] (sinks that need linear colour convert)."""
    opacity: float = 1.0
    text: str | None = None
    """Label text."""
    points: np.ndarray | None = None
    """``(k, 3)`` float32 polyline of an edge."""
    instance_of: str | None = None
    """Blocks with the same key are repeats of one structure and may be drawn instanced."""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in NODE_TYPES:
            raise ValueError(f"unknown scene node type {self.type!r}; one of {NODE_TYPES}")
        if not self.path.startswith("/"):
            raise ValueError(f"scene paths start with '/': {self.path!r}")
        self.position = np.asarray(self.position, np.float32).reshape(3)
        self.scale = np.asarray(self.scale, np.float32).reshape(3)
        if self.points is not None:
            self.points = np.asarray(self.points, np.float32).reshape(-1, 3)


@dataclass
class Scene:
    nodes: dict[str, SceneNode] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    """Model name, axes, sizing rules and colour legend (for the viewer's legend)."""

    def add(self, node: SceneNode) -> SceneNode:
        if node.path in self.nodes:
            raise ValueError(f"scene already has a node at {node.path}")
        self.nodes[node.path] = node
        return node

    def of_type(self, type_: str) -> list[SceneNode]:
        return [n for n in self.nodes.values() if n.type == type_]

    def __getitem__(self, path: str) -> SceneNode:
        return self.nodes[path]

    def __contains__(self, path: str) -> bool:
        return path in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)
