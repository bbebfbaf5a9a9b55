"""Saliency maps: which input pixels a class score depends on.

Three methods, each for a batch ``x`` (N, C, H, W) and one class per sample:

* ``gradient`` (vanilla gradient, Simonyan et al. 2014): |d score / d x|, reduced over channels
  by the **maximum** of the absolute value (non-negative map).
* ``gradient_x_input`` (Shrikumar et al. 2016): d score / d x * x, reduced over channels by the
  **sum** (a signed map: negative where a pixel speaks against the class).
* ``grad_cam`` (Selvaraju et al. 2017): the channel weights are the spatial mean of the gradient
  of the class score with respect to a conv layer's (N, C, H, W) output; the map is the ReLU of
  the weighted sum of that layer's channels, upsampled bilinearly to the input's (H, W).

The class score is the model's output (the logit, before any softmax) for the target class.
The model is left as it was found: it is evaluated in eval mode (so BatchNorm uses, and does not
update, its running statistics; dropout is off), every module's train/eval flag is restored,
gradients are taken with ``torch.autograd.grad`` with respect to the input or the layer output
only (so no parameter's ``.grad`` is written; it is put back regardless), and every hook is
removed, errors included.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

METHODS = ("gradient", "gradient_x_input", "grad_cam")


@dataclass
class Saliency:
    """One saliency map per sample of a batch."""

    method: str
    """``"gradient"``, ``"gradient_x_input"`` or ``"grad_cam"``."""
    target: tuple[int, ...]
    """The class explained, per sample (the predicted class where none was asked for)."""
    map: np.ndarray
    """float32 (N, H, W) at the input's spatial size ((N, D) for a flat (N, D) input)."""
    raw: np.ndarray | None
    """Grad-CAM only: float32 (N, h, w) at the layer's resolution, before upsampling."""
    score: np.ndarray
    """float32 (N,): the target class's score (model output, pre-softmax) per sample."""
    lo: float
    """Smallest value of ``map`` over the batch (for a colour scale)."""
    hi: float
    """Largest value of ``map`` over the batch."""
    layer: str | None = None
    """Grad-CAM only: the dotted path of the layer used."""


@contextmanager
def model_untouched(model: nn.Module, freeze: bool = False):
    """Run the body with ``model`` in eval mode, then restore what it changed.

    Restores every module's train/eval flag, every parameter's ``.grad`` (the same tensor
    object) and, with ``freeze=True`` (parameters set to ``requires_grad=False`` for the body),
    every parameter's ``requires_grad``. Errors included.
    """
    modes = [(m, m.training) for m in model.modules()]
    params = list(model.parameters())
    grads = [p.grad for p in params]
    flags = [p.requires_grad for p in params]
    model.eval()
    try:
        if freeze:
            for p in params:
                p.requires_grad_(False)
        yield model
    finally:
        for m, training in modes:
            m.training = training
        for p, grad, flag in zip(params, grads, flags):
            p.requires_grad_(flag)
            p.grad = grad


def resolve_layer(model: nn.Module, layer: nn.Module | str) -> tuple[str, nn.Module]:
    """``(dotted path, module)`` for a submodule given as a module or a dotted path."""
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError as exc:
            raise ValueError(f"no module {layer!r} in {type(model).__name__}") from exc
    for name, module in model.named_modules():
        if module is layer:
            return name, module
    raise ValueError(f"{type(layer).__name__} is not a submodule of {type(model).__name__}")


