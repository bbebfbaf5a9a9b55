"""The Jupyter preview: a pythreejs widget of the same scene, from a handful of objects."""

import time

import numpy as np
import pytest
import torch

import nnviz3d
from nnviz3d import zoo
from nnviz3d.export.gltf import view_scene
from nnviz3d.export.notebook import SceneWidget, merged_blocks, scene_widget, show
from nnviz3d.scene.nodes import BLOCK
from tests.conftest import zoo_graph


def widget_count():
    """pythreejs objects alive (ipywidgets' own Layout/Style models are not counted)."""
    import warnings

    from ipywidgets import Widget

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = list(Widget.widgets.values())
    return sum(type(w).__module__.startswith("pythreejs") for w in alive)


def test_gpt2_is_one_mesh_and_one_line_set_in_few_widgets():
    graph = zoo_graph("gpt2")
    before = widget_count()
    t0 = time.perf_counter()
    w = scene_widget(graph, depth="all")
    seconds = time.perf_counter() - t0
    created = widget_count() - before
    blocks = view_scene(graph, "all").of_type(BLOCK)
    assert created <= 20, created
    assert len(w.modules) == len(blocks) > 100
    position = np.asarray(w.mesh.geometry.attributes["position"].array)
    assert position.shape == (24 * len(blocks), 3)
    assert len(np.asarray(w.mesh.geometry.attributes["index"].array)) == 36 * len(blocks)
    assert seconds < 10  # measured in BENCHMARKS.md; generous on a loaded machine


def test_boxes_are_where_the_viewer_puts_them_and_hover_names_them():
    scene = view_scene(zoo_graph("digits_cnn"))
    merged = merged_blocks(scene)
    for k, node in enumerate(scene.of_type(BLOCK)):
        corners = merged["position"][24 * k : 24 * k + 24]
        np.testing.assert_allclose(corners.min(axis=0), node.position - node.scale / 2, atol=1e-5)
        np.testing.assert_allclose(corners.max(axis=0), node.position + node.scale / 2, atol=1e-5)
        np.testing.assert_allclose(merged["color"][24 * k], node.color, atol=1e-6)
    w = SceneWidget(scene)
    k = w.modules.index("block.conv1")
    w.picker.faceIndex = 12 * k + 5  # a triangle of that box
    assert "block.conv1" in w.hover.value and "Conv2d" in w.hover.value
    w.picker.faceIndex = None
    assert "hover a block" in w.hover.value


def test_follow_recolours_from_a_live_run():
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), 0.05)
    w = nnviz3d.watch(model, x, record=False, serve=False, every=1, quiet=True)
    widget = scene_widget(w.graph)
    widget.follow(w, color_by="grad_norm")
    first = widget.block_colors().copy()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(
            model(torch.randn(16, 1, 8, 8)), torch.randint(0, 10, (16,))
        ).backward()
        opt.step()
        w.step()
    deadline = time.monotonic() + 20
    while np.allclose(widget.block_colors(), first) and time.monotonic() < deadline:
        time.sleep(0.1)
    w.close()
    widget.stop()
    colours = widget.block_colors()
    conv = colours[widget.modules.index("block.conv1")]
    relu = colours[widget.modules.index("stem.2")]  # no parameters: no gradient, "no data"
    assert not np.allclose(colours, first)
    # "no data" is the viewer's mid-grey (equal channels); the convolution has a colour
    assert np.allclose(relu, relu[0], atol=1e-3) and 0.3 < relu[0] < 0.6
    assert conv.max() > 0.1 and not np.allclose(conv, relu)


def test_show_outside_jupyter_opens_the_browser_viewer():
    model, x = zoo.digits_cnn()
    handle = show(model, x, open_browser=False, port=0, quiet=True)
    try:
        assert handle.url.startswith("http://127.0.0.1:")
    finally:
        handle.close()
    with pytest.raises(ValueError, match="color_by must be one of"):
        SceneWidget(view_scene(zoo_graph("digits_cnn"))).follow(None, color_by="nope")


def test_hover_text_shows_markup_names_as_text():
    """The widget's hover line is HTML: module names and kinds with markup are escaped, a
    10,000-character name clamped, bidi overrides made visible."""
    from nnviz3d.capture import capture_graph

    evil = "<img src=x onerror=alert(1)>"
    kind = type("<script>", (torch.nn.Linear,), {})  # a class name is any string
    model = torch.nn.Sequential()
    model.add_module(evil, kind(4, 4))
    model.add_module("L" * 10_000, torch.nn.ReLU())
    model.add_module("\u202egnp", torch.nn.Linear(4, 2))
    w = SceneWidget(view_scene(capture_graph(model, torch.randn(1, 4))))
    assert "<img" not in w.hover.value
    for k, _name in enumerate(w.modules):
        w.picker.faceIndex = 12 * k
        text = w.hover.value
        assert "<img" not in text and "<script>" not in text
        assert len(text) < 500 and "\u202e" not in text
    w.picker.faceIndex = 12 * w.modules.index(evil)
    assert "&lt;img src=x onerror=alert(1)&gt;" in w.hover.value
    assert "&lt;script&gt;" in w.hover.value


@pytest.mark.parametrize(
    "model,width,height", [("digits_cnn", 800, 480), ("gpt2", 800, 480), ("digits_cnn", 400, 600)]
)
def test_opens_with_the_whole_model_framed(model, width, height):
    """The widget's own camera (position, quaternion, fov, aspect as pythreejs sends them):
    every block corner inside its frustum, the model filling most of the canvas."""
    from tests.export.test_framing import ndc, rotation_of

    w = scene_widget(zoo_graph(model), width=width, height=height)
    cam = w.renderer.camera
    corners = np.asarray(w.mesh.geometry.attributes["position"].array, np.float64)
    xy, depth = ndc(
        corners, np.array(cam.position), cam.quaternion, np.radians(cam.fov), cam.aspect
    )
    assert cam.aspect == pytest.approx(width / height)
    assert np.all(depth > cam.near) and np.all(depth < cam.far)
    assert np.all(np.abs(xy) <= 1)
    span = (xy.max(0) - xy.min(0)) / 2
    assert max(span) >= 0.5, span
    target = np.array(w.controls.target) - np.array(cam.position)  # orbits what it looks at
    assert np.allclose(target / np.linalg.norm(target), -rotation_of(cam.quaternion)[:, 2])
