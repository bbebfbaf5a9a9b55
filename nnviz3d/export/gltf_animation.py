"""A recording's training timeline as one glTF animation.

Method (core glTF 2.0 only, so it plays in three.js, Blender, Babylon.js and PowerPoint, and
needs neither KHR_animation_pointer nor morph-target colours): each block gets one child node
per colour it takes during the run, all sharing the unit box mesh of that colour; a ``scale``
channel with ``STEP`` interpolation shows exactly one child at each step (scale 1) and hides the
others (scale 0). Colours follow the viewer's "colour by" rule at each step
(:mod:`nnviz3d.export.gltf_materials`). Step ``i`` of the kept steps is at ``i *
seconds_per_step`` seconds. trimesh has no animation export: :meth:`Timeline.add_to_tree` is
its ``buffer_postprocessor`` hook and appends the accessors and the animation itself.
"""

from __future__ import annotations

import numpy as np

from ..scene.nodes import SceneNode
from .gltf_materials import level_color
from .gltf_scene import SceneBuilder

FLOAT = 5126


def level_name(level: int) -> str:
    return "unhealthy" if level == -2 else "no data" if level < 0 else f"viridis {level:03d}"


class Timeline:
    def __init__(
        self, steps: np.ndarray, levels: np.ndarray, quantity: str, seconds_per_step: float
    ) -> None:
        self.steps = np.asarray(steps, np.int64)
        self.levels = np.asarray(levels, np.int32)
        self.quantity = quantity
        self.seconds_per_step = float(seconds_per_step)
        self.times = (np.arange(len(self.steps)) * self.seconds_per_step).astype(np.float32)
        self.channels: list[tuple[str, np.ndarray]] = []
        """(child node name, (T,) bool: shown at each kept step)."""

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0

    def add_children(self, builder: SceneBuilder, blocks: list[SceneNode]) -> None:
        """One child per colour a block takes; shown at the first step as the static pose."""
        for b, block in enumerate(blocks):
            column = self.levels[:, b]
            for level in np.unique(column):
                name = level_name(int(level))
                child = f"{block.path}/colour {name}"
                shown = column == level
                builder.node(
                    child,
                    parent=block.path,
                    scale=None if shown[0] else np.zeros(3),
                    mesh=builder.box_mesh(name, level_color(int(level))),
                    extras={
                        "type": "colour",
                        "for": block.path,
                        "level": int(level),
                        "steps": self.steps[shown].tolist(),
                    },
                )
                self.channels.append((child, shown))

    def add_to_tree(self, buffer_items, tree: dict) -> None:
        """trimesh ``buffer_postprocessor``: accessors (times, one scale track per distinct
        on/off pattern) and the animation."""
        if not self.channels:
            return
        index = {node.get("name"): i for i, node in enumerate(tree["nodes"])}
        times = self._accessor(
            buffer_items, tree, "nnviz3d-anim-times", self.times, "SCALAR", bounds=True
        )
        tracks: dict[bytes, int] = {}
        samplers, channels = [], []
        for child, shown in self.channels:
            key = np.packbits(shown).tobytes() + len(shown).to_bytes(4, "little")
            if key not in tracks:
                scale = np.repeat(shown.astype(np.float32)[:, None], 3, axis=1)
                tracks[key] = self._accessor(
                    buffer_items, tree, f"nnviz3d-anim-track-{len(tracks)}", scale, "VEC3"
                )
            channels.append(
                {"sampler": len(samplers), "target": {"node": index[child], "path": "scale"}}
            )
            samplers.append({"input": times, "output": tracks[key], "interpolation": "STEP"})
        tree.setdefault("animations", []).append(
            {
                "name": f"training ({self.quantity})",
                "channels": channels,
                "samplers": samplers,
                "extras": {
                    "quantity": self.quantity,
                    "steps": self.steps.tolist(),
                    "seconds_per_step": self.seconds_per_step,
                    "method": "one child per colour, shown by STEP scale channels",
                },
            }
        )

    @staticmethod
    def _accessor(
        buffer_items, tree, key: str, data: np.ndarray, type_: str, bounds: bool = False
    ) -> int:
        data = np.ascontiguousarray(data, np.float32)
        raw = data.tobytes()
        buffer_items[key] = raw + b"\x00" * (-len(raw) % 4)  # a new key: appended last
        blob = {
            "bufferView": len(buffer_items) - 1,
            "componentType": FLOAT,
            "count": len(data),
            "type": type_,
        }
        if bounds:
            blob["min"] = [float(data.min())]
            blob["max"] = [float(data.max())]
        tree["accessors"][key] = blob
        return len(tree["accessors"]) - 1