class OutputCapture:
    """A forward hook that keeps a module's (last) output tensor; use as a context manager."""

    def __init__(self, module: nn.Module, stop: bool = False) -> None:
        self.module, self.stop, self.output = module, stop, None
        self._handle = None

    def __enter__(self) -> Self:
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()

    def _hook(self, module, inputs, output) -> None:
        if isinstance(output, (tuple, list)) and output:
            output = output[0]
        if not isinstance(output, torch.Tensor):
            raise TypeError(
                f"{type(module).__name__} returns {type(output).__name__}, not a tensor"
            )
        self.output = output
        if self.stop:
            raise _Stop

    def run(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Run ``model(x)`` (up to the module when ``stop``) and return the module's output."""
        self.output = None
        try:
            model(x)
        except _Stop:
            pass
        if self.output is None:
            raise ValueError(f"{type(self.module).__name__} did not run in the forward pass")
        return self.output


class _Stop(Exception):
    """Raised by a stopping capture: nothing after the layer needs computing."""


def as_model_input(model: nn.Module, x) -> torch.Tensor:
    """``x`` (tensor or array, batch first) as a float tensor on the model's device."""
    x = torch.as_tensor(x)
    if x.ndim < 2:
        raise ValueError(
            f"x must be a batch (N, ...), e.g. (1, C, H, W); got shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise ValueError(f"saliency needs a floating-point input, got {x.dtype}")
    ref = next(itertools.chain(model.parameters(), model.buffers()), None)
    if ref is not None:
        x = x.to(ref.device, ref.dtype if ref.is_floating_point() else None)
    return x


def _class_scores(model: nn.Module, x: torch.Tensor, target: int | None):
    """Forward ``x`` (made to require grad); return (x, targets (N,), scores (N,))."""
    x = x.detach().clone().requires_grad_(True)
    out = model(x)
    if hasattr(out, "logits"):
        out = out.logits
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"saliency needs class scores of shape (N, classes); the model returns {shape}"
        )
    if target is None:
        targets = out.detach().argmax(1)
    else:
        if not 0 <= int(target) < out.shape[1]:
            raise ValueError(f"target {target} is not a class index in [0, {out.shape[1]})")
        targets = torch.full((out.shape[0],), int(target), dtype=torch.long, device=out.device)
    return x, targets, out.gather(1, targets[:, None]).squeeze(1)


@contextmanager
def _grad_enabled():
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _result(method, targets, smap, scores, raw=None, layer=None) -> Saliency:
    smap = smap.detach().float().cpu().numpy()
    return Saliency(
        method,
        tuple(int(t) for t in targets.tolist()),
        smap,
        None if raw is None else raw.detach().float().cpu().numpy(),
        scores.detach().float().cpu().numpy(),
        float(smap.min()),
        float(smap.max()),
        layer,
    )


def _input_gradient(model, x, target):
    with model_untouched(model), _grad_enabled():
        x, targets, scores = _class_scores(model, as_model_input(model, x), target)
        (grad,) = torch.autograd.grad(scores.sum(), x)
    return x.detach(), grad, targets, scores


def vanilla_gradient(model: nn.Module, x, target: int | None = None) -> Saliency:
    """|d score / d x|, max over channels: float32 (N, H, W). ``target=None``: predicted class."""
    x, grad, targets, scores = _input_gradient(model, x, target)
    smap = grad.abs().amax(1) if grad.ndim >= 3 else grad.abs()
    return _result("gradient", targets, smap, scores)


def gradient_x_input(model: nn.Module, x, target: int | None = None) -> Saliency:
    """d score / d x * x, summed over channels (signed): float32 (N, H, W)."""
    x, grad, targets, scores = _input_gradient(model, x, target)
    smap = (grad * x).sum(1) if grad.ndim >= 3 else grad * x
    return _result("gradient_x_input", targets, smap, scores)


def grad_cam(
    model: nn.Module, x, target: int | None = None, layer: nn.Module | str | None = None
) -> Saliency:
    """Grad-CAM at ``layer`` (a module or dotted path; None: :func:`last_conv_layer`).

    ``map`` is upsampled bilinearly to x's (H, W); ``raw`` is at the layer's resolution.
    """
    x = as_model_input(model, x)
    if x.ndim != 4:
        raise ValueError(
            f"Grad-CAM upsamples to the input's (H, W); x must be (N, C, H, W), "
            f"got shape {tuple(x.shape)}"
        )
    name, module = resolve_layer(model, layer if layer is not None else last_conv_layer(model, x))
    with model_untouched(model), _grad_enabled(), OutputCapture(module) as capture:
        x, targets, scores = _class_scores(model, x, target)
        act = capture.output
        if act is None:
            raise ValueError(f"layer {name!r} did not run in the forward pass")
        if act.ndim != 4:
            raise ValueError(
                f"Grad-CAM needs a conv layer's (N, C, H, W) output; layer {name!r} "
                f"gives shape {tuple(act.shape)}"
            )
        (grad,) = torch.autograd.grad(scores.sum(), act, allow_unused=True)
    if grad is None:
        raise ValueError(f"the class score does not depend on layer {name!r}")
    weights = grad.mean((2, 3), keepdim=True)
    raw = torch.relu((weights * act.detach()).sum(1))
    smap = F.interpolate(
        raw[:, None], size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False
    )[:, 0]
    return _result("grad_cam", targets, smap, scores, raw, name)


def last_conv_layer(model: nn.Module, x) -> str:
    """Dotted path of the last module (in the order modules finish) returning a 4-D
    (N, C, H, W) feature map with more than one spatial position: a global pool's
    (N, C, 1, 1) output is skipped, since Grad-CAM at 1x1 is a constant map."""
    found: list[str] = []

    def hook(name):
        def record(module, inputs, output):
            if (
                isinstance(output, torch.Tensor)
                and output.ndim == 4
                and output.shape[-2] * output.shape[-1] > 1
            ):
                found.append(name)

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    try:
        with model_untouched(model), torch.no_grad():
            model(as_model_input(model, x))
    finally:
        for handle in handles:
            handle.remove()
    if not found:
        raise ValueError(
            "no module returns an (N, C, H, W) feature map; Grad-CAM needs a conv layer"
        )
    return found[-1]


def saliency(
    model: nn.Module,
    x,
    target: int | None = None,
    method: str = "gradient",
    layer: nn.Module | str | None = None,
) -> Saliency:
    """Saliency of ``target`` (None: the predicted class) for ``x`` by ``method``, one of
    ``"gradient"``, ``"gradient_x_input"``, ``"grad_cam"`` (``layer`` only for Grad-CAM; None
    picks the last module returning an (N, C, H, W) map, see :func:`last_conv_layer`)."""
    if method == "gradient":
        return vanilla_gradient(model, x, target)
    if method == "gradient_x_input":
        return gradient_x_input(model, x, target)
    if method == "grad_cam":
        return grad_cam(model, x, target, layer)
    raise ValueError(f"unknown saliency method {method!r}; expected one of {METHODS}")
