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


@pytest.fixture(scope="module")
def gpt2():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    model = GPT2Model(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=500,
                                 n_positions=64)).eval()
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


@pytest.mark.parametrize("kind,suffix", [("safetensors", ".safetensors"),
                                         ("state_dict", ".pt"), ("torchscript", ".pt"),
                                         ("export", ".pt2")])
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
