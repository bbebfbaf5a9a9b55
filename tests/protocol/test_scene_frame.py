import numpy as np

from nnviz3d.layout import layout_graph
from nnviz3d.protocol import decode_scene, encode_scene
from nnviz3d.scene import BLOCK, EDGE, GROUP, build_topology_scene
from tests.conftest import zoo_graph


def test_scene_round_trips_through_one_binary_frame():
    graph = zoo_graph("gpt2")
    scene = build_topology_scene(graph, layout_graph(graph, depth=3))
    header, arrays = decode_scene(encode_scene(scene, version=7))
    blocks, edges, groups = scene.of_type(BLOCK), scene.of_type(EDGE), scene.of_type(GROUP)
    assert header["version"] == 7
    assert [b["path"] for b in header["blocks"]] == [b.path for b in blocks]
    np.testing.assert_array_equal(arrays["block_position"], np.stack([b.position for b in blocks]))
    np.testing.assert_array_equal(arrays["block_scale"], np.stack([b.scale for b in blocks]))
    assert arrays["block_color"].dtype == np.uint8
    assert len(arrays["group_position"]) == len(groups)
    off = arrays["edge_offsets"]
    assert len(off) == len(edges) + 1 and off[-1] == len(arrays["edge_points"])
    for k, e in enumerate(edges):
        np.testing.assert_array_equal(arrays["edge_points"][off[k] : off[k + 1]], e.points)
    # the twelve collapsed layers are instances of the first
    inst = arrays["block_instance"]
    layers = [i for i, b in enumerate(blocks) if b.path.startswith("/model/transformer/h/")]
    assert len(layers) == 12 and {int(inst[i]) for i in layers} == {layers[0]}


def test_no_arrays_travel_as_json_lists():
    graph = zoo_graph("digits_cnn")
    frame = encode_scene(build_topology_scene(graph, layout_graph(graph)))
    header, _ = decode_scene(frame)
    for block in header["blocks"]:
        assert "position" not in block and "scale" not in block
