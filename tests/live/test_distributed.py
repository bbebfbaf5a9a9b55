"""watch under torch.distributed: 2 processes (gloo) train a DDP model; rank 0 records one
merged view whose statistics equal those of the gathered tensors; rank 1 serves nothing."""

import json
from pathlib import Path

import numpy as np
import pytest

from nnviz3d.live.distributed import merge
from nnviz3d.protocol.probe_frame import decode_probe
from nnviz3d.record import RunReader
from tests.live.torchrun import torchrun

SCRIPT = Path(__file__).with_name("ddp_train.py")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    record, out = root / "ddp.nnv3d", root / "out.json"
    torchrun(SCRIPT, record, out, timeout=300)
    return RunReader(record), json.loads(out.read_text())


def test_rank0_records_the_stats_of_the_gathered_tensors(ddp_run):
    reader, result = ddp_run
    assert result["world"] == 2 and result["servers"] == [True, False]
    frames = [decode_probe(data) for _, _, kinds, data in reader.frames() if kinds]
    assert [h["step"] for h, _ in frames] == [0, 1, 2]
    for step, (header, arrays) in enumerate(frames):
        for kind, info in header["kinds"].items():
            for row, module in enumerate(info["modules"]):
                want = result["expected"][step].get(f"{kind}:{module}")
                if want is None:
                    continue
                got = arrays[f"{kind}_stats"][row]
                np.testing.assert_allclose(
                    got[:6],
                    want["stats"][:6],
                    rtol=2e-5,
                    atol=1e-6,
                    err_msg=f"{kind} {module} step {step}",
                )
                if kind in ("weight", "grad"):  # equal ranges on both ranks: exact histograms
                    np.testing.assert_array_equal(
                        arrays[f"{kind}_hist"][row], np.array(want["hist"])
                    )
                else:
                    assert arrays[f"{kind}_hist"][row].sum() == sum(want["hist"])
    # the activations of rank 1 (12 rows) and rank 0 (8 rows) were both counted
    assert any("act" in h["kinds"] for h, _ in frames)


def test_merge_is_exact_for_stats_and_preserves_histogram_totals():
    import torch

    from nnviz3d.capture.probes import rows_stats
    from nnviz3d.live.distributed import _pack

    torch.manual_seed(0)
    parts = [torch.randn(1000) * 2 + 1, torch.randn(300) - 3, torch.zeros(50)]
    packed = [_pack(rows_stats([p])).numpy() for p in parts]
    merged = merge(packed, 64)
    whole = rows_stats([torch.cat(parts)])
    np.testing.assert_allclose(merged["stats"][0], whole["stats"][0].numpy(), rtol=1e-5, atol=1e-6)
    assert merged["hist"][0].sum() == 1350 and merged["count"][0] == 1350
