"""Probe values against numpy on known tensors, NaN/Inf and all-zero ones included."""

import numpy as np
import pytest
import torch
from torch import nn

from nnviz3d.capture.probes import Probes, downsample_matrix, segment_ids, segment_stats
from nnviz3d.protocol import HIST_BINS


def reference(x: np.ndarray):
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        finite = np.zeros(0)
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    stats = [
        finite.mean() if finite.size else 0,
        finite.std() if finite.size else 0,
        lo,
        hi,
        np.sqrt((finite.astype(np.float64) ** 2).sum()),
        (x == 0).mean(),
        np.isnan(x).sum(),
        np.isinf(x).sum(),
    ]
    with np.errstate(over="ignore"):
        spans = hi > lo and np.isfinite(np.float32(hi) - np.float32(lo))
    hist = np.histogram(finite, HIST_BINS, (lo, hi))[0] if spans else None
    with np.errstate(over="ignore"):
        return np.array(stats, np.float64).astype(np.float32), hist  # the wire carries f4


TENSORS = [
    np.random.default_rng(0).normal(size=5000).astype(np.float32),
    np.array([1, 2, 3, 0, np.nan, np.inf, -np.inf, -1, 5], np.float32),
    np.zeros(37, np.float32),
    np.array([np.nan, np.nan], np.float32),
    np.random.default_rng(1).uniform(-1e3, 1e3, size=777).astype(np.float32),
    np.array([7.5], np.float32),
    np.array([3e38, -3e38, 1.0, np.nan], np.float32),  # a range that overflows float32
]


def test_segment_stats_match_numpy():
    flat = torch.from_numpy(np.concatenate(TENSORS))
    seg = segment_ids([t.size for t in TENSORS], "cpu")
    res = segment_stats(flat, seg, len(TENSORS))
    for i, t in enumerate(TENSORS):
        want, hist = reference(t)
        np.testing.assert_allclose(
            res["stats"][i].numpy(), want, rtol=2e-4, atol=1e-4, err_msg=f"tensor {i}"
        )
        if hist is not None:
            got = res["hist"][i].numpy()
            assert got.sum() == np.isfinite(t).sum()
            # bin edges agree except for float rounding at an edge: allow a shuffle of 1%
            assert np.abs(got - hist).sum() <= max(2, 0.01 * t.size), i
        else:
            assert res["hist"][i].sum() == np.isfinite(t).sum()


def test_weights_grads_activations_and_update_ratio():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    probes = Probes(model)
    probes.armed = True
    x = torch.randn(4, 6)
    model(x).sum().backward()
    w = probes.weights()
    assert w["modules"] == ["0", "2"]
    flat0 = torch.cat([model[0].weight.reshape(-1), model[0].bias]).detach().numpy()
    np.testing.assert_allclose(w["stats"][0].numpy(), reference(flat0)[0], rtol=1e-5, atol=1e-6)
    assert torch.isnan(w["update"]).all()  # no previous capture yet
    g = probes.grads()
    gflat = torch.cat([model[2].weight.grad.reshape(-1), model[2].bias.grad]).numpy()
    np.testing.assert_allclose(g["stats"][1].numpy(), reference(gflat)[0], rtol=1e-5, atol=1e-6)
    a = probes.activations()
    assert a["modules"] == ["0", "1", "2"]
    relu_out = torch.relu(model[0](x)).detach().numpy()
    np.testing.assert_allclose(a["stats"][1, 5].item(), (relu_out == 0).mean(), rtol=1e-6)
    before = model[2].weight.detach().clone(), model[2].bias.detach().clone()
    with torch.no_grad():
        model[2].weight.mul_(1.1)
        model[2].bias.mul_(1.1)
    w2 = probes.weights()
    assert w2["update"][1].item() == pytest.approx(0.1, rel=1e-4)
    assert w2["update"][0].item() == pytest.approx(0.0, abs=1e-7)
    assert before[0].shape == model[2].weight.shape
    probes.close()


def test_close_removes_hooks_and_model_is_unchanged():
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    x = torch.randn(2, 3)
    out = model(x)
    probes = Probes(model)
    probes.armed = True
    model(x)
    probes.close()
    assert all(not m._forward_hooks for m in model.modules())
    assert torch.equal(model(x), out)


def test_downsample_matrix_states_its_method():
    small, how = downsample_matrix(torch.ones(10, 3, 3, 3))
    assert small.shape == (10, 27) and small.dtype == torch.float16 and how.startswith("none")
    big, how = downsample_matrix(torch.arange(1024 * 600, dtype=torch.float32).view(1024, 600))
    assert big.shape == (256, 256) and "adaptive average pooling 1024x600 -> 256x256" == how


def test_weight_matrices_beyond_float16_keep_their_values():
    from nnviz3d.capture.probes import weight_matrix

    w = torch.zeros(4, 3)
    w[1, 2] = 1e6  # float16 would turn this into Inf
    big = weight_matrix(w)["data"]
    assert torch.isfinite(big).all() and float(big.max()) == 1e6
    assert weight_matrix(torch.ones(4, 3))["data"].dtype == torch.float16
