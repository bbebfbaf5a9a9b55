"""Saliency on models whose answer depends only on known pixels (built by hand, and one trained),
and the promise that computing a saliency map leaves the model exactly as it was."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnviz3d.analysis.saliency import (
    grad_cam,
    gradient_x_input,
    last_conv_layer,
    saliency,
    vanilla_gradient,
)
from nnviz3d.zoo import DigitsCNN

PATCH = np.zeros((8, 8), bool)
PATCH[2:4, 5:7] = True  # the only pixels the class-1 score reads


def mass_on(smap: np.ndarray, region: np.ndarray) -> float:
    """Share of the saliency mass (sum of |map| over the batch) inside ``region``."""
    a = np.abs(smap)
    return float(a[:, region].sum() / a.sum())


def patch_model() -> nn.Module:
    """Class 1's logit: a weighted sum of a 2x2 patch (both channels); class 0 reads every pixel."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 64, 2))
    with torch.no_grad():
        weight = torch.randn(2, 2, 8, 8)
        weight[1, :, ~torch.from_numpy(PATCH)] = 0
        model[1].weight.copy_(weight.reshape(2, -1))
    return model


def inputs(n=6, c=2, seed=1):
    return torch.rand(n, c, 8, 8, generator=torch.Generator().manual_seed(seed)) + 0.1


@pytest.mark.parametrize("method", [vanilla_gradient, gradient_x_input])
def test_input_saliency_mass_falls_on_the_known_patch(method):
    model, x = patch_model(), inputs()
    s = method(model, x, target=1)
    assert s.map.shape == (6, 8, 8) and s.map.dtype == np.float32 and s.raw is None
    assert s.target == (1,) * 6
    assert mass_on(s.map, PATCH) >= 0.95  # measured 1.0: the other weights are exactly zero
    np.testing.assert_allclose(s.score, model(x)[:, 1].detach().numpy(), rtol=1e-5)
    assert s.lo == s.map.min() and s.hi == s.map.max()
    # class 0 reads every pixel: its mass on the patch is near chance (measured 0.06, 4/64)
    assert mass_on(method(model, x, target=0).map, PATCH) < 0.3


def test_gradient_reductions_over_channels():
    model, x = patch_model(), inputs()
    w = model[1].weight[1].detach().reshape(2, 8, 8)
    np.testing.assert_allclose(vanilla_gradient(model, x, 1).map[0], w.abs().amax(0), rtol=1e-6)
    np.testing.assert_allclose(
        gradient_x_input(model, x, 1).map[0], (w * x[0]).sum(0), rtol=1e-5, atol=1e-7
    )  # signed: the sum over channels


def test_trained_model_attends_to_the_pixels_that_decide_the_label():
    """Digits whose label is set only by the brightness of a 2x2 block pasted onto them."""
    from nnviz3d.data.digits import load_digits_tensors

    (x, _), (xv, _) = load_digits_tensors()
    gen = torch.Generator().manual_seed(0)

    def paste(x):
        x, v = x.clone(), torch.rand(len(x), generator=gen)
        x[:, 0, 2:4, 5:7] = v[:, None, None]
        return x, (v > 0.5).long()

    (x, y), (xv, yv) = paste(x), paste(xv)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(300):
        idx = torch.randint(0, len(y), (64,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (model(xv).argmax(1) == yv).float().mean() > 0.9  # measured 0.96
    # chance is 4/64 = 6 %; measured 0.30 (gradient) and 0.50 (gradient x input) of the mass
    assert mass_on(vanilla_gradient(model, xv[:50], 1).map, PATCH) > 0.18
    assert mass_on(gradient_x_input(model, xv[:50], 1).map, PATCH) > 0.3


class SpatialMask(nn.Module):
    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, x):
        return x * self.mask


def masked_conv_model():
    """conv (stride 2, 8x8 -> 4x4) -> ReLU -> mask (only the top-right 2x2 of the 4x4 map, i.e.
    input pixels rows 0-3, cols 4-7) -> mean pool -> linear; class 1 has positive weights."""
    torch.manual_seed(0)
    mask = torch.zeros(4, 4)
    mask[0:2, 2:4] = 1
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        SpatialMask(mask),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    with torch.no_grad():
        model[5].weight[1].abs_()
    return model, mask.bool().numpy()


def test_grad_cam_concentrates_on_the_region_that_decides_the_class():
    model, mask = masked_conv_model()
    x = inputs(c=1)
    assert last_conv_layer(model, x) == "2"  # the pool's (N, 8, 1, 1) output is skipped
    s = saliency(model, x, target=1, method="grad_cam")
    assert s.layer == "2" and s.raw.shape == (6, 4, 4) and s.map.shape == (6, 8, 8)
    assert s.map.sum() > 0 and s.lo >= 0
    assert mass_on(s.raw, mask) == pytest.approx(
        1.0, abs=1e-6
    )  # zero outside the region at the layer's resolution
    region = np.zeros((8, 8), bool)
    region[0:4, 4:8] = True
    # bilinear upsampling bleeds a little across the region's edge; measured 0.87
    assert mass_on(s.map, region) >= 0.8
    by_module = grad_cam(model, x, 1, layer=model[2])
    np.testing.assert_array_equal(by_module.map, s.map)


def test_grad_cam_on_a_linear_layer_is_a_clear_error():
    model, _ = masked_conv_model()
    with pytest.raises(ValueError, match=r"conv layer's \(N, C, H, W\) output"):
        grad_cam(model, inputs(c=1), 1, layer="5")
    with pytest.raises(ValueError, match="no module"):
        grad_cam(model, inputs(c=1), 1, layer="nope.0")
    with pytest.raises(ValueError, match="unknown saliency method"):
        saliency(model, inputs(c=1), method="occlusion")
    with pytest.raises(ValueError, match="not a class index"):
        saliency(model, inputs(c=1), target=2)


def hook_count(model):
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


def test_saliency_leaves_the_model_unchanged():
    torch.manual_seed(0)
    model = DigitsCNN().train()
    model.block.bn2.eval()  # mixed modes must come back as they were
    x = torch.rand(4, 1, 8, 8)
    model(x).sum().backward()  # the user's gradients, which must survive
    grads = {n: (p.grad, p.grad.clone()) for n, p in model.named_parameters()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = {n: m.training for n, m in model.named_modules()}
    hooks = hook_count(model)

    results = [saliency(model, x, method=m) for m in ("gradient", "gradient_x_input", "grad_cam")]
    with pytest.raises(ValueError):
        grad_cam(model, x, layer="head.1")  # fails after the forward pass: still restored

    assert results[2].layer == "down"
    predicted = tuple(model.eval()(x).argmax(1).tolist())  # evaluated in eval mode
    model.train()
    model.block.bn2.eval()
    assert all(r.target == predicted for r in results)
    for n, p in model.named_parameters():
        assert p.grad is grads[n][0] and torch.equal(p.grad, grads[n][1]) and p.requires_grad
    for k, v in model.state_dict().items():  # BatchNorm running stats and counters included
        assert torch.equal(v, state[k]), k
    assert {n: m.training for n, m in model.named_modules()} == modes
    assert hook_count(model) == hooks


def test_saliency_without_previous_gradients_leaves_none():
    model, x = patch_model(), inputs()
    saliency(model, x)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_saliency_on_the_model_device():
    model, mask = masked_conv_model()
    model = model.cuda()
    s = saliency(model, inputs(c=1), target=1, method="grad_cam")  # a CPU input is moved
    assert mass_on(s.raw, mask) == 1.0
