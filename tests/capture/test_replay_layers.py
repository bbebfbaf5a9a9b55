"""Replaying the first of a run of identical layers on the meta device gives the same graph as
running every layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnviz3d.capture import capture_graph
from nnviz3d.capture.flow import build_graph
from nnviz3d.capture.inventory import take_inventory
from nnviz3d.capture.via_hooks import trace_hooks


def graphs(model, args, kwargs=None):
    inv = take_inventory(model)
    kwargs = kwargs or {}
    fast = trace_hooks(model, args, kwargs, replay=True)
    slow = trace_hooks(model, args, kwargs, replay=False)
    assert not any("forward" in vars(m) for m in model.modules())  # forwards restored
    return (
        build_graph(fast, inv, model_name="m").to_json(),
        build_graph(slow, inv, model_name="m").to_json(),
        len(fast.ops),
    )


def _hf(name, **cfg):
    transformers = pytest.importorskip("transformers")
    config = getattr(transformers, f"{name}Config")(**cfg)
    with torch.device("meta"):
        model = getattr(transformers, f"{name}Model")(config).eval()
    return model


@pytest.mark.parametrize(
    "name,cfg",
    [
        (
            "Llama",
            dict(
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=4,
                num_attention_heads=4,
                num_key_value_heads=2,
                vocab_size=100,
            ),
        ),
        ("GPT2", dict(n_embd=64, n_layer=3, n_head=4, vocab_size=100)),
        (
            "Bert",
            dict(
                hidden_size=64,
                num_hidden_layers=3,
                num_attention_heads=4,
                intermediate_size=128,
                vocab_size=100,
            ),
        ),
    ],
)
def test_transformers_on_meta_give_the_same_graph(name, cfg):
    model = _hf(name, **cfg)
    ids = torch.zeros(1, 8, dtype=torch.long, device="meta")
    fast, slow, ops = graphs(model, (ids,))
    assert fast == slow
    assert ops > 0


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 16)

    def forward(self, x, scale=1.0, skip=False):
        y = self.b(torch.relu(self.a(x)))
        return x if skip else x + scale * y


class Net(nn.Module):
    """Identical blocks called with other shapes, other arguments, and a skip."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block() for _ in range(6))

    def forward(self, x):
        x = self.blocks[0](x)
        x = self.blocks[1](x)
        x = self.blocks[2](x, scale=2.0)  # another argument: runs
        x = self.blocks[3](x, skip=True)  # another path: runs
        y = self.blocks[4](x[:2])  # another shape: runs
        return self.blocks[5](x) + y.sum()


def test_identical_blocks_replay_only_when_their_calls_match():
    with torch.device("meta"):
        model = Net()
    x = torch.empty(4, 16, device="meta")
    fast, slow, _ = graphs(model, (x,))
    assert fast == slow
    from nnviz3d.capture.via_hooks import _Recorder

    rec = _Recorder(model)
    try:
        with torch.no_grad(), rec:
            model(x)
        assert rec.replay.replayed == 2  # blocks 1 and 5
    finally:
        rec.close()


def test_models_with_weights_run_every_layer():
    torch.manual_seed(0)
    model = Net()
    from nnviz3d.capture.via_hooks import _Recorder

    rec = _Recorder(model)
    rec.close()
    assert rec.replay is None
    graph = capture_graph(model, torch.randn(4, 16), strategies="hooks")
    assert any(n.path == "blocks.5.b" for n in graph.nodes)
