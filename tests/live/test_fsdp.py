"""watch on sharded models: 2 processes (gloo, CPU) train a tiny MLP under FSDP2
(``fully_shard``), FSDP2 with ``group=`` a DeviceMesh, and FSDP1 (``use_orig_params=True``),
one wrapper or nested per Linear (``auto_wrap_policy``).
Each rank probes its local shards; rank 0's merged statistics equal those of the whole,
unsharded parameters and gradients."""

import json
from pathlib import Path

import numpy as np
import pytest

from nnviz3d.protocol.probe_frame import decode_probe
from nnviz3d.record import RunReader
from tests.live.torchrun import torchrun

SCRIPT = Path(__file__).with_name("fsdp_train.py")
VARIANTS = ("fsdp2", "fsdp2-mesh", "fsdp1", "fsdp1-nested")


@pytest.fixture(scope="module")
def fsdp_runs(tmp_path_factory):
    pytest.importorskip("torch.distributed.fsdp")
    root = tmp_path_factory.mktemp("fsdp")
    out = root / "out.json"
    torchrun(SCRIPT, root, out, timeout=400)
    return root, json.loads(out.read_text())


@pytest.mark.parametrize("variant", VARIANTS)
def test_merged_shards_have_the_stats_of_the_whole_parameters(fsdp_runs, variant):
    root, result = fsdp_runs
    expected = result["results"][variant]
    with RunReader(root / f"{variant}.nnv3d") as reader:
        frames = [decode_probe(data) for _, _, kinds, data in reader.frames() if kinds]
    assert [h["step"] for h, _ in frames] == list(range(len(expected)))
    checked = 0
    for step, (header, arrays) in enumerate(frames):
        for kind in ("weight", "grad"):
            info = header["kinds"][kind]
            assert info["modules"] == ["0", "2"]
            for row, module in enumerate(info["modules"]):
                want = expected[step][f"{kind}:{module}"]
                got = arrays[f"{kind}_stats"][row]
                np.testing.assert_allclose(
                    got[:6],
                    want["stats"][:6],
                    rtol=2e-5,
                    atol=1e-6,
                    err_msg=f"{variant} {kind} {module} step {step}",
                )
                assert arrays[f"{kind}_hist"][row].sum() == want["count"]
                checked += 1
        if step:  # the update ratio of the whole weights, not of rank 0's shard
            for row, module in enumerate(header["kinds"]["weight"]["modules"]):
                now = np.array(expected[step][f"weight:{module}"]["flat"])
                before = np.array(expected[step - 1][f"weight:{module}"]["flat"])
                ratio = np.linalg.norm(now - before) / np.linalg.norm(before)
                np.testing.assert_allclose(arrays["weight_update"][row], ratio, rtol=1e-4)
    assert checked == 4 * len(expected)


def test_weight_maps_are_whole_under_fsdp2_and_absent_under_fsdp1(fsdp_runs):
    root, _ = fsdp_runs
    with RunReader(root / "fsdp2.nnv3d") as reader:
        header, arrays = decode_probe(reader.at_step(0)[-1])
    shapes = {(m["module"], m["param"]): m["full_shape"] for m in header.get("matrices", [])}
    assert shapes[("0", "weight")] == [15, 12] and shapes[("2", "weight")] == [5, 15]
    assert shapes[("2", "bias")] == [5]
    with RunReader(root / "fsdp1.nnv3d") as reader:
        assert not any(decode_probe(d)[0].get("matrices") for d in reader.at_step(10))


def test_nested_fsdp1_reads_as_the_user_s_modules(fsdp_runs):
    """An auto-wrapped model shows the same topology as the plain one, without FSDP's
    ``_fsdp_wrapped_module`` levels, and its probes address the user's module paths."""
    root, _ = fsdp_runs
    with RunReader(root / "fsdp1.nnv3d") as one, RunReader(root / "fsdp1-nested.nnv3d") as nested:
        paths = [n.path for n in nested.graph().nodes]
        assert paths == [n.path for n in one.graph().nodes]
    assert not any("wrapped" in p for p in paths) and {"0", "2"} <= set(paths)


def test_wrapped_module_paths_are_cleaned():
    from nnviz3d.capture.wrapped import clean_path

    assert clean_path("layers.0._fsdp_wrapped_module.attn") == "layers.0.attn"
    assert clean_path("_fsdp_wrapped_module") == ""
    assert clean_path("a._checkpoint_wrapped_module.b") == "a.b"
    assert clean_path("my_wrapped_module_x.y") == "my_wrapped_module_x.y"


def test_group_takes_a_one_dimensional_mesh_only():
    from nnviz3d.live.distributed import process_group

    class Mesh:
        ndim = 2

        def get_group(self):
            return "pg"

    with pytest.raises(ValueError, match="1-D DeviceMesh"):
        process_group(Mesh())
    Mesh.ndim = 1
    assert process_group(Mesh()) == "pg" and process_group(None) is None


def test_fsdp1_without_orig_params_is_refused():
    from nnviz3d.live import distributed

    class FakeFSDP:
        _use_orig_params = False

    distributed_fsdp1 = distributed._fsdp1
    distributed._fsdp1 = lambda: (FakeFSDP,)
    try:
        with pytest.raises(ValueError, match="use_orig_params=True"):
            distributed.is_fsdp1(FakeFSDP())
    finally:
        distributed._fsdp1 = distributed_fsdp1
