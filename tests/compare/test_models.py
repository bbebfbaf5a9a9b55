"""nnviz3d compare MODEL_A MODEL_B: weights of two models, B - A per matched layer."""

import copy

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.utils.prune

from nnviz3d.cli import main
from nnviz3d.compare import CompareError, diff_models, match_layers, serve_compare
from nnviz3d.compare.models import load_model
from nnviz3d.protocol.probe_frame import decode_probe
from nnviz3d.zoo import DigitsCNN


class NamedMLP(torch.nn.Module):
    """The layers of ``mlp()`` under other names: matched by structure, not by path."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = (torch.nn.Linear(6, 8), torch.nn.ReLU(),
                                        torch.nn.Linear(8, 3))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def save(model, path):
    safetensors.torch.save_file(model.state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def digits_pair(tmp_path_factory):
    """The demo CNN, and a "fine-tuned" copy whose classifier head alone changed."""
    root = tmp_path_factory.mktemp("pair")
    torch.manual_seed(0)
    a = DigitsCNN().eval()
    b = copy.deepcopy(a)
    with torch.no_grad():
        b.head[3].weight.add_(0.05 * torch.randn_like(b.head[3].weight))
    return a, b, save(a, root / "a.safetensors"), save(b, root / "b.safetensors")


def decoded(path_a, path_b):
    ga, wa = load_model(path_a)
    gb, wb = load_model(path_b)
    data, report = diff_models(path_a, ga, wa, path_b, gb, wb)
    header, arrays = decode_probe(data)
    stats = dict(zip(header["kinds"]["weight"]["modules"], arrays["weight_stats"]))
    maps = {(m["module"], m["param"]): arrays[m["array"]] for m in header["matrices"]}
    return header, stats, maps, report


def test_fine_tuned_head_is_the_only_difference(digits_pair):
    a, b, path_a, path_b = digits_pair
    header, stats, maps, report = decoded(path_a, path_b)
    assert header["compare"]["quantity"] == "B - A" and header["compare"]["pairs"] == {}
    assert stats["head.3"][4] != 0  # the norm moved
    for module, row in stats.items():
        if module != "head.3":
            assert not row.any(), module  # identical layers: every statistic differs by 0
            if (module, "weight") in maps:  # BatchNorm's weight is a vector: no map
                assert not maps[module, "weight"].astype(np.float32).any()
    diff = (b.head[3].weight - a.head[3].weight).detach().half().numpy()
    np.testing.assert_array_equal(maps["head.3", "weight"], diff)
    assert maps["head.3", "bias"].astype(np.float32).max() == 0
    assert report["changed"]["head.3"] > 0.01 and report["changed"]["stem.0"] == 0


def test_pruning_shows_as_zero_fraction(tmp_path):
    torch.manual_seed(0)
    a = DigitsCNN().eval()
    b = copy.deepcopy(a)
    torch.nn.utils.prune.l1_unstructured(b.block.conv1, "weight", amount=0.5)
    torch.nn.utils.prune.remove(b.block.conv1, "weight")
    path_a, path_b = save(a, tmp_path / "a.safetensors"), str(tmp_path / "b.pt")
    torch.save(b.state_dict(), path_b)  # another format on purpose
    _, stats, maps, _ = decoded(path_a, path_b)
    conv = b.block.conv1
    zeros = (conv.weight == 0).sum().item() / (conv.weight.numel() + conv.bias.numel())
    assert stats["block.conv1"][5] == pytest.approx(zeros, abs=1e-6)  # zero fraction rose
    assert stats["block.conv1"][4] < 0  # the norm fell
    tiles = maps["block.conv1", "weight"].astype(np.float32)  # pruned weights show as -w
    removed = (conv.weight == 0).reshape(16, -1).numpy()
    kept = a.block.conv1.weight.detach().half().float().reshape(16, -1).numpy()
    np.testing.assert_array_equal(tiles[removed], -kept[removed])
    assert not tiles[~removed].any()


def test_layers_are_matched_by_structure_when_names_differ(tmp_path):
    torch.manual_seed(0)
    a = mlp()
    b = NamedMLP()
    path_a, path_b = save(a, tmp_path / "seq.safetensors"), save(b, tmp_path / "named.pt")
    ga, _ = load_model(path_a)
    gb, _ = load_model(path_b)
    pairs = match_layers(ga, gb)
    assert pairs["0"] == "fc1" and pairs["2"] == "fc2"
    header, stats, maps, report = decoded(path_a, path_b)
    assert header["compare"]["pairs"] == {"0": "fc1", "2": "fc2"}
    assert report["by_structure"] == {"0": "fc1", "2": "fc2"}
    expected = (b.fc1.weight - a[0].weight).detach().half().numpy()
    np.testing.assert_array_equal(maps["0", "weight"], expected)


def test_a_spec_compares_with_a_file(digits_pair):
    _, _, _, path_b = digits_pair
    # the zoo's digits_cnn SPEC builds A's weights (seed 0): against the file of B, only the
    # fine-tuned head differs
    _, stats, _, _ = decoded("nnviz3d.zoo:digits_cnn", path_b)
    assert {m for m, row in stats.items() if row.any()} == {"head.3"}


def test_bad_pairs_are_refused_with_one_sentence(digits_pair, tmp_path, capsys):
    _, _, path_a, _ = digits_pair
    path_mlp = save(mlp(), tmp_path / "mlp.safetensors")
    with pytest.raises(CompareError, match="share too few layers with weights"):
        decoded(path_a, path_mlp)
    run = tmp_path / "r.nnv3d"
    run.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(CompareError, match="is a recording and .* is not"):
        serve_compare(str(run), path_a, open_browser=False, quiet=True)
    with pytest.raises(CompareError, match="meta device"):
        load_model("nnviz3d.zoo:llama_7b_meta")
    assert main(["compare", path_a, path_mlp, "--no-browser"]) == 2
    assert main(["compare", path_a, str(tmp_path / "missing.pt"), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "share too few layers" in err and "Traceback" not in err
