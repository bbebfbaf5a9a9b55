import numpy as np

from nnviz3d.scene import colormaps
from nnviz3d.scene.activation_maps import MAX_SLABS, activation_overlay, pool_2d, saliency_overlay


def test_feature_maps_become_slabs_with_a_sequential_scale_after_relu():
    a = np.abs(np.random.default_rng(0).normal(size=(5, 4, 3))).astype(np.float32)
    o = activation_overlay("conv", a)
    assert o.kind == "slabs" and o.arrays["values"].shape == (5, 4, 3)
    assert o.legend["colormap"] == "sequential" and o.legend["lo"] == 0
    np.testing.assert_array_equal(
        o.arrays["colors"], colormaps.colorize(a, 0, float(a.max()), "sequential")
    )


def test_signed_maps_diverge_and_many_channels_are_capped_and_said_so():
    a = np.random.default_rng(1).normal(size=(MAX_SLABS + 6, 2, 2)).astype(np.float32)
    o = activation_overlay("conv", a)
    assert o.legend["colormap"] == "diverging" and o.legend["lo"] == -o.legend["hi"]
    assert o.arrays["values"].shape[0] == MAX_SLABS
    assert o.meta["method"] == f"first {MAX_SLABS} of {MAX_SLABS + 6} channels"


def test_vectors_are_unit_grids_padded_with_nan():
    o = activation_overlay("fc", np.arange(10, dtype=np.float32))
    assert o.kind == "grid" and o.arrays["values"].shape == (3, 4)
    assert o.arrays["values"].reshape(-1)[:10].tolist() == list(range(10))
    assert np.isnan(o.arrays["values"].reshape(-1)[10:]).all()
    assert tuple(o.arrays["colors"][2, 3]) == colormaps.MISSING


def test_token_maps_pool_like_adaptive_average_pooling():
    import torch

    m = np.random.default_rng(2).normal(size=(300, 700)).astype(np.float32)
    pooled, method = pool_2d(m)
    ref = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(m)[None, None], (256, 256))[0, 0]
    np.testing.assert_allclose(pooled, ref.numpy(), rtol=1e-4, atol=1e-6)
    assert method == "average pooling 300x700 -> 256x256"


def test_saliency_overlay_keeps_the_method_and_class():
    o = saliency_overlay("input:x", np.ones((8, 8)), "gradient", 3)
    assert o.name == "saliency" and o.meta["target"] == 3 and "class 3" in o.legend["units"]


def test_landscape_surface_caps_outliers_and_keeps_the_bowl():
    from types import SimpleNamespace

    from nnviz3d.scene.landscape_surface import landscape_surface

    a = np.linspace(-1, 1, 11)
    losses = a[None, :] ** 2 + a[:, None] ** 2
    losses[0, 0] = 1e6  # one far corner
    result = SimpleNamespace(
        losses=losses,
        alphas=a,
        betas=a,
        center_loss=0.0,
        directions="test",
        seconds=1.0,
        seconds_per_point=0.01,
        nonfinite=0,
        trajectory=None,
    )
    o = landscape_surface(result)
    h = o.arrays["heights"]
    assert h[5, 5] == 0 and h.max() == 1 and np.isclose(h[0, 0], 1)
    assert o.meta["cap"] < 1e6  # the corner does not flatten the bowl
    assert h[5, 10] > h[5, 7] > h[5, 5]
