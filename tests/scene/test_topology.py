import numpy as np

from nnviz3d.layout import layout_graph
from nnviz3d.scene import BLOCK, EDGE, GROUP, LABEL, build_topology_scene, scene_path
from tests.conftest import zoo_graph


def _scene(name, depth=None):
    graph = zoo_graph(name)
    layout = layout_graph(graph, depth=depth)
    return graph, layout, build_topology_scene(graph, layout)


def test_paths_mirror_module_paths():
    assert scene_path("") == "/model"
    assert scene_path("layer1.0.conv2") == "/model/layer1/0/conv2"
    _, layout, scene = _scene("digits_cnn")
    assert "/model/block/conv1" in scene and scene["/model/block/conv1"].type == BLOCK
    assert scene["/model/block/conv1/label"].text == "conv1 (Conv2d)"
    assert scene["/model/block"].type == GROUP


def test_every_block_has_a_label_and_edges_point_at_blocks():
    _, layout, scene = _scene("gpt2", depth=3)
    blocks = scene.of_type(BLOCK)
    assert len(blocks) == len(layout.paths)
    assert len(scene.of_type(LABEL)) == len(blocks) + len(scene.of_type(GROUP))
    for e in scene.of_type(EDGE):
        assert e.meta["src"] in scene and e.meta["dst"] in scene
        assert e.points.dtype == np.float32 and e.points.shape[1] == 3


def test_repeated_blocks_share_an_instance_key():
    _, _, scene = _scene("gpt2", depth=3)
    keys = {scene[f"/model/transformer/h/{i}"].instance_of for i in range(12)}
    assert keys == {"transformer.h.0"}
    assert scene["/model/transformer/h/3"].meta["collapsed"]


def test_scene_meta_has_legend_and_sizing():
    _, _, scene = _scene("digits_cnn")
    assert "convolution" in scene.meta["legend"]["colors"]
    assert scene.meta["total_params"] == 12_298
    assert "side" in scene.meta["layout"]["sizing"]


def test_colours_by_kind():
    _, _, scene = _scene("digits_cnn")
    conv = scene["/model/block/conv1"].color
    norm = scene["/model/block/bn1"].color
    assert conv != norm


def test_block_meta_says_what_is_trainable():
    import torch
    from torch import nn

    from nnviz3d.capture import capture_graph

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    graph = capture_graph(model, torch.randn(1, 4))
    scene = build_topology_scene(graph, layout_graph(graph))
    assert scene["/model/0"].meta["trainable_params"] == 0
    assert scene["/model/2"].meta["trainable_params"] == scene["/model/2"].meta["params"] == 10
    assert graph.trainable_params == 10 and graph.total_params == 30
