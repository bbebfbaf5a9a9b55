"""The three capture strategies agree, fail clearly, and leave the model as it was."""

import pytest
import torch
from torch import nn

from nnviz3d.capture import CaptureError, capture_graph
from tests.conftest import zoo_model


def _summary(graph):
    return (
        {n.path: (n.kind, n.role, n.is_group, n.output_shapes) for n in graph.nodes},
        {(e.src, e.dst, e.kind) for e in graph.edges},
    )


@pytest.mark.parametrize("name", ["digits_cnn", "torch_transformer", "gpt2", "bert", "t5"])
def test_hooks_and_export_give_the_same_graph(name):
    model, inputs = zoo_model(name)
    by_export = capture_graph(model, inputs, strategies="export")
    by_hooks = capture_graph(model, inputs, strategies="hooks")
    assert by_export.strategy == "torch.export" and by_hooks.strategy == "module hooks"
    assert _summary(by_export) == _summary(by_hooks)


def test_fx_matches_export_on_a_traceable_model(digits):
    model, x = digits
    fx_nodes, fx_edges = _summary(capture_graph(model, x, strategies="fx"))
    ex_nodes, ex_edges = _summary(capture_graph(model, x, strategies="export"))
    assert fx_edges == ex_edges
    assert {p: v[:3] for p, v in fx_nodes.items()} == {p: v[:3] for p, v in ex_nodes.items()}


def test_default_order_starts_with_export_and_meta_with_hooks(digits):
    model, x = digits
    assert capture_graph(model, x).strategy == "torch.export"
    with torch.device("meta"):
        meta_model = type(model)()
    assert capture_graph(meta_model, x.to("meta")).strategy == "module hooks"


class DataDependent(nn.Module):
    """torch.export and torch.fx cannot trace a branch on a tensor's value; hooks can."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        h = self.a(x)
        if h.sum() > -1e9:
            h = h + self.b(h)
        return h


def test_falls_back_to_hooks_and_says_why():
    graph = capture_graph(DataDependent(), torch.randn(2, 4))
    assert graph.strategy == "module hooks"
    assert len(graph.notes) == 2 and "torch.export failed" in graph.notes[0]
    assert ("b", "add", "data") in {(e.src, e.dst, e.kind) for e in graph.edges}
    assert ("a", "add", "skip") in {(e.src, e.dst, e.kind) for e in graph.edges}


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.decoder = nn.Linear(32, 4)  # wrong: encoder gives 16 features

    def forward(self, x):
        return self.decoder(self.encoder(x))


def test_forward_that_cannot_run_names_strategies_and_module():
    with pytest.raises(CaptureError) as info:
        capture_graph(Broken(), torch.randn(2, 8))
    msg = str(info.value)
    for strategy in ("torch.export", "torch.fx", "module hooks"):
        assert strategy in msg
    assert "decoder" in msg and info.value.module == "decoder"
    assert "\n" not in msg


def test_model_is_left_exactly_as_it_was(digits):
    model, x = digits
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    out_before = model(x)
    model.train()
    for strategy in ("export", "fx", "hooks"):
        capture_graph(model, x, strategies=strategy)
        assert model.training
        for m in model.modules():
            assert not m._forward_hooks and not m._forward_pre_hooks
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), (strategy, k)
        assert all(p.grad is None for p in model.parameters())
    model.eval()
    assert torch.equal(model(x), out_before)


@pytest.mark.parametrize(
    "model,shape",
    [
        (nn.Sequential(nn.Linear(5, 3), nn.ReLU()), (1, 5)),
        (nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1)), (1, 3, 32, 32)),
        (nn.Sequential(nn.Embedding(100, 8), nn.Linear(8, 2)), (1, 16)),
    ],
)
def test_missing_inputs_inferred_from_the_first_layer(model, shape):
    graph = capture_graph(model)
    ((name, node),) = [(n.path, n) for n in graph.nodes if n.role == "input"]
    assert node.output_shapes[0] == list(shape)


def test_missing_inputs_that_cannot_be_inferred_say_how_to_pass_them():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(4)

        def forward(self, x):
            return self.norm(x)

    with pytest.raises(CaptureError, match="pass example_inputs"):
        capture_graph(Odd())


@pytest.mark.parametrize(
    "inputs",
    [
        torch.randn(2, 4),
        (torch.randn(2, 4),),
        [torch.randn(2, 4)],
        {"input": torch.randn(2, 4)},
        ((torch.randn(2, 4),), {}),
    ],
)
def test_every_accepted_input_form(inputs):
    graph = capture_graph(nn.Sequential(nn.Linear(4, 2)), inputs)
    assert [n.path for n in graph.nodes if n.role == "input"] == ["input:input"]


def test_bad_arguments_are_rejected_clearly():
    with pytest.raises(TypeError, match="nn.Module"):
        capture_graph("not a model", torch.randn(1))
    with pytest.raises(ValueError, match="unknown strategies"):
        capture_graph(nn.Linear(2, 2), torch.randn(1, 2), strategies=("magic",))
    with pytest.raises(TypeError, match="example_inputs"):
        capture_graph(nn.Linear(2, 2), 3.0)


def test_single_module_model_is_one_block():
    graph = capture_graph(nn.Linear(4, 2), torch.randn(1, 4))
    assert graph[""].is_unit and not graph[""].is_group
    assert {(e.src, e.dst) for e in graph.edges} == {("input:input", ""), ("", "output:0")}


def test_module_called_twice_gets_a_second_call_node(digits):
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.lin(self.lin(x))

    graph = capture_graph(Twice(), torch.randn(1, 4))
    assert graph["lin@1"].call_index == 1 and graph["lin@1"].module_path == "lin"
    assert ("lin", "lin@1") in {(e.src, e.dst) for e in graph.edges}
    assert graph.total_params == 20
