"""Weights of model files as probe frames: the same statistics and maps as the live module."""

import numpy as np
import pytest
import torch

from nnviz3d.capture.formats import ModelFileError
from nnviz3d.capture.weight_frame import file_weights, module_weights, weight_frame
from nnviz3d.protocol.probe_frame import decode_probe
from tests.capture.test_formats import KINDS, MODELS, SUFFIX, save


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    out = {}
    for name, (build, shape) in MODELS.items():
        torch.manual_seed(0)
        model = build().eval()
        for kind in KINDS:
            path = root / f"{name}_{kind}{SUFFIX[kind]}"
            save(kind, model, shape, path)
            out[name, kind] = (model, path)
    return out


def frame(groups):
    header, arrays = decode_probe(weight_frame(groups))
    stats = dict(zip(header["kinds"]["weight"]["modules"], arrays["weight_stats"]))
    return header, arrays, stats


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "onnx"])
@pytest.mark.parametrize("name", list(MODELS))
def test_file_weights_equal_the_live_parameters(saved, name, kind):
    model, path = saved[name, kind]
    live_header, _, live = frame(module_weights(model))
    header, arrays, stats = frame(file_weights(path))
    assert set(stats) == set(live)
    for module, row in live.items():
        np.testing.assert_allclose(stats[module], row, rtol=1e-6, atol=1e-7)
    assert {(m["module"], m["param"]) for m in header["matrices"]} == {
        (m["module"], m["param"]) for m in live_header["matrices"]
    }
    if name == "digits":  # conv kernels tiled whole, as a live run sends them
        conv = next(
            m for m in header["matrices"] if m["module"] == "block.conv1" and m["param"] == "weight"
        )
        assert conv["layout"] == "tiles"
        np.testing.assert_array_equal(
            arrays[conv["array"]], model.block.conv1.weight.detach().half().reshape(16, -1)
        )


def test_onnx_initializers_are_read_under_their_nodes(saved):
    model, path = saved["mlp", "onnx"]
    groups = file_weights(path)
    assert sum(t.numel() for ps in groups.values() for t in ps.values()) == sum(
        p.numel() for p in model.parameters()
    )
    _, _, stats = frame(groups)
    _, _, live = frame(module_weights(model))
    norms = sorted(float(r[4]) for r in stats.values())
    np.testing.assert_allclose(norms, sorted(float(r[4]) for r in live.values()), rtol=1e-6)


def test_bf16_safetensors_are_read_without_a_copy_of_the_file(tmp_path):
    import safetensors.torch

    w = torch.randn(64, 32).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file(
        {
            "fc.weight": w,
            "fc.bias": torch.zeros(64, dtype=torch.bfloat16),
            "steps": torch.tensor([3]),
        },
        path,
    )
    groups = file_weights(path)
    assert list(groups) == ["fc"] and set(groups["fc"]) == {"weight", "bias"}
    assert torch.equal(groups["fc"]["weight"], w)
    _, arrays, stats = frame(groups)
    assert stats["fc"][5] == pytest.approx(64 / (64 * 33))  # the zero bias is 1/33 of it


def test_truncated_torchscript_storage_is_one_clear_error(saved, tmp_path):
    import zipfile

    _, path = saved["mlp", "torchscript"]
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if "/data/" in info.filename and not info.filename.endswith(".pkl"):
                data = data[: len(data) // 2]
            dst.writestr(info, data)
    with pytest.raises(ModelFileError, match="bad.pt: expected readable TorchScript weights"):
        file_weights(bad)
