"""Capture the bundled digits CNN, lay it out in 3D and print what the scene holds.

Run: python examples/01_inspect_digits_cnn.py
"""

from nnviz3d import zoo
from nnviz3d.capture import capture_graph
from nnviz3d.layout import layout_graph
from nnviz3d.scene import build_topology_scene
from nnviz3d.tree_text import render_tree

model, example = zoo.digits_cnn()
graph = capture_graph(model, example)
print(render_tree(graph))

layout = layout_graph(graph, depth=2)
scene = build_topology_scene(graph, layout)
lo, hi = layout.bounds()
print(
    f"scene: {len(scene)} nodes ({len(layout.paths)} blocks, {len(layout.edges)} edges, "
    f"{len(layout.groups)} group outlines), extent {hi - lo} scene units"
)
