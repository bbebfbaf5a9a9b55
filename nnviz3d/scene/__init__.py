"""The neutral scene (numpy + dataclasses) and its builders."""

from .nodes import BLOCK, EDGE, GROUP, LABEL, Scene, SceneNode
from .paths import edge_path, scene_path
from .topology import build_topology_scene

__all__ = [
    "BLOCK",
    "EDGE",
    "GROUP",
    "LABEL",
    "Scene",
    "SceneNode",
    "build_topology_scene",
    "edge_path",
    "scene_path",
]
