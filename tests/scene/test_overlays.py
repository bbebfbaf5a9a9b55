"""Overlay builders against numpy on known tensors: exact colours, bins that sum to the
element count, downsampling that is what it says."""

import numpy as np
import pytest
import torch

from nnviz3d.capture.probes import downsample_matrix, weight_matrix
from nnviz3d.scene import colormaps
from nnviz3d.scene.histogram_ridge import histogram_ridge, rebin
from nnviz3d.scene.param_scatter import param_scatter, pca_3d
from nnviz3d.scene.weight_map import bias_bars, kernel_tiles, weight_grid


def test_diverging_map_is_white_at_zero_and_symmetric():
    lut = colormaps.MAPS["diverging"][1]
    assert tuple(colormaps.colorize(np.array([0.0]), -2, 2)[0]) == tuple(lut[128]) or tuple(
        colormaps.colorize(np.array([0.0]), -2, 2)[0]
    ) == tuple(lut[127])
    ends = colormaps.colorize(np.array([-2.0, 2.0, 5.0, np.nan]), -2, 2)
    assert tuple(ends[0]) == (0x05, 0x30, 0x61) and tuple(ends[1]) == (0x67, 0x00, 0x1F)
    assert tuple(ends[2]) == tuple(ends[1])  # clamped
    assert tuple(ends[3]) == colormaps.MISSING


def test_weight_grid_colours_are_the_lut_rows_of_each_value():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 7)).astype(np.float32)
    w[2, 3] = 0.0
    o = weight_grid("fc", w, full_shape=[5, 7], method="none")
    a = np.abs(w).max()
    assert o.legend["lo"] == pytest.approx(-a) and o.legend["hi"] == pytest.approx(a)
    idx = np.rint((w.astype(np.float64) + a) / (2 * a) * 255).astype(int)
    np.testing.assert_array_equal(o.arrays["colors"], colormaps.MAPS["diverging"][1][idx])
    np.testing.assert_array_equal(o.arrays["values"], w)
    np.testing.assert_allclose(o.arrays["heights"], w / a, rtol=1e-6)
    assert np.abs(o.arrays["heights"]).max() == pytest.approx(1.0)


def test_all_zero_weights_are_white_not_a_division_by_zero():
    o = weight_grid("fc", np.zeros((2, 3)), full_shape=[2, 3], method="none")
    assert np.isfinite(o.arrays["heights"]).all()
    assert len({tuple(c) for c in o.arrays["colors"].reshape(-1, 3)}) == 1


def test_downsampling_is_block_means_as_stated():
    w = torch.arange(512 * 300, dtype=torch.float32).reshape(512, 300)
    data, method = downsample_matrix(w)
    assert (
        tuple(data.shape) == (256, 256) and "adaptive average pooling 512x300 -> 256x256" in method
    )
    # rows pool in exact pairs: row 0 of the result is the mean of rows 0-1 over its columns
    cols = [(j * 300) // 256 for j in range(256)]
    ends = [-(-((j + 1) * 300) // 256) for j in range(256)]
    expect = np.array([w[0:2, c:e].mean().item() for c, e in zip(cols, ends)])
    np.testing.assert_allclose(data[0].float().numpy(), expect, rtol=1e-3)


def test_conv_kernels_are_tiled_out_by_in_with_gaps():
    w = torch.randn(4, 3, 2, 5)
    m = weight_matrix(w)
    assert m["layout"] == "tiles" and m["kernel"] == [2, 5]
    img = kernel_tiles(m["data"].float().numpy(), 3, (2, 5))
    assert img.shape == (4 * 3 - 1, 3 * 6 - 1)
    for o in range(4):
        for i in range(3):
            np.testing.assert_allclose(
                img[o * 3 : o * 3 + 2, i * 6 : i * 6 + 5], w[o, i].half().float()
            )
    assert np.isnan(img[2, :]).all() and np.isnan(img[:, 5]).all()


def test_large_convs_fall_back_to_the_pooled_matrix():
    m = weight_matrix(torch.randn(256, 128, 3, 3))
    assert "layout" not in m and tuple(m["data"].shape) == (256, 256)


def test_bias_bars_heights_and_colours():
    b = np.array([-0.5, 0.0, 0.25, 1.0], np.float32)
    o = bias_bars("fc", b, full_shape=[4], method="none")
    np.testing.assert_allclose(o.arrays["heights"], b / 1.0)
    np.testing.assert_array_equal(o.arrays["colors"], colormaps.colorize(b, -1, 1))


def test_rebin_preserves_counts_and_is_exact_on_aligned_edges():
    hist = np.array([3, 0, 5, 2])
    same = rebin(hist, 0.0, 4.0, np.linspace(0, 4, 5))
    np.testing.assert_allclose(same, hist)
    wide = rebin(hist, 0.0, 4.0, np.linspace(-4, 4, 5))  # bins of width 2
    np.testing.assert_allclose(wide, [0, 0, 3, 7])
    assert rebin(np.array([7, 0]), 1.0, 1.0, np.linspace(0, 2, 3)).tolist() == [0, 7]


def test_ridge_rows_sum_to_the_counted_elements():
    rng = np.random.default_rng(1)
    steps, hists, ranges, n = [], [], [], []
    for t in range(6):
        x = rng.normal(loc=t * 0.3, scale=1 + t * 0.2, size=1000 + 10 * t)
        h, edges = np.histogram(x, bins=64)
        steps.append(t * 10)
        hists.append(h)
        ranges.append((edges[0], edges[-1]))
        n.append(x.size)
    o = histogram_ridge("fc", "weight", steps, hists, ranges)
    np.testing.assert_allclose(o.arrays["values"].sum(axis=1), n, rtol=1e-5)
    assert o.arrays["values"].shape == (6, 64) and o.arrays["heights"].max() == pytest.approx(1)
    assert o.arrays["edges"][0] == pytest.approx(min(r[0] for r in ranges), rel=1e-6)
    assert o.arrays["steps"].tolist() == steps
    # the mean moves right over training: so does each row's centre of mass
    centres = (o.arrays["values"] * (o.arrays["edges"][:-1] + o.arrays["edges"][1:]) / 2).sum(1)
    assert np.all(np.diff(centres / np.array(n)) > 0)


def test_pca_recovers_a_planar_layout_and_norm_colours():
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(20, 2)))[0].T  # two orthonormal directions in 20-D
    coeffs = rng.normal(size=(50, 2)) * [5.0, 1.0]
    rows = coeffs @ basis
    coords, ratio = pca_3d(rows)
    assert ratio[:2].sum() == pytest.approx(1.0) and ratio[2] == pytest.approx(0, abs=1e-12)
    centred = coeffs - coeffs.mean(0)
    # the first axis is the high-variance direction, up to sign
    assert abs(np.corrcoef(coords[:, 0], centred[:, 0])[0, 1]) > 0.999
    o = param_scatter("fc", rows, full_shape=[50, 20], method="none")
    assert np.abs(o.arrays["positions"]).max() == pytest.approx(1.0)
    np.testing.assert_allclose(o.arrays["values"], np.linalg.norm(rows, axis=1), rtol=1e-5)
