import numpy as np
import pytest

from nnviz3d.layout import collapse, layout_graph
from tests.conftest import zoo_graph

MODELS = ["digits_cnn", "torch_transformer", "gpt2", "resnet", "t5"]


def _overlaps(layout) -> list[tuple[str, str]]:
    lo = layout.centers - layout.sizes / 2
    hi = layout.centers + layout.sizes / 2
    eps = 1e-4
    bad = []
    for i in range(len(layout.paths)):
        hit = np.all((lo[i] < hi - eps) & (lo < hi[i] - eps), axis=1)
        hit[: i + 1] = False
        bad += [(layout.paths[i], layout.paths[j]) for j in np.nonzero(hit)[0]]
    return bad


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("depth", [None, "auto", 1, 2, 3])
def test_no_two_blocks_overlap(name, depth):
    layout = layout_graph(zoo_graph(name), depth=depth)
    assert len(layout.paths) > 1
    assert _overlaps(layout) == []


@pytest.mark.parametrize("name", MODELS)
def test_deterministic(name):
    a = layout_graph(zoo_graph(name))
    b = layout_graph(zoo_graph(name))
    assert a.paths == b.paths
    assert np.array_equal(a.centers, b.centers) and np.array_equal(a.sizes, b.sizes)
    assert [e.points.tolist() for e in a.edges] == [e.points.tolist() for e in b.edges]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("depth", [None, "auto"])
def test_edges_go_forward_and_skips_arc_over_the_blocks_between(name, depth):
    layout = layout_graph(zoo_graph(name), depth)
    lo = layout.centers - layout.sizes / 2
    hi = layout.centers + layout.sizes / 2
    for e in layout.edges:
        s, d = layout.index(e.src), layout.index(e.dst)
        assert layout.layers[d] > layout.layers[s]
        if layout.lines[s] != layout.lines[d]:
            # a carriage return: its run back along the gap beside the destination's line
            # passes beside every block of that line, never through one
            on = layout.lines == layout.lines[d]
            gx = e.points[2:4, 0]
            assert ((gx[:, None] > hi[on, 0]) | (gx[:, None] < lo[on, 0])).all()
        elif layout.layers[d] - layout.layers[s] > 1:
            between = (layout.layers > layout.layers[s]) & (layout.layers < layout.layers[d])
            top = (layout.centers[between, 1] + layout.sizes[between, 1] / 2).max()
            assert e.points[1:-1, 1].min() > top


def test_parallel_branches_spread_sideways():
    layout = layout_graph(zoo_graph("resnet"), depth=None)
    stage = "resnet.encoder.stages.1.layers.0"
    shortcut = layout.centers[layout.index(f"{stage}.shortcut.convolution")]
    main = layout.centers[layout.index(f"{stage}.layer.0.convolution")]
    assert shortcut[0] != main[0]


def test_collapse_to_depth_and_expand_one_group():
    graph = zoo_graph("gpt2")
    top = collapse(graph, depth=2)
    assert "transformer.h" in top.blocks and "transformer.h.0.attn" not in top.blocks
    layers = collapse(graph, depth=3)
    assert [b for b in layers.blocks if b.startswith("transformer.h.")] == [
        f"transformer.h.{i}" for i in range(12)
    ]
    opened = collapse(graph, depth=3, expand=["transformer.h.5"])
    assert "transformer.h.5.attn" in opened.blocks and "transformer.h.4" in opened.blocks
    assert "transformer.h.5" in opened.groups
    # the residual stream between collapsed layers is a plain chain; inside, a skip
    assert all(k == "data" for s, d, k in layers.edges if s.startswith("transformer.h."))
    assert any(k == "skip" for s, d, k in opened.edges if d.startswith("transformer.h.5."))


def test_unknown_group_is_a_clear_error():
    with pytest.raises(KeyError, match="no such group"):
        collapse(zoo_graph("digits_cnn"), expand=["nope"])


def test_sizes_follow_params_on_a_log_scale_and_meta_explains_it():
    graph = zoo_graph("gpt2")
    layout = layout_graph(graph, depth=None)
    big = layout.sizes[layout.index("transformer.wte")]
    small = layout.sizes[layout.index("transformer.h.0.ln_1")]
    assert big.max() > small.max()
    assert "log10" in layout.meta["sizing"]["side"]
    assert layout.meta["axes"]["forward"] == "+z"


def test_group_boxes_contain_their_blocks():
    layout = layout_graph(zoo_graph("digits_cnn"))
    box = {g.path: g for g in layout.groups}["block"]
    for p in ("block.conv1", "block.add"):
        i = layout.index(p)
        assert np.all(layout.centers[i] - layout.sizes[i] / 2 >= box.lo)
        assert np.all(layout.centers[i] + layout.sizes[i] / 2 <= box.hi)
