"""GPT-2 (random weights from its transformers config): capture, tied weights, repeats.

Run: python examples/02_gpt2_topology.py
"""

from nnviz3d import zoo
from nnviz3d.capture import capture_graph
from nnviz3d.layout import layout_graph

model, tokens = zoo.gpt2()
graph = capture_graph(model, tokens)
print(
    f"{graph.model}: {graph.total_params:,} parameters via {graph.strategy} "
    f"in {graph.seconds:.2f} s"
)
print("tied:", {n.path: n.shared_params for n in graph.nodes if n.shared_params})
print("repeated blocks:", sorted({n.repeat_group for n in graph.nodes if n.repeat_group}))
for depth in (2, 3, None):
    layout = layout_graph(graph, depth=depth)
    print(
        f"depth {depth}: {len(layout.paths)} blocks in {layout.meta['layers']} layers, "
        f"{sum(e.kind == 'skip' for e in layout.edges)} skip edges"
    )
