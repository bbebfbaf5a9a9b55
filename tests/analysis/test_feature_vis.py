"""Feature visualisation on the demo CNN trained briefly on real digits: the optimised input
excites its unit far more than random inputs (and than any real digit), the model is left as it
was, and the per-step cache answers once per key."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnviz3d.analysis.feature_vis import FeatureVisCache, margin_ratio, visualise_unit
from nnviz3d.analysis.saliency import OutputCapture
from nnviz3d.zoo import DigitsCNN


@pytest.fixture(scope="module")
def trained():
    """DigitsCNN after 150 Adam steps (lr 3e-3, batch 64, seed 0) on the demo's digits (~1 s)."""
    from nnviz3d.data.digits import load_digits_tensors

    (x, y), (xv, _) = load_digits_tensors()
    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(0, len(y), (64,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), xv


def best_digit(model, layer, unit, xv):
    with OutputCapture(model.get_submodule(layer)) as capture, torch.no_grad():
        return capture.run(model, xv)[:, unit].mean((1, 2)).max().item()


@pytest.mark.parametrize("layer,unit", [("block", 2), ("head.2", 0)])
def test_optimised_input_excites_the_unit_far_more_than_random_inputs(trained, layer, unit):
    model, xv = trained
    vis = visualise_unit(model, layer, unit, (1, 8, 8))
    assert vis.image.shape == (1, 8, 8) and vis.image.dtype == np.float32
    assert 0 <= vis.image.min() and vis.image.max() <= 1
    assert vis.steps == 256 and vis.layer == layer and vis.param == "fourier"
    # measured: block/2 ratio 5.1 (4.1 vs 0.80), head.2/0 ratio 6.8 (14.9 vs 2.2)
    assert vis.ratio >= 3
    assert vis.ratio == pytest.approx(vis.activation / vis.random_activation)
    if layer == "block":  # and more than the best of 360 real digits (measured 1.97)
        assert vis.activation > 1.5 * best_digit(model, layer, unit, xv)


def test_fourier_is_comparable_to_pixel_at_equal_steps(trained):
    model, _ = trained
    fourier = visualise_unit(model, "block", 2, (1, 1, 8, 8), param="fourier")
    pixel = visualise_unit(model, "block", 2, (1, 8, 8), param="pixel")
    # measured 5.1 vs 5.5 here (same random baseline); over other channels either wins by <= 20 %
    assert fourier.ratio >= 0.7 * pixel.ratio and pixel.ratio >= 3


def hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_model_is_left_unchanged_and_seed_is_deterministic():
    torch.manual_seed(0)
    model = DigitsCNN().train()
    model.head[1].weight.requires_grad_(False)
    model(torch.rand(4, 1, 8, 8)).sum().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    hooks, rng = hook_count(model), torch.get_rng_state()
    calls = []

    a = visualise_unit(
        model, model.down, 1, (1, 8, 8), steps=20, progress=lambda *args: calls.append(args)
    )
    b = visualise_unit(model, "down", 1, (1, 8, 8), steps=20)
    with pytest.raises(ValueError, match="unit 99"):
        visualise_unit(model, "down", 99, (1, 8, 8), steps=2)

    np.testing.assert_array_equal(a.image, b.image)  # same seed, same picture
    assert [c[:2] for c in calls] == [(i, 20) for i in range(1, 21)]
    assert all(m.training for m in model.modules())
    assert {n: p.grad for n, p in model.named_parameters()} == grads
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert hook_count(model) == hooks
    assert torch.equal(torch.get_rng_state(), rng)  # the training loop's RNG is not disturbed


def test_linear_layer_of_a_flat_input_with_pixels():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 4))
    vis = visualise_unit(model, "0", 3, (64,), steps=64, lr=0.1, param="pixel")
    assert vis.image.shape == (64,) and vis.activation > vis.random_activation
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        visualise_unit(model, "0", 3, (64,), steps=2, param="fourier")


def test_margin_ratio_when_random_is_not_positive():
    assert margin_ratio(6.0, 2.0) == 3.0  # a plain ratio while random > 0
    assert margin_ratio(3.0, -1.0) == 5.0  # 1 + (3 - -1) / 1
    assert margin_ratio(-0.5, -1.0) == 1.5
    assert margin_ratio(1.0, 0.0) == float("inf") and margin_ratio(0.0, 0.0) == 1.0


def test_cache_answers_once_per_key_and_evicts_the_least_recent():
    torch.manual_seed(0)
    model = DigitsCNN().eval()
    cache = FeatureVisCache((1, 8, 8), maxsize=2, steps=3)
    first = cache.get(model, "down", 0, step=10)
    assert cache.get(model, model.down, 0, step=10) is first  # a module or its path: same key
    other = cache.get(model, "down", 0, step=11)  # the next training step: computed anew
    assert other is not first and len(cache) == 2
    cache.get(model, "down", 0, step=10)  # touch: step 11 is now the least recent
    cache.get(model, "down", 1, step=11)
    assert ("down", 0, 11) not in cache and ("down", 0, 10) in cache and len(cache) == 2
    assert cache.get(model, "down", 0, step=10) is first
