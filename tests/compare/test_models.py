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
        self.fc1, self.act, self.fc2 = (
            torch.nn.Linear(6, 8),
            torch.nn.ReLU(),
            torch.nn.Linear(8, 3),
        )

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
    assert main(["compare", path_a, path_mlp, "--no-browser"]) == 1
    assert main(["compare", path_a, str(tmp_path / "missing.pt"), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "share too few layers" in err and "Traceback" not in err


def pruned_with_outlier(a):
    """A copy of ``a`` whose ``block.conv1`` is 50 % pruned by torch.nn.utils.prune (saved as
    ``weight_orig`` and ``weight_mask``, not removed) and whose ``head.3`` has one huge weight."""
    b = copy.deepcopy(a)
    torch.nn.utils.prune.l1_unstructured(b.block.conv1, "weight", amount=0.5)
    with torch.no_grad():
        b.head[3].weight[0, 0] += 1000.0
    return b


@pytest.fixture(scope="module")
def same_architecture(tmp_path_factory):
    """The digits CNN with seed 0 (safetensors and .pt), with seed 1 (.pt), and a pruned copy
    with an outlier (.pt with pruning masks)."""
    root = tmp_path_factory.mktemp("same")
    torch.manual_seed(0)
    a = DigitsCNN().eval()
    torch.manual_seed(1)
    other = DigitsCNN().eval()
    torch.save(a.state_dict(), root / "a.pt")
    torch.save(other.state_dict(), root / "seed1.pt")
    pruned = pruned_with_outlier(a)
    torch.save(pruned.state_dict(), root / "pruned.pt")
    return {
        "model a": a,
        "model pruned": pruned,
        "a.safetensors": save(a, root / "a.safetensors"),
        **{name: str(root / f"{name}.pt") for name in ("a", "seed1", "pruned")},
    }


@pytest.mark.parametrize(
    "pair",
    [("a.safetensors", "seed1"), ("a", "seed1"), ("a.safetensors", "pruned"), ("spec", "seed1")],
)
def test_two_files_of_one_architecture_match_every_layer(same_architecture, pair):
    from nnviz3d.compare.runs import say_matched

    a, b = (same_architecture[p] if p != "spec" else "nnviz3d.zoo:digits_cnn" for p in pair)
    header, stats, _, report = decoded(a, b)
    # 9 layers hold weights: groups, ops, inputs and outputs hold none and are not counted
    assert report["layers_a"] == report["layers_b"] == report["matched"] == 9
    assert report["only_a"] == report["only_b"] == [] and report["by_structure"] == {}
    assert say_matched(report) == "every layer with weights matched (9 of 9)"
    assert set(stats) == {
        "stem.0",
        "stem.1",
        "block.conv1",
        "block.bn1",
        "block.conv2",
        "block.bn2",
        "down.0",
        "head.1",
        "head.3",
    }
    assert header["compare"]["color"] == "weight_norm"


def test_a_pruned_copy_saved_with_masks_compares_as_the_pruned_weights(same_architecture):
    s = same_architecture
    _, stats, maps, report = decoded(s["a.safetensors"], s["pruned"])
    assert {m for m, row in stats.items() if row.any()} == {"block.conv1", "head.3"}
    conv = s["model pruned"].block.conv1
    # the weight the model uses (weight_orig * weight_mask), not the mask, is compared
    assert stats["block.conv1"][5] == pytest.approx(
        (conv.weight == 0).sum().item() / (conv.weight.numel() + conv.bias.numel()), abs=1e-6
    )
    diff = (conv.weight - s["model a"].block.conv1.weight).detach().half().reshape(16, -1).numpy()
    np.testing.assert_array_equal(maps["block.conv1", "weight"].astype(np.float32), diff)
    assert 0.3 < report["changed"]["block.conv1"] < 1 and report["changed"]["head.3"] > 100


def test_hostile_pairs_say_why_in_one_sentence(same_architecture, tmp_path, capsys):
    # another architecture saved as a file: an MLP shares no layer with the CNN (a wider CNN
    # would: same paths, other shapes, compared as statistics; their maps are left out)
    torch.manual_seed(0)
    wide = save(
        torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)),
        tmp_path / "mlp.safetensors",
    )
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04" + bytes(64))
    assert main(["compare", same_architecture["a"], wide, "--no-browser"]) == 1
    assert main(["compare", same_architecture["a"], str(garbage), "--no-browser"]) == 1
    assert (
        main(
            [
                "compare",
                same_architecture["a"],
                same_architecture["seed1"],
                "--tolerance",
                "2",
                "--no-browser",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "share too few layers with weights" in err and "garbage.pt" in err
    assert "two models have no steps" in err and "Traceback" not in err
