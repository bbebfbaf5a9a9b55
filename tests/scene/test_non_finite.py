"""Overlay builders given NaN and infinite numbers: ranges come from the finite values only,
non-finite cells are the "missing" grey with no height or place, and nothing raises or warns."""

import warnings

import numpy as np
import pytest

from nnviz3d.scene import colormaps
from nnviz3d.scene.embedding_cloud import embedding_cloud, thumbnails
from nnviz3d.scene.histogram_ridge import histogram_ridge
from nnviz3d.scene.landscape_surface import landscape_surface
from nnviz3d.scene.param_scatter import param_scatter
from nnviz3d.scene.weight_map import bias_bars, weight_grid

MISSING = list(colormaps.MISSING)


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_weight_grid_with_nan_and_inf_keeps_a_finite_range():
    v = np.array([[1.0, np.nan], [np.inf, -2.0]], np.float32)
    o = weight_grid("fc", v, full_shape=[2, 2], method="none")
    assert (o.legend["lo"], o.legend["hi"]) == (-2.0, 2.0)
    assert o.arrays["colors"][0, 1].tolist() == MISSING == o.arrays["colors"][1, 0].tolist()
    assert np.isfinite(o.arrays["heights"]).all() and o.arrays["heights"][1, 0] == 0
    bars = bias_bars("fc", np.array([np.nan, -np.inf, 3.0]), full_shape=[3], method="none")
    assert bars.legend["hi"] == 3.0 and np.isfinite(bars.arrays["heights"]).all()


def test_a_pca_scatter_with_an_infinite_weight_keeps_a_finite_colour_range():
    m = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    m[2, 1] = np.inf
    o = param_scatter("fc", m, full_shape=[6, 4], method="none")
    assert np.isfinite([o.legend["lo"], o.legend["hi"]]).all()
    assert np.isfinite(o.arrays["positions"]).all()
    assert o.arrays["colors"][2].tolist() == MISSING  # the unit whose norm is Inf
    assert o.arrays["colors"][0].tolist() != MISSING


def test_nan_embedding_points_sit_at_the_centre_in_grey():
    p = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    p[1, 2] = np.nan
    p[3, 0] = -np.inf
    o = embedding_cloud("fc", p, labels=[0, 1, 2, 1, 0], method="pca", step=3)
    assert np.isfinite(o.arrays["positions"]).all()
    assert o.arrays["positions"][1].tolist() == [0, 0, 0]
    assert o.arrays["colors"][1].tolist() == MISSING == o.arrays["colors"][3].tolist()
    assert o.meta["nonfinite_points"] == 2
    unlabelled = embedding_cloud("fc", p, method="pca", step=3)
    assert unlabelled.arrays["colors"][3].tolist() == MISSING


def test_nan_class_labels_are_missing_not_a_huge_class():
    colors, legend = colormaps.categorical(np.array([0.0, np.nan, 2.0, np.inf]))
    assert legend["classes"] == [0, 2]
    assert colors[1].tolist() == MISSING == colors[3].tolist()


def test_thumbnails_of_nan_inputs():
    x = np.random.default_rng(0).normal(size=(3, 1, 4, 4)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    x[1, 0, 1, 1] = np.inf
    t = thumbnails(x)
    assert t.dtype == np.uint8 and t.max() == 255 and t[0, 0, 0] == 0
    assert (thumbnails(np.full((2, 4, 4), np.nan)) == 0).all()


def test_a_ridge_skips_steps_whose_range_is_nan():
    o = histogram_ridge(
        "fc", "weight", [0, 1, 2], np.ones((3, 64)), [[0.0, 1.0], [np.nan, np.nan], [-np.inf, 2.0]]
    )
    assert np.isfinite(o.arrays["edges"]).all() and np.isfinite(o.arrays["heights"]).all()
    assert o.arrays["values"][1].sum() == 0 and o.arrays["values"][0].sum() == 64
    all_nan = histogram_ridge("fc", "weight", [0], np.ones((1, 64)), [[np.nan, np.nan]])
    assert np.isfinite(all_nan.arrays["edges"]).all()


class Result:
    losses = np.array([[1.0, np.nan, 2.0], [np.inf, 0.5, 3.0], [1.0, 1.0, 1.0]])
    alphas = betas = np.array([-1.0, 0.0, 1.0])
    center_loss = float("nan")
    directions = "random"
    seconds = seconds_per_point = 0.1
    nonfinite = 2
    trajectory = None


def test_a_landscape_with_nan_cells_and_a_nan_centre():
    o = landscape_surface(Result())
    assert np.isfinite([o.legend["lo"], o.legend["hi"], o.meta["cap"], o.meta["min"]]).all()
    assert np.isfinite(o.arrays["heights"]).all() and o.arrays["heights"][0, 1] == 1.0
    assert o.arrays["colors"][0, 1].tolist() == MISSING
    assert np.isnan(o.meta["center_loss"]) and o.meta["directions"] == "random"


def test_one_nan_activation_does_not_spread_through_a_pooled_map():
    from nnviz3d.scene.activation_maps import activation_overlay, attention_overlay, pool_2d

    m = np.ones((300, 700), np.float32)
    m[0, 0] = np.nan
    m[5, 5] = np.inf
    pooled, _ = pool_2d(m)
    assert np.isfinite(pooled).all() and np.allclose(pooled, 1.0)  # mean of the finite values
    gone = np.full((300, 700), np.nan, np.float32)
    assert np.isnan(pool_2d(gone)[0]).all()
    o = activation_overlay("fc", np.where(np.arange(70_000) % 7, 1.0, np.nan))  # 1-D, pooled
    assert np.isfinite(o.arrays["values"]).all()
    assert np.isfinite([o.legend["lo"], o.legend["hi"]]).all()
    att = np.full((2, 4, 4), 0.25, np.float32)
    att[0, 0, 0] = np.inf
    a = attention_overlay("attn", att)
    assert a.legend["hi"] == 0.25 and a.arrays["colors"][0, 0, 0].tolist() == MISSING


def test_a_landscape_is_clipped_by_a_smooth_cap_not_a_plateau():
    from nnviz3d.scene.landscape_surface import soft_height

    class Steep(Result):
        losses = np.arange(100, dtype=np.float64).reshape(10, 10) ** 2  # a steep corner

    o = landscape_surface(Steep())
    h = o.arrays["heights"].ravel()
    assert o.meta["cap"] == np.percentile(Steep.losses, 90) and o.meta["clipped"] == 10
    # strictly increasing with the loss even above the colour top: no flat plateau
    assert (np.diff(h) > 0).all() and h.max() < 1.0
    top = o.arrays["colors"].reshape(-1, 3)
    assert (top[-10:] == top[-10]).all()  # values above the top share the top colour
    x = np.linspace(0, 3, 301)
    s = soft_height(x)
    assert np.allclose(s[x <= 0.75], x[x <= 0.75]) and np.all(np.diff(s) > 0)
    assert abs(np.gradient(s, x)[75] - 1.0) < 0.02  # the cap meets the line with its slope
