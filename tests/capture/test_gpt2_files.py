"""GPT-2 (a small config, random weights) saved as people save it, opened as a file: the
graph's parameter total and the weights read match the live module. ONNX is left out: the
TorchScript-based exporter cannot export transformers' mask code (``aten::diff``) and the
dynamo exporter needs onnxscript, which this project does not install."""

import warnings

import pytest
import safetensors.torch
import torch

from nnviz3d.capture.formats import open_model_file
from nnviz3d.capture.weight_frame import file_weights


class Hidden(torch.nn.Module):
    """GPT2Model returning its last hidden state only (a tensor, for trace and export)."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, ids):
        return self.m(ids, use_cache=False)[0]


class Logits(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, ids):
        return self.m(ids, use_cache=False).logits


@pytest.fixture(scope="module")
def gpt2():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    model = GPT2Model(
        GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=500, n_positions=64)
    ).eval()
    return model, torch.randint(0, 500, (1, 16))


def save(kind, model, ids, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "safetensors":
            safetensors.torch.save_model(model, path)  # drops the tied duplicate
        elif kind == "state_dict":
            torch.save(model.state_dict(), path)
        elif kind == "torchscript":
            torch.jit.save(torch.jit.trace(Hidden(model), (ids,), strict=False), path)
        elif kind == "export":
            torch.export.save(torch.export.export(Hidden(model), (ids,)), path)


@pytest.mark.parametrize(
    "kind,suffix",
    [
        ("safetensors", ".safetensors"),
        ("state_dict", ".pt"),
        ("torchscript", ".pt"),
        ("export", ".pt2"),
    ],
)
def test_gpt2_files_open_with_the_live_totals(gpt2, tmp_path, kind, suffix):
    model, ids = gpt2
    path = tmp_path / f"gpt2{suffix}"
    save(kind, model, ids, path)
    live = sum(p.numel() for p in model.parameters())
    graph = open_model_file(path)
    assert graph.total_params == live
    weights = file_weights(path)
    assert sum(t.numel() for ps in weights.values() for t in ps.values()) == live
    prefix = "m." if kind in ("torchscript", "export") else ""
    w = weights[f"{prefix}h.1.attn.c_attn"]["weight"]
    assert torch.equal(w, model.h[1].attn.c_attn.weight.detach())


@pytest.mark.parametrize("kind,suffix", [("state_dict", ".pt"), ("torchscript", ".pt")])
def test_tied_weights_count_once(tmp_path, kind, suffix):
    """GPT-2's output layer is its token embedding: a state_dict lists it twice on one storage
    (and TorchScript pickles one storage key twice); it counts once, as in the live module."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=32)
    ).eval()
    ids = torch.randint(0, 100, (1, 8))
    path = tmp_path / f"lm{suffix}"
    if kind == "state_dict":
        torch.save(model.state_dict(), path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.save(torch.jit.trace(Logits(model), (ids,), strict=False), path)
    live = sum(p.numel() for p in model.parameters())  # parameters() lists a tied one once
    graph = open_model_file(path)
    assert graph.total_params == live
    head = next(n for n in graph.nodes if n.path.endswith("lm_head"))
    assert head.params == 0 and head.shared_params["weight"].endswith("transformer.wte")
    weights = file_weights(path)
    assert sum(t.numel() for ps in weights.values() for t in ps.values()) == live


@pytest.mark.parametrize("safe", [True, False])
def test_sharded_checkpoints_open_through_their_index(gpt2, tmp_path, safe):
    import json

    from nnviz3d.capture.formats import ModelFileError

    model, _ = gpt2
    if safe:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save_pretrained(tmp_path, max_shard_size="200KB")
        index = tmp_path / "model.safetensors.index.json"
    else:  # as older transformers wrote them: torch.save shards and an index
        sd = model.state_dict()
        names = list(sd)
        halves = {
            "pytorch_model-00001-of-00002.bin": names[: len(names) // 2],
            "pytorch_model-00002-of-00002.bin": names[len(names) // 2 :],
        }
        for shard, part in halves.items():
            torch.save({n: sd[n] for n in part}, tmp_path / shard)
        index = tmp_path / "pytorch_model.bin.index.json"
        index.write_text(
            json.dumps(
                {
                    "metadata": {},
                    "weight_map": {n: shard for shard, part in halves.items() for n in part},
                }
            )
        )
    shards = set(json.loads(index.read_text())["weight_map"].values())
    assert len(shards) > 1
    live = sum(p.numel() for p in model.parameters())
    graph = open_model_file(index)
    assert graph.total_params == live and f"{len(shards)} shards" in graph.strategy
    weights = file_weights(index)
    assert torch.equal(weights["h.1.attn.c_attn"]["weight"], model.h[1].attn.c_attn.weight)
    # a missing shard, and a shard name that points outside the folder
    (tmp_path / sorted(shards)[0]).unlink()
    with pytest.raises(ModelFileError, match="beside the index; found no such file"):
        open_model_file(index)
    bad = tmp_path / "bad.index.json"
    bad.write_text(json.dumps({"weight_map": {"a.weight": "../../etc/passwd"}}))
    with pytest.raises(ModelFileError, match="points elsewhere"):
        open_model_file(bad)
    bad.write_text("{not json")
    with pytest.raises(ModelFileError, match="expected a checkpoint index"):
        open_model_file(bad)


def test_traced_gpt2_data_flow_follows_the_blocks_and_residuals(gpt2, tmp_path):
    model, ids = gpt2
    path = tmp_path / "gpt2.pt"
    save("torchscript", model, ids, path)
    edges = {(e.src, e.dst): e.kind for e in open_model_file(path).edges}
    block = [
        "m.h.1.ln_1",
        "m.h.1.attn.c_attn",
        "m.h.1.attn.c_proj",
        "m.h.1.attn.resid_dropout",
        "m.h.1.ln_2",
        "m.h.1.mlp.c_fc",
        "m.h.1.mlp.act",
        "m.h.1.mlp.c_proj",
        "m.h.1.mlp.dropout",
        "m.ln_f",
        "output:0",
    ]
    for src, dst in zip(block, block[1:]):
        assert edges.get((src, dst)) == "data", (src, dst)
    assert edges[("m.h.0.mlp.dropout", "m.h.1.ln_1")] == "data"
    assert edges[("m.h.0.attn.resid_dropout", "m.h.1.ln_2")] == "skip"  # the residual stream
    assert ("input:ids", "m.wte") in edges
    assert ("input:ids", "output:0") not in edges  # a shape, not data (view(input.size()))
