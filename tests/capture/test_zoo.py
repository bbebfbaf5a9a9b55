"""Capture models nobody here wrote (transformers configs, random init, meta device)."""

import re

import pytest
import torch

from nnviz3d.graph import ROLE_MODULE
from tests.conftest import zoo_graph, zoo_model

# model -> regex of the blocks that must each contain a residual (skip) edge, and how many.
RESIDUAL_BLOCKS = {
    "digits_cnn": (r"^block$", 1),
    "torch_transformer": (r"^(encoder|decoder)\.layers\.\d+$", 4),
    "gpt2": (r"^transformer\.h\.\d+$", 12),
    "bert": (r"^encoder\.layer\.\d+$", 12),
    "vit": (r"^vit\.layers\.\d+$", 12),
    "resnet": (r"^resnet\.encoder\.stages\.\d+\.layers\.\d+$", 16),
    "t5": (r"^(encoder|decoder)\.block\.\d+$", 12),
    "llama_7b_meta": (r"^model\.layers\.\d+$", 32),
    "llama_70b_meta": (r"^model\.layers\.\d+$", 80),
}
MODELS = list(RESIDUAL_BLOCKS)


@pytest.mark.parametrize("name", MODELS)
def test_total_params_counts_each_tensor_once(name):
    model, _ = zoo_model(name)
    graph = zoo_graph(name)
    unique = sum(p.numel() for p in model.parameters())  # model.parameters() dedups tied ones
    assert graph.total_params == unique
    assert graph[""].total_params == unique
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert graph.trainable_params == trainable


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_owner_appears_exactly_once(name):
    model, _ = zoo_model(name)
    graph = zoo_graph(name)
    owners = {
        path for path, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))
    }
    nodes = [n for n in graph.nodes if n.role == ROLE_MODULE and n.call_index == 0]
    paths = [n.path for n in nodes]
    assert len(paths) == len(set(paths))
    assert owners <= set(paths)
    for path in owners:
        own = sum(p.numel() for p in model.get_submodule(path).parameters(recurse=False))
        assert graph[path].params == own, path


@pytest.mark.parametrize("name", MODELS)
def test_residual_edges_where_the_architecture_has_them(name):
    graph = zoo_graph(name)
    pattern, count = RESIDUAL_BLOCKS[name]
    blocks = [n.path for n in graph.nodes if re.match(pattern, n.path)]
    assert len(blocks) == count
    skips = [e for e in graph.edges if e.kind == "skip"]
    with_skip = 0
    for block in blocks:
        # every residual block merges two branches in an add ...
        adds = [n.path for n in graph.nodes if n.kind == "add" and n.path.startswith(block + ".")]
        fan_in = [sum(e.dst == a for e in graph.edges) for a in adds]
        assert max(fan_in, default=0) >= 2, f"no residual merge in {block}"
        # ... and where the shortcut is the identity, one input skips over the branch
        if any(e.dst.startswith(block + ".") and graph[e.dst].kind == "add" for e in skips):
            with_skip += 1
    # ResNet's first layer of each stage has a projection shortcut (a branch, not a skip)
    assert with_skip == count - (4 if name == "resnet" else 0)


@pytest.mark.parametrize("name", MODELS)
def test_edges_join_units_and_shapes_are_known(name):
    graph = zoo_graph(name)
    for e in graph.edges:
        assert graph[e.src].is_unit and graph[e.dst].is_unit
    called = [n for n in graph.units() if n.role == ROLE_MODULE]
    assert all(n.output_shapes for n in called)
    # data reaches the outputs
    assert any(e.dst.startswith("output:") for e in graph.edges)


@pytest.mark.parametrize(
    "name,layers",
    [("gpt2", "transformer.h"), ("bert", "encoder.layer"), ("llama_70b_meta", "model.layers")],
)
def test_repeated_blocks_recognised(name, layers):
    graph = zoo_graph(name)
    members = [n for n in graph.nodes if n.parent == layers]
    groups = {n.repeat_group for n in members}
    assert len(groups) == 1 and None not in groups
    assert members[0].repeat_of is None
    assert all(n.repeat_of == members[0].path for n in members[1:])


def test_tied_weights_counted_once_and_marked_shared():
    graph = zoo_graph("gpt2")
    assert graph.total_params == 124_439_808  # torchinfo reports 163.0M (counts wte twice)
    assert graph["lm_head"].shared_params == {"weight": "transformer.wte.weight"}
    assert graph["lm_head"].params == graph["transformer.wte"].params
    t5 = zoo_graph("t5")
    assert t5["lm_head"].shared_params == {"weight": "shared.weight"}


@pytest.mark.parametrize(
    "name,total", [("llama_7b_meta", 6_738_415_616), ("llama_70b_meta", 68_976_648_192)]
)
def test_huge_models_on_meta_capture_without_weights(name, total):
    model, _ = zoo_model(name)
    graph = zoo_graph(name)
    assert graph.total_params == total
    assert all(p.is_meta for p in model.parameters())
    assert graph.device == "meta"
    sdpa = [n for n in graph.nodes if n.kind == "scaled_dot_product_attention"]
    assert len(sdpa) == len([n for n in graph.nodes if n.parent == "model.layers"])


def test_t5_encoder_output_feeds_every_decoder_cross_attention():
    graph = zoo_graph("t5")
    into_decoder = {
        e.dst for e in graph.edges if e.src.startswith("encoder.") and e.dst.startswith("decoder.")
    }
    cross = {p for p in into_decoder if ".layer.1." in p}
    assert len({p.split(".layer.")[0] for p in cross}) == 6


def test_graph_node_paths_unique_and_parents_exist():
    graph = zoo_graph("vit")
    for n in graph.nodes:
        if n.parent is not None:
            assert n.parent in graph, n.path
    assert torch  # torch imported by tests only
