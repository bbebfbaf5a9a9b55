"""The fused one-pass statistics against a float64 torch reference (hypothesis), and the probes
that use them.

Stated tolerances (the fused results are float32, computed with float64 sums):
- min, max, counts (NaN, Inf, zeros), histograms and sample sizes: exactly equal;
- mean, std, L2 norm (as float32): within 1e-5 relative, with an absolute floor of 1e-6 x the
  largest finite magnitude (cancellation among wildly mixed magnitudes) plus float32's smallest
  subnormal step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from nnviz3d.capture import fused
from nnviz3d.capture.probes import HIST_SAMPLE, Probes, tensor_stats

BINS = 64

pytestmark = pytest.mark.skipif(not fused.start(wait=True), reason="numba is not installed")


def reference(tensors: list[torch.Tensor], sample: int = HIST_SAMPLE, bins: int = BINS):
    """The statistics of one row with torch ops in float64, as documented in probes.py."""
    x = torch.cat([t.reshape(-1) for t in tensors]).double()
    n = x.numel()
    fin = torch.isfinite(x)
    xf = x[fin]
    nf = xf.numel()
    if nf:
        mean, std = float(xf.mean()), float(xf.std(unbiased=False))
        lo, hi = float(xf.min()), float(xf.max())
    else:
        mean = std = lo = hi = 0.0
    stats = [
        mean,
        std,
        lo,
        hi,
        float(xf.norm()) if nf else 0.0,
        float((x == 0).sum()) / max(n, 1),
        float(torch.isnan(x).sum()),
        float(torch.isinf(x).sum()),
    ]
    stride = max(1, n // sample)
    s = x[::stride]
    sampled = s.numel()
    s = s[torch.isfinite(s)]
    hist = torch.zeros(bins, dtype=torch.int64)
    width = hi - lo
    if width > 0:
        idx = ((s - lo) * (bins / width)).clamp(0, bins - 1).long()
        hist = torch.bincount(idx, minlength=bins)
    elif s.numel():
        hist[bins // 2] = s.numel()
    return np.array(stats), hist.numpy(), sampled, n


def check_row(res: dict, row: int, tensors: list[torch.Tensor], sample: int = HIST_SAMPLE):
    stats, hist, sampled, n = reference(tensors, sample)
    got = res["stats"][row].double().numpy()
    finite = torch.cat([t.reshape(-1) for t in tensors]).double()
    finite = finite[torch.isfinite(finite)]
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    # exact: min, max (float32 values), zero fraction, NaN and Inf counts
    np.testing.assert_array_equal(got[[2, 3, 6, 7]], np.float32(stats[[2, 3, 6, 7]]))
    assert got[5] == pytest.approx(stats[5], rel=1e-6, abs=0)
    with np.errstate(over="ignore"):
        want = stats.astype(np.float32).astype(np.float64)  # the frame's float32 values
    for i in (0, 1, 4):  # mean, std, norm (a norm beyond float32's range is Inf in both)
        if np.isinf(want[i]):
            assert got[i] == want[i]
            continue
        tol = 1e-5 * abs(want[i]) + 1e-6 * scale + 2e-45  # 2e-45: float32's smallest step
        assert abs(got[i] - want[i]) <= tol, (i, got, stats)
    np.testing.assert_array_equal(res["hist"][row].numpy(), hist)
    assert int(res["sampled"][row]) == sampled
    assert int(res["count"][row]) == n
    assert int(res["hist"][row].sum()) == sampled - int(
        (~torch.isfinite(torch.cat([t.reshape(-1) for t in tensors])[:: max(1, n // sample)])).sum()
    )


FLOATS = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)


@st.composite
def rows_of_tensors(draw):
    """1-4 rows, each of 1-3 float32 tensors (some empty), with NaN, Inf, zeros, denormals,
    repeated values and wide ranges."""
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        row = []
        for _ in range(draw(st.integers(1, 3))):
            n = draw(st.integers(0, 300))
            kind = draw(st.sampled_from(["any", "normal", "const", "tiny"]))
            if kind == "any":
                a = draw(arrays(np.float32, n, elements=FLOATS))
            elif kind == "normal":
                seed = draw(st.integers(0, 2**31))
                a = np.random.default_rng(seed).normal(0.5, 2.0, n).astype(np.float32)
            elif kind == "const":
                a = np.full(n, draw(st.sampled_from([0.0, 1.5, -3e38, 1e-45])), np.float32)
            else:  # denormals and zeros
                a = (np.random.default_rng(n).integers(0, 3, n) * 1e-45).astype(np.float32)
            row.append(torch.from_numpy(a))
        rows.append(row)
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=rows_of_tensors(),
    chunk=st.sampled_from([1, 3, 7, 64, fused.CHUNK]),
    parallel=st.booleans(),
)
def test_fused_rows_equal_the_float64_reference(rows, chunk, parallel):
    tensors = [t for row in rows for t in row]
    owner = [r for r, row in enumerate(rows) for _ in row]
    saved = fused.PARALLEL_MIN
    fused.PARALLEL_MIN = 0 if parallel else saved  # small inputs through the threaded pass too
    try:
        res = fused.RowPass(chunk=chunk).run(tensors, owner, len(rows), BINS, 37)
    finally:
        fused.PARALLEL_MIN = saved
    for r, row in enumerate(rows):
        check_row(res, r, row, sample=37)


@pytest.mark.parametrize(
    "case",
    ["single", "all_zeros", "all_nan", "inf_only", "denormals", "mixed", "non_contiguous"],
)
def test_fused_edge_cases(case):
    g = torch.Generator().manual_seed(1)
    x = {
        "single": torch.tensor([2.5]),
        "all_zeros": torch.zeros(50_000),
        "all_nan": torch.full((1000,), float("nan")),
        "inf_only": torch.tensor([float("inf"), -float("inf"), 1.0]),
        "denormals": torch.full((10_000,), 1e-40),
        "mixed": torch.cat([torch.randn(100_000, generator=g), torch.tensor([float("nan")] * 3)]),
        "non_contiguous": torch.randn(64, 32, 128, generator=g).transpose(0, 1),
    }[case]
    res = fused.RowPass(chunk=4096).run([x], [0], 1, BINS, HIST_SAMPLE)
    if case == "non_contiguous":  # read in memory order: same statistics, another sample
        stats, _, _, n = reference([x.contiguous()])
        got = res["stats"][0].double().numpy()
        np.testing.assert_allclose(got, stats, rtol=1e-5, atol=1e-7)
        assert int(res["hist"][0].sum()) == int(res["sampled"][0]) > 0
        return
    check_row(res, 0, [x])


def test_fused_hundred_million_elements():
    n = 100_000_000
    xd = torch.arange(1000, dtype=torch.float64) - 499.5
    x = xd.float().repeat(n // 1000)  # sums known exactly
    res = fused.RowPass().run([x], [0], 1, BINS, HIST_SAMPLE)
    got = res["stats"][0].double()
    assert got[0] == pytest.approx(0.0, abs=1e-6)
    assert got[1] == pytest.approx(float(xd.std(unbiased=False)), rel=1e-6)
    assert (got[2], got[3]) == (-499.5, 499.5)
    assert got[4] == pytest.approx(float((xd * xd).sum() * 100_000) ** 0.5, rel=1e-6)
    assert int(res["hist"][0].sum()) == int(res["sampled"][0]) == len(range(0, n, n // HIST_SAMPLE))


def test_torch_path_bins_like_the_reference():
    """Without numba the torch path gives the same histogram (both bin in float64)."""
    x = torch.randn(100_000, generator=torch.Generator().manual_seed(3))
    stats, hist, sampled, n = reference([x])
    s, h, r, k = tensor_stats(x)
    np.testing.assert_array_equal(h.numpy(), hist)
    assert k == sampled
    res = fused.RowPass().run([x], [0], 1, BINS, HIST_SAMPLE)
    np.testing.assert_array_equal(res["hist"][0].numpy(), h.numpy())
    np.testing.assert_allclose(res["stats"][0].numpy(), s.numpy(), rtol=1e-5)


def test_update_ratio_and_previous_weights():
    torch.manual_seed(0)
    w, b = torch.randn(300, 70), torch.randn(300)
    p = fused.RowPass(keep_prev=True, chunk=1000)
    first = p.run([w, b], [0, 0], 1, BINS, HIST_SAMPLE)
    assert torch.isnan(first["update"]).all() and "update_parts" not in first
    old = torch.cat([w.reshape(-1), b]).double()
    w += 0.01 * torch.randn(300, 70)
    w[0, 0] = 5.0
    new = torch.cat([w.reshape(-1), b]).double()
    second = p.run([w, b], [0, 0], 1, BINS, HIST_SAMPLE)
    want = float((new - old).norm() / old.norm())
    assert float(second["update"][0]) == pytest.approx(want, rel=1e-5)
    third = p.run([w, b], [0, 0], 1, BINS, HIST_SAMPLE)  # unchanged since the last call
    assert float(third["update"][0]) == 0.0
    w[1, 1] = float("nan")
    assert torch.isnan(p.run([w, b], [0, 0], 1, BINS, HIST_SAMPLE)["update"]).all()
    w[1, 1] = 1.0  # the previous weights held a NaN: still not a number
    assert torch.isnan(p.run([w, b], [0, 0], 1, BINS, HIST_SAMPLE)["update"]).all()
    assert float(p.run([w, b], [0, 0], 1, BINS, HIST_SAMPLE)["update"][0]) == 0.0


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(20, 64),
        nn.ReLU(),
        nn.Dropout(0.0),
        nn.Linear(64, 64),
        nn.Tanh(),
        nn.Linear(64, 5),
    )


def test_probes_take_the_fused_path_and_match_the_reference():
    model = _net()
    probes = Probes(model)
    probes.armed = True
    x = torch.randn(32, 20)
    model(x).square().mean().backward()
    w, g, a = probes.weights(), probes.grads(), probes.activations()
    for res, get in ((w, lambda p: p.detach()), (g, lambda p: p.grad)):
        for r, path in enumerate(res["modules"]):
            params = list(model.get_submodule(path).parameters(recurse=False))
            check_row(res, r, [get(p) for p in params])
    outs = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, k=k: outs.setdefault(k, o))
        for k, m in model.named_children()
    ]
    model(x)
    for h in hooks:
        h.remove()
    # the dropout at p=0 hands on the ReLU's tensor: its row is the ReLU's row
    assert a["modules"][1:3] == ["1", "2"]
    np.testing.assert_array_equal(a["stats"][1].numpy(), a["stats"][2].numpy())
    probes.armed = True
    model(x)
    a = probes.activations()
    for r, path in enumerate(a["modules"]):
        check_row(a, r, [outs[path].detach()])
    probes.close()


@pytest.mark.parametrize("shape", [(64, 512), (8, 16, 5, 5), (4, 7, 3), (3, 1)])
def test_dead_units_match_torch(shape):
    from nnviz3d.capture import probes

    g = torch.Generator().manual_seed(len(shape))
    out = torch.relu(torch.randn(shape, generator=g))
    unit_dim = 1 if out.dim() >= 3 else out.dim() - 1
    index = [slice(None)] * out.dim()
    index[unit_dim] = slice(0, None, 3)  # every third unit dead
    out[tuple(index)] = 0.0
    out.view(-1)[-1] = float("nan")  # NaN is not 0: that unit is alive
    quick = fused.dead_fraction(out)
    fused.ENABLED = False
    try:
        slow = float(probes.dead_fraction(out))
    finally:
        fused.ENABLED = True
    assert quick == pytest.approx(slow, abs=1e-7)
    flipped = out.transpose(0, -1)
    if not flipped.is_contiguous():
        assert fused.dead_fraction(flipped) is None  # torch's path


def test_every_step_gradient_norms_match_the_torch_sample():
    from nnviz3d.capture.grad_norms import GradNorms, layer_norms

    model = nn.Sequential(nn.Linear(300, 200), nn.ReLU(), nn.Linear(200, 3))
    model(torch.randn(16, 300)).sum().backward()
    mods = ["0", "2"]
    params = [list(model.get_submodule(m).parameters()) for m in mods]
    quick = GradNorms(mods, params).norms()
    assert "norm" in quick  # the fused kernel took it
    fused.ENABLED = False
    try:
        slow = GradNorms(mods, params).norms()
    finally:
        fused.ENABLED = True
    np.testing.assert_allclose(layer_norms(quick), layer_norms(slow), rtol=1e-5)
    assert quick["count"] == slow["count"] == [300 * 200 + 200, 200 * 3 + 3]
    model[0].weight.grad[0, 0] = float("nan")  # element 0 is in every sample
    assert np.isnan(layer_norms(GradNorms(mods, params).norms())[0])
