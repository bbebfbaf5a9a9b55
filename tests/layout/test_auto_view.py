"""The automatic first view: stacked repeats, a block budget, folded lines."""

import argparse

import numpy as np
import pytest
import torch
from torch import nn

from nnviz3d.capture import capture_graph
from nnviz3d.layout import AUTO_BLOCKS, depth_argument, layout_depth, layout_graph
from nnviz3d.layout.auto_view import find_stacks
from nnviz3d.scene import GROUP, LABEL, build_topology_scene
from tests.conftest import zoo_graph

BIG = ["gpt2", "resnet", "t5", "vit", "bert", "llama_70b_meta"]


@pytest.mark.parametrize("name", BIG)
def test_auto_view_stays_within_the_budget_and_shows_structure(name):
    graph = zoo_graph(name)
    auto = layout_graph(graph, "auto")
    full = layout_graph(graph, None)
    assert 10 <= len(auto.paths) <= AUTO_BLOCKS < len(full.paths)
    # every unit of the model is stood for by a block that is shown
    shown = set(auto.paths)
    assert all(b in shown for b in auto.visible.members.values())


def test_llama_70b_opens_on_one_stacked_decoder_layer():
    graph = zoo_graph("llama_70b_meta")
    layout = layout_graph(graph, "auto")
    assert layout.meta["stacks"] == {"model.layers.0": 80}
    assert "model.layers.0.self_attn.q_proj" in layout.paths  # the representative is open
    assert not any(
        p.startswith("model.layers.1.") or p.startswith("model.layers.79") for p in layout.paths
    )
    scene = build_topology_scene(graph, layout)
    group = scene["/model/model/layers/0"]
    assert group.type == GROUP and group.meta["stack"] == 80
    assert scene["/model/model/layers/0/label"].text == "layers.0–79 ×80 (LlamaDecoderLayer)"
    # data flows in from the embedding and out to the final norm: nothing dangles
    srcs = {e.src for e in layout.edges}
    dsts = {e.dst for e in layout.edges}
    assert "model.norm" in dsts and "model.embed_tokens" in srcs


def test_a_stack_closed_is_one_block_and_opening_a_follower_unstacks_the_run():
    graph = zoo_graph("gpt2")
    closed = layout_graph(graph, "auto", collapse_groups={"transformer.h.0"})
    assert "transformer.h.0" in closed.paths and closed.meta["stacks"] == {"transformer.h.0": 12}
    assert len(closed.paths) < 12
    opened = layout_graph(graph, "auto", expand={"transformer.h.7.attn"})
    assert opened.meta["stacks"] == {}
    assert "transformer.h.7.attn.c_attn" in opened.paths
    assert len(opened.paths) <= AUTO_BLOCKS + 20  # what was asked for, plus what fits


def test_auto_view_is_deterministic():
    a = layout_graph(zoo_graph("t5"), "auto")
    b = layout_graph(zoo_graph("t5"), "auto")
    assert a.paths == b.paths and np.array_equal(a.centers, b.centers)


class _A(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.fc(x))


class _B(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        return self.norm(self.fc(x))


class _Alternating(nn.Module):
    """A, B, A, B, A, B: two repeat groups whose members interleave; stacking either would
    fold the chain into a cycle."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([_A() if i % 2 == 0 else _B() for i in range(6)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def test_interleaved_repeats_are_not_stacked():
    graph = capture_graph(_Alternating(), (torch.randn(2, 8),))
    assert find_stacks(graph) == {}
    layout = layout_graph(graph, "auto")
    assert all(f"blocks.{i}.fc" in layout.paths for i in range(6))


class _Deep(nn.Module):
    """A long chain of distinct layers (no repeats): 160 Linear/activation pairs."""

    def __init__(self, n=80):
        super().__init__()
        layers = []
        for i in range(n):
            layers += [nn.Linear(16 + i % 3, 16 + (i + 1) % 3), nn.Tanh() if i % 2 else nn.GELU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


def test_a_long_chain_folds_into_lines_that_read_like_text():
    graph = capture_graph(_Deep(), (torch.randn(2, 16),))
    layout = layout_graph(graph, None)
    rows = layout.meta["rows"]
    assert rows >= 3
    lo, hi = layout.bounds()
    ext = hi - lo
    assert 0.8 < ext[2] / ext[0] < 4  # about as wide as a screen, not a line
    # each line runs forward along +z; the first line is the farthest back (+x)
    first, last = layout.index(layout.paths[0]), layout.index(layout.paths[-1])
    assert layout.lines[first] == 0 and layout.lines[last] == rows - 1
    assert layout.centers[first, 0] > layout.centers[last, 0]
    for r in range(rows):
        on = np.nonzero(layout.lines == r)[0]
        z = layout.centers[on, 2]
        assert (np.diff(z[np.argsort(layout.layers[on])]) >= 0).all()
    unfolded = layout_graph(graph, None, fold=False)
    assert unfolded.meta["rows"] == 1 and (unfolded.lines == 0).all()


def test_a_group_cut_by_a_fold_is_outlined_in_parts_with_one_label():
    graph = capture_graph(_Deep(), (torch.randn(2, 16),))
    layout = layout_graph(graph, None)
    scene = build_topology_scene(graph, layout)
    groups = [n for n in scene.of_type(GROUP)]
    labels = {n.meta["for"] for n in scene.of_type(LABEL)}
    # "body" holds every block: a wrapper, no outline at all
    assert not any(g.meta["module"] == "body" for g in groups)
    assert all(g.path in labels for g in groups if not g.meta.get("part"))
    assert not any(g.path in labels for g in groups if g.meta.get("part"))


def test_wrapper_outlines_are_dropped():
    layout = layout_graph(zoo_graph("gpt2"), "auto")
    groups = {g.path for g in layout.groups}
    assert "transformer" not in groups and "transformer.h" not in groups
    assert "transformer.h.0" in groups and "transformer.h.0.attn" in groups


def test_depth_values():
    assert layout_depth(None) == "auto" and layout_depth("all") is None and layout_depth(2) == 2
    for bad in (0, -1, "deep", 1.5, True):
        with pytest.raises(ValueError, match="depth must be"):
            layout_depth(bad)
    assert depth_argument("all") == "all" and depth_argument("3") == 3
    for bad in ("0", "x", "-2"):
        with pytest.raises(argparse.ArgumentTypeError, match="'auto', 'all' or an integer"):
            depth_argument(bad)
