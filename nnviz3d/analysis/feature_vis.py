"""Feature visualisation: an input optimised to excite one unit (Olah et al., "Feature
Visualization", Distill 2017; the Lucid idiom).

The objective is the mean activation of channel ``unit`` of a layer's output: channel is dim 1,
averaged over every other dim but the batch (a conv layer: the mean over H, W of that channel; a
linear layer: that unit). The input is optimised with Adam under Lucid's regularisers:

* **jitter**: the image is rolled by up to ``jitter`` pixels along H and W at each step;
* **Fourier parameterisation** (``param="fourier"``): the image is the inverse real FFT of a
  learned spectrum scaled by 1/f (frequency floored at 1/max(H, W)), which decorrelates pixels
  so that high frequencies do not dominate; with 3 channels the colours are also decorrelated
  with Lucid's ImageNet colour matrix. ``param="pixel"`` learns the pixels directly (baseline);
* a **sigmoid** maps the result into the model's input range ``value_range`` (default [0, 1]).

The model is left as found: eval mode during the optimisation (then every module's flag is
restored), parameters frozen (``requires_grad`` restored after), no ``.grad`` left, hooks
removed. The forward pass stops at the layer, so later layers cost nothing. Seeds use a private
``torch.Generator``: the global RNG, and so a training loop's, is not disturbed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .saliency import OutputCapture, model_untouched, resolve_layer

RANDOM_INPUTS = 32
# Lucid's ImageNet colour-correlation square root, columns normalised to a max norm of 1
_COLOUR = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
_COLOUR /= np.linalg.norm(_COLOUR, axis=0).max()


@dataclass
class FeatureVis:
    """An input that excites one unit, and how strongly compared with random inputs."""

    image: np.ndarray
    """float32, the input shape without the batch, values in ``value_range``."""
    activation: float
    """The objective (mean activation of the unit) for ``image``, without jitter."""
    random_activation: float
    """The mean objective over 32 uniform random inputs in ``value_range`` (drawn from ``seed``)."""
    ratio: float
    """``1 + (activation - random) / |random|``: equal to ``activation / random`` when random > 0;
    when random < 0 the same difference-based margin (how many |random| above random, plus 1);
    random == 0 gives inf if activation > 0 (1.0 if it is 0 too)."""
    steps: int
    """Optimisation steps run."""
    seconds: float
    """Wall time of the whole visualisation."""
    layer: str = ""
    """Dotted path of the layer."""
    unit: int = 0
    """Channel (or unit) index."""
    param: str = "fourier"
    """``"fourier"`` or ``"pixel"``."""


def margin_ratio(activation: float, random_activation: float) -> float:
    """``activation / random`` for random > 0, the difference-based margin otherwise (see
    :attr:`FeatureVis.ratio`)."""
    diff = activation - random_activation
    if random_activation == 0:
        return float("inf") if diff > 0 else (1.0 if diff == 0 else float("-inf"))
    return 1.0 + diff / abs(random_activation)


def unit_objective(output: torch.Tensor, unit: int) -> torch.Tensor:
    """Per-sample mean activation of channel ``unit`` (dim 1) of a layer output: shape (N,)."""
    if output.ndim < 2:
        raise ValueError(f"the layer output has shape {tuple(output.shape)}; expected (N, C, ...)")
    if not 0 <= unit < output.shape[1]:
        raise ValueError(
            f"unit {unit} is not in [0, {output.shape[1]}) for a layer output of "
            f"shape {tuple(output.shape)}"
        )
    return output[:, unit].reshape(output.shape[0], -1).float().mean(1)


def _fourier(shape, gen, sd=0.01, decay_power=1.0):
    """Leaf spectrum and a function giving the (1, C, H, W) image, pre-sigmoid (Lucid fft_image)."""
    if len(shape) != 3:
        raise ValueError(f'param="fourier" needs an image input shape (C, H, W), got {shape}')
    c, h, w = shape
    freqs = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.rfftfreq(w)[None, :] ** 2)
    scale = torch.tensor(
        1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power, dtype=torch.float32
    )
    spectrum = torch.randn((2, 1, c, h, w // 2 + 1), generator=gen) * sd
    colour = torch.from_numpy(_COLOUR) if c == 3 else None

    def image(spectrum, scale=scale, colour=colour):
        spec = torch.complex(spectrum[0], spectrum[1]) * scale.to(spectrum.device)
        img = torch.fft.irfft2(spec, s=(h, w), norm="ortho") / 4.0  # Lucid's "magic" 4
        if colour is not None:
            img = torch.einsum("dc,nchw->ndhw", colour.to(img.device), img)
        return img

    return spectrum, image


def _pixel(shape, gen, sd=0.01):
    """Leaf pixels and the identity: the plain baseline (Lucid pixel_image)."""
    return torch.randn((1, *shape), generator=gen) * sd, lambda pixels: pixels


PARAMS = {"fourier": _fourier, "pixel": _pixel}


def _input_shape(input_shape) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4 and shape[0] == 1:
        shape = shape[1:]
    if not shape or min(shape) < 1:
        raise ValueError(
            f"input_shape must be one input's shape, e.g. (1, 8, 8); got {tuple(input_shape)}"
        )
    return shape


def _device_dtype(model: nn.Module):
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def visualise_unit(
    model: nn.Module,
    layer: nn.Module | str,
    unit: int,
    input_shape,
    *,
    steps: int = 256,
    lr: float = 0.05,
    seed: int = 0,
    jitter: int = 1,
    param: str = "fourier",
    value_range: tuple[float, float] = (0.0, 1.0),
    progress: Callable[[int, int, float], None] | None = None,
) -> FeatureVis:
    """Optimise an input that maximises the mean activation of channel ``unit`` of ``layer``.

    ``layer``: a module of ``model`` or its dotted path. ``input_shape``: one input's shape
    without the batch, e.g. (1, 8, 8) (a leading batch of 1 is dropped). ``jitter``: the most
    pixels the image is rolled by per step (0: none). ``param``: ``"fourier"`` or ``"pixel"``.
    ``progress(step, steps, objective)`` is called after each step when given.
    """
    if param not in PARAMS:
        raise ValueError(f"unknown param {param!r}; expected one of {tuple(PARAMS)}")
    name, module = resolve_layer(model, layer)
    shape = _input_shape(input_shape)
    lo, hi = (float(v) for v in value_range)
    device, dtype = _device_dtype(model)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    leaf, to_image = PARAMS[param](shape, gen)
    leaf = leaf.to(device).requires_grad_(True)

    def render():
        return (lo + (hi - lo) * torch.sigmoid(to_image(leaf))).to(dtype)

    with (
        model_untouched(model, freeze=True),
        OutputCapture(module, stop=True) as capture,
        torch.inference_mode(False),
        torch.enable_grad(),
    ):
        opt = torch.optim.Adam([leaf], lr=lr)
        for step in range(steps):
            img = render()
            if jitter and img.ndim >= 3:
                dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist()
                img = torch.roll(img, (dy, dx), dims=(-2, -1))
            objective = unit_objective(capture.run(model, img), unit).mean()
            opt.zero_grad(set_to_none=True)
            (-objective).backward()
            opt.step()
            if progress is not None:
                progress(step + 1, steps, float(objective.detach()))
        with torch.no_grad():
            image = render()
            activation = float(unit_objective(capture.run(model, image), unit).mean())
            # a generator of its own: the same random inputs whatever param, steps or jitter
            noise_gen = torch.Generator().manual_seed(seed)
            noise = lo + (hi - lo) * torch.rand((RANDOM_INPUTS, *shape), generator=noise_gen)
            random_activation = float(
                unit_objective(capture.run(model, noise.to(device, dtype)), unit).mean()
            )
    return FeatureVis(
        image[0].float().cpu().numpy(),
        activation,
        random_activation,
        margin_ratio(activation, random_activation),
        steps,
        time.perf_counter() - start,
        name,
        int(unit),
        param,
    )


class FeatureVisCache:
    """A bounded (LRU) cache of :func:`visualise_unit` results keyed by (layer, unit, step), so
    a viewer that asks again within one training step gets the same :class:`FeatureVis`.

    The options (``input_shape`` and :func:`visualise_unit`'s keywords) are fixed per cache, so
    the key says everything. Thread-safe; two threads missing the same key at once may both
    compute it (the last one is kept).
    """

    def __init__(self, input_shape, maxsize: int = 64, **options) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.input_shape, self.maxsize, self.options = input_shape, maxsize, options
        self._items: OrderedDict[tuple[str, int, int], FeatureVis] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: nn.Module, layer: nn.Module | str, unit: int, step: int) -> FeatureVis:
        """The visualisation of ``unit`` of ``layer`` at training ``step``, computed once."""
        key = (resolve_layer(model, layer)[0], int(unit), int(step))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        vis = visualise_unit(model, layer, unit, self.input_shape, **self.options)
        with self._lock:
            self._items[key] = vis
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return vis

    def __contains__(self, key) -> bool:
        with self._lock:
            return tuple(key) in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._items.clear()
