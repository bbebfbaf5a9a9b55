"""Scene builder for the network topology: blocks, edges, group outlines and labels."""

from __future__ import annotations

import numpy as np

from ..graph import Graph
from ..layout import Layout
from .nodes import BLOCK, EDGE, GROUP, LABEL, Scene, SceneNode
from .palette import color, legend
from .paths import edge_path, scene_path

LABEL_HEIGHT = 0.22
GROUP_OPACITY = 0.12


def build_topology_scene(graph: Graph, layout: Layout) -> Scene:
    scene = Scene(
        meta={
            "model": graph.model,
            "strategy": graph.strategy,
            "total_params": graph.total_params,
            "trainable_params": graph.trainable_params,
            "layout": layout.meta,
            "legend": {"colors": legend()},
        }
    )
    collapsed = layout.visible.collapsed
    stacks = layout.visible.stacks
    for i, path in enumerate(layout.paths):
        node = graph[path]
        is_collapsed = path in collapsed
        params = node.total_params if is_collapsed else node.params
        sp = scene_path(path)
        scene.add(
            SceneNode(
                path=sp,
                type=BLOCK,
                position=layout.centers[i],
                scale=layout.sizes[i],
                color=color(node.kind, collapsed_group=is_collapsed),
                instance_of=node.repeat_of or (node.path if node.repeat_group else None),
                meta={
                    "module": path,
                    "kind": node.kind,
                    "role": node.role,
                    "collapsed": is_collapsed,
                    "params": params,
                    "trainable_params": (
                        node.total_trainable_params if is_collapsed else node.trainable_params
                    ),
                    "output_shapes": node.output_shapes,
                    "input_shapes": node.input_shapes,
                    "dtypes": node.output_dtypes,
                    "layer": int(layout.layers[i]),
                    "shared_params": node.shared_params,
                    "repeat_group": node.repeat_group,
                    **_stack_meta(stacks.get(path)),
                },
            )
        )
        top = layout.centers[i] + np.array([0, layout.sizes[i][1] / 2 + LABEL_HEIGHT, 0])
        scene.add(
            SceneNode(
                path=f"{sp}/label",
                type=LABEL,
                position=top,
                scale=(LABEL_HEIGHT, LABEL_HEIGHT, LABEL_HEIGHT),
                text=_label_text(path, node.kind, stacks.get(path)),
                meta={"for": sp},
            )
        )
    for box in layout.groups:
        sp = scene_path(box.path)
        node = graph[box.path]
        if box.part:
            # the rest of a group cut by a fold: an outline without a label of its own
            part = f"{sp}/~part{box.part}"
            if part not in scene:  # a module named "~part1" keeps its own node
                scene.add(
                    SceneNode(
                        path=part,
                        type=GROUP,
                        position=(box.lo + box.hi) / 2,
                        scale=box.hi - box.lo,
                        color=color(node.kind, collapsed_group=True),
                        opacity=GROUP_OPACITY,
                        meta={
                            "module": box.path,
                            "kind": node.kind,
                            "depth": box.depth,
                            "total_params": node.total_params,
                            "part": box.part,
                        },
                    )
                )
            continue
        scene.add(
            SceneNode(
                path=sp,
                type=GROUP,
                position=(box.lo + box.hi) / 2,
                scale=box.hi - box.lo,
                color=color(node.kind, collapsed_group=True),
                opacity=GROUP_OPACITY,
                meta={
                    "module": box.path,
                    "kind": node.kind,
                    "depth": box.depth,
                    "total_params": node.total_params,
                    "repeat_group": node.repeat_group,
                    **_stack_meta(stacks.get(box.path)),
                },
            )
        )
        # top centre of the box: nested groups sharing a corner do not stack their labels
        label_pos = np.array(
            [(box.lo[0] + box.hi[0]) / 2, box.hi[1] + LABEL_HEIGHT, (box.lo[2] + box.hi[2]) / 2]
        )
        scene.add(
            SceneNode(
                path=f"{sp}/label",
                type=LABEL,
                position=label_pos,
                scale=(LABEL_HEIGHT, LABEL_HEIGHT, LABEL_HEIGHT),
                text=_label_text(box.path, node.kind, stacks.get(box.path)),
                meta={"for": sp},
            )
        )
    for e in layout.edges:
        scene.add(
            SceneNode(
                path=edge_path(e.src, e.dst),
                type=EDGE,
                points=e.points,
                color=(0.95, 0.55, 0.25) if e.kind == "skip" else (0.75, 0.78, 0.85),
                meta={"src": scene_path(e.src), "dst": scene_path(e.dst), "kind": e.kind},
            )
        )
    return scene


def _label_text(path: str, kind: str, stack=None) -> str:
    local = path.rpartition(".")[2] or path or "model"
    if stack is not None:
        # "h.0–11 ×12 (GPT2Block)": the run's parent name, its index range and its length
        parent, _, first = path.rpartition(".")
        last = stack.last.rpartition(".")[2]
        name = f"{parent.rpartition('.')[2]}.{first}–{last}" if parent else f"{first}–{last}"
        return f"{name} ×{stack.count} ({kind})"
    return local if local == kind else f"{local} ({kind})"


def _stack_meta(stack) -> dict:
    """``stack``: how many members the block or group stands for; ``stack_last`` the last."""
    if stack is None:
        return {}
    return {"stack": stack.count, "stack_last": stack.last}
