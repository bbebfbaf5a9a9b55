"""Loss landscapes (Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018).

The loss is evaluated on a 2-D plane through the trained weights ``w``: at ``w + a*d1 + b*d2``
for a grid of ``(a, b)``. The two directions are either random filter-normalised Gaussians
(Li et al. §4) or, when a training trajectory is given, its first two principal components
(Li et al. §7: random directions in high dimension are nearly orthogonal to the path that
training took, so the path would be invisible on a random plane).

Flat vectors (snapshots, directions) concatenate the parameters in
``model.named_parameters()`` order, as ``torch.nn.utils.parameters_to_vector`` does.
"""

from __future__ import annotations

import math
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

FORMAT = "nnviz3d-landscape"
FORMAT_VERSION = 1


class LandscapeFileError(ValueError):
    """A file that is not a landscape this version can read; the message says why."""


@dataclass
class Trajectory:
    """Training snapshots projected onto the landscape's plane."""

    coords: np.ndarray
    """N x 2 float64: each snapshot's (alpha, beta); the final weights are at (0, 0)."""
    losses: np.ndarray
    """N float64: the loss at each projected point (on the plane, so on the surface); NaN where
    non-finite."""
    explained_variance_ratio: np.ndarray
    """2 float64: the share of the trajectory's variance along each PCA direction."""


@dataclass
class Landscape:
    """A loss surface on a ``steps x steps`` grid around the weights."""

    alphas: np.ndarray
    """float64 grid coordinates along the first direction (the columns of ``losses``)."""
    betas: np.ndarray
    """float64 grid coordinates along the second direction (the rows of ``losses``)."""
    losses: np.ndarray
    """float64, ``len(betas) x len(alphas)``: ``losses[i, j]`` is the loss at
    ``w + alphas[j]*d1 + betas[i]*d2``. Non-finite losses are stored as NaN."""
    center_loss: float
    """The loss at the unperturbed weights (alpha = beta = 0)."""
    directions: str
    """How d1 and d2 were made, e.g. ``"filter-normalised Gaussian, seed 0"``."""
    seconds: float
    """Wall time of the grid evaluation."""
    seconds_per_point: float
    """``seconds`` divided by the number of grid points."""
    nonfinite: int = 0
    """How many grid points gave a NaN or infinite loss."""
    trajectory: Trajectory | None = None
    """The training path on the plane, when the directions came from one."""

    def minimum(self) -> tuple[float, float, float]:
        """``(loss, alpha, beta)`` of the lowest finite grid point; all NaN when there is none."""
        if np.isnan(self.losses).all():
            return math.nan, math.nan, math.nan
        i, j = np.unravel_index(np.nanargmin(self.losses), self.losses.shape)
        return float(self.losses[i, j]), float(self.alphas[j]), float(self.betas[i])

    def summary(self) -> dict:
        """A JSON-ready dict (non-finite numbers become None)."""
        loss, alpha, beta = self.minimum()
        finite = self.losses[np.isfinite(self.losses)]
        doc = {
            "steps": len(self.alphas),
            "span": float(self.alphas[-1]),
            "directions": self.directions,
            "center_loss": _json(self.center_loss),
            "min_loss": _json(loss),
            "min_at": [_json(alpha), _json(beta)],
            "max_loss": _json(finite.max()) if finite.size else None,
            "nonfinite": self.nonfinite,
            "seconds": self.seconds,
            "seconds_per_point": self.seconds_per_point,
            "trajectory": None,
        }
        if self.trajectory is not None:
            doc["trajectory"] = {
                "points": len(self.trajectory.coords),
                "explained_variance_ratio": self.trajectory.explained_variance_ratio.tolist(),
            }
        return doc

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (exactly at ``path``) with a format name and version."""
        arrays = {
            "format": np.array(FORMAT),
            "version": np.array(FORMAT_VERSION),
            "alphas": self.alphas,
            "betas": self.betas,
            "losses": self.losses,
            "center_loss": np.array(self.center_loss),
            "directions": np.array(self.directions),
            "seconds": np.array(self.seconds),
            "seconds_per_point": np.array(self.seconds_per_point),
            "nonfinite": np.array(self.nonfinite),
        }
        if self.trajectory is not None:
            arrays.update(
                trajectory_coords=self.trajectory.coords,
                trajectory_losses=self.trajectory.losses,
                trajectory_explained_variance_ratio=self.trajectory.explained_variance_ratio,
            )
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Landscape:
        """Read a file written by :meth:`save`; raises :class:`LandscapeFileError` otherwise."""
        what = f"{path} is not a loss landscape (an .npz written by nnviz3d landscape)"
        try:
            z = np.load(path, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise LandscapeFileError(f"{what}: it holds a single array")
            with z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise LandscapeFileError(f"no such file: {path}") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            if isinstance(exc, LandscapeFileError):
                raise
            raise LandscapeFileError(f"{what}: {exc}") from exc
        if str(data.get("format", "")) != FORMAT:
            raise LandscapeFileError(f"{what}: it has no '{FORMAT}' format key")
        version = int(data["version"])
        if version != FORMAT_VERSION:
            raise LandscapeFileError(
                f"{path} is landscape format version {version}; this "
                f"nnviz3d reads version {FORMAT_VERSION}"
            )
        trajectory = None
        if "trajectory_coords" in data:
            trajectory = Trajectory(
                data["trajectory_coords"],
                data["trajectory_losses"],
                data["trajectory_explained_variance_ratio"],
            )
        return cls(
            alphas=data["alphas"],
            betas=data["betas"],
            losses=data["losses"],
            center_loss=float(data["center_loss"]),
            directions=str(data["directions"]),
            seconds=float(data["seconds"]),
            seconds_per_point=float(data["seconds_per_point"]),
            nonfinite=int(data["nonfinite"]),
            trajectory=trajectory,
        )


def filter_normalised_direction(
    model: nn.Module, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """A random Gaussian direction, one tensor per parameter (``named_parameters()`` order).

    Each filter (a slice along dim 0 of a parameter with 2 or more dimensions: a conv output
    channel, a row of a linear weight) is rescaled to the norm of the same filter of the
    weights. As in Li et al., biases and other 1-D parameters (BatchNorm/LayerNorm scales and
    shifts) get direction 0: perturbing them is not informative and their scale differs from
    the filters'. Draws on the CPU from ``generator``, then moves to each parameter's device.
    """
    directions = []
    for _, p in model.named_parameters():
        w = p.detach()
        if w.dim() <= 1:
            directions.append(torch.zeros_like(w))
            continue
        d = torch.randn(w.shape, generator=generator, dtype=torch.float64)
        w64 = w.to("cpu", torch.float64).flatten(1)
        d = d.flatten(1)
        d *= (w64.norm(dim=1) / (d.norm(dim=1) + 1e-10)).unsqueeze(1)
        directions.append(d.reshape(w.shape).to(w.device, w.dtype))
    return directions


@dataclass
class PCADirections:
    """The plane of a training trajectory (Li et al. §7)."""

    vectors: np.ndarray
    """2 x P float64 unit vectors: the first two principal components of the trajectory."""
    explained_variance_ratio: np.ndarray
    """2 float64: the share of the trajectory's variance each component explains."""


def project_trajectory(snapshots: Sequence, final) -> tuple[np.ndarray, PCADirections]:
    """Project a training trajectory onto its own two principal directions (Li et al. §7).

    ``snapshots`` are state dicts or flat parameter vectors; ``final`` (the weights the
    landscape is centred on) is a state dict, a flat vector or an ``nn.Module`` (its
    parameters). With a dict ``final``, its floating-point entries name what is compared: pass
    ``dict(model.named_parameters())`` to leave buffers out. PCA runs on the (centred) rows
    ``w_i - w_final``; the coordinates are the uncentred projections, so ``final`` sits at
    (0, 0). Each direction's sign is chosen so the first snapshot has a coordinate >= 0.

    Returns ``(coords N x 2, PCADirections)``.
    """
    if isinstance(final, nn.Module):
        final = dict(final.named_parameters())
    names = None
    if isinstance(final, Mapping):
        names = [k for k, v in final.items() if torch.is_tensor(v) and v.is_floating_point()]
    w_final = _flat(final, names, "final")
    if len(snapshots) < 2:
        raise ValueError(f"a trajectory needs at least 2 snapshots, got {len(snapshots)}")
    rows = []
    for i, snap in enumerate(snapshots):
        w = _flat(snap, names, f"snapshot {i}")
        if w.shape != w_final.shape:
            raise ValueError(
                f"snapshot {i} has {w.size} values; the final weights have {w_final.size}"
            )
        rows.append(w - w_final)
    diffs = np.stack(rows)
    centred = diffs - diffs.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    total = float((s**2).sum())
    if vt.shape[0] < 2 or total == 0.0:
        raise ValueError("the snapshots do not spread over two directions: nothing to project")
    vectors = vt[:2].copy()
    coords = diffs @ vectors.T
    signs = np.where(coords[0] < 0, -1.0, 1.0)
    vectors *= signs[:, None]
    coords *= signs
    ratio = s[:2] ** 2 / total
    return coords, PCADirections(vectors, ratio)


def loss_landscape(
    model: nn.Module,
    loss_fn: Callable[[nn.Module], float],
    *,
    steps: int = 21,
    span: float | None = 1.0,
    directions=None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    trajectory: Sequence | None = None,
) -> Landscape:
    """Evaluate ``loss_fn(model)`` at ``w + a*d1 + b*d2`` on a ``steps x steps`` grid.

    ``loss_fn(model)`` returns the loss on fixed data as a float or a one-element tensor. The
    grid is ``alphas = betas = linspace(-span, span, steps)``; ``losses`` has rows = betas and
    columns = alphas. The model is evaluated in eval mode under ``torch.no_grad()``; afterwards
    (also when ``loss_fn`` raises) its parameters and buffers are restored bit for bit and every
    module's train/eval mode is as it was. ``progress(done, total)`` is called after each grid
    point. NaN or infinite losses are stored as NaN and counted in ``nonfinite``.

    Directions, in order of precedence:

    - ``trajectory``: snapshots (state dicts or flat vectors, see :func:`project_trajectory`)
      ending at the current weights; d1, d2 are its PCA directions (unit vectors, so the axes
      are parameter-space distances) and the projected path is returned too;
    - ``directions``: a pair ``(d1, d2)`` of per-parameter tensor lists;
    - otherwise two successive :func:`filter_normalised_direction` draws from
      ``torch.Generator().manual_seed(seed)``.

    ``span=None`` fits the grid to the trajectory (1.2 x its largest coordinate), or 1.0.
    """
    if steps < 2:
        raise ValueError(f"steps must be 2 or more, got {steps}")
    if trajectory is not None and directions is not None:
        raise ValueError("give directions or a trajectory (whose PCA gives them), not both")
    named = list(model.named_parameters())
    params = [p for _, p in named]
    pca = coords = None
    if trajectory is not None:
        coords, pca = project_trajectory(trajectory, {n: p.detach() for n, p in named})
        d1, d2 = (_unflatten(v, params) for v in pca.vectors)
        r = pca.explained_variance_ratio
        description = (
            f"PCA of {len(coords)} trajectory snapshots (explained variance {r[0]:.3f}, {r[1]:.3f})"
        )
    elif directions is not None:
        d1, d2 = (_check_direction(d, params, f"d{k + 1}") for k, d in enumerate(directions))
        description = "given directions"
    else:
        generator = torch.Generator().manual_seed(seed)
        d1 = filter_normalised_direction(model, generator)
        d2 = filter_normalised_direction(model, generator)
        description = f"filter-normalised Gaussian, seed {seed}"
    if span is None:
        span = 1.2 * float(np.abs(coords).max()) if coords is not None else 1.0
    if not span > 0:
        raise ValueError(f"span must be positive, got {span}")
    grid = np.linspace(-span, span, steps)
    losses = np.full((steps, steps), np.nan)
    saved = _SavedState(model)
    try:
        model.eval()
        with torch.no_grad():
            weights = saved.copies[: len(params)]
            center_loss = _loss(loss_fn, model)
            start = time.perf_counter()
            for i, beta in enumerate(grid):
                for j, alpha in enumerate(grid):
                    _move(params, weights, d1, d2, float(alpha), float(beta))
                    losses[i, j] = _loss(loss_fn, model)
                    if progress is not None:
                        progress(i * steps + j + 1, steps * steps)
            seconds = time.perf_counter() - start
            path = None
            if coords is not None:
                path_losses = np.empty(len(coords))
                for k, (alpha, beta) in enumerate(coords):
                    _move(params, weights, d1, d2, float(alpha), float(beta))
                    path_losses[k] = _loss(loss_fn, model)
                path = Trajectory(coords, path_losses, pca.explained_variance_ratio)
    finally:
        saved.restore()
    return Landscape(
        alphas=grid,
        betas=grid.copy(),
        losses=losses,
        center_loss=center_loss,
        directions=description,
        seconds=seconds,
        seconds_per_point=seconds / (steps * steps),
        nonfinite=int(np.isnan(losses).sum()),
        trajectory=path,
    )


class _SavedState:
    """A copy of a model's parameters, buffers and per-module modes, to put back exactly."""

    def __init__(self, model: nn.Module) -> None:
        self.tensors = [*model.parameters(), *model.buffers()]  # parameters first
        self.copies = [t.detach().clone() for t in self.tensors]
        self.modes = [(m, m.training) for m in model.modules()]

    def restore(self) -> None:
        with torch.no_grad():
            for t, copy in zip(self.tensors, self.copies):
                t.copy_(copy)
        for m, mode in self.modes:
            m.training = mode


def _move(params, weights, d1, d2, alpha: float, beta: float) -> None:
    for p, w, x, y in zip(params, weights, d1, d2):
        p.copy_(w)
        p.add_(x, alpha=alpha)
        p.add_(y, alpha=beta)


def _loss(loss_fn, model) -> float:
    value = loss_fn(model)
    if torch.is_tensor(value):
        if value.numel() != 1:
            raise ValueError(
                f"loss_fn must return a scalar; it returned a tensor of shape {tuple(value.shape)}"
            )
        value = value.item()
    value = float(value)
    return value if math.isfinite(value) else math.nan


def _flat(snapshot, names, what: str) -> np.ndarray:
    if isinstance(snapshot, Mapping):
        if names is None:
            raise ValueError(f"{what} is a state dict but the final weights are a flat vector")
        missing = [n for n in names if n not in snapshot]
        if missing:
            raise ValueError(f"{what} has no entry {missing[0]!r}")
        return np.concatenate([_numpy(snapshot[n]).ravel() for n in names])
    return _numpy(snapshot).ravel()


def _numpy(x) -> np.ndarray:
    if torch.is_tensor(x):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _unflatten(vector: np.ndarray, params) -> list[torch.Tensor]:
    out, at = [], 0
    for p in params:
        n = p.numel()
        piece = torch.from_numpy(vector[at : at + n].copy()).reshape(p.shape)
        out.append(piece.to(p.device, p.dtype))
        at += n
    return out


def _check_direction(direction, params, name: str) -> list[torch.Tensor]:
    direction = list(direction)
    if len(direction) != len(params):
        raise ValueError(
            f"{name} has {len(direction)} tensors; the model has {len(params)} parameters"
        )
    for k, (d, p) in enumerate(zip(direction, params)):
        if tuple(d.shape) != tuple(p.shape):
            raise ValueError(
                f"{name}[{k}] has shape {tuple(d.shape)}; parameter {k} has {tuple(p.shape)}"
            )
    return [d.detach().to(p.device, p.dtype) for d, p in zip(direction, params)]


def _json(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# -- what the CLI computes a landscape of -----------------------------------------------------

EXPECTED = (
    "a landscape SPEC must return (model, loss_fn) or a dict with keys model, loss_fn "
    "and optionally snapshots, where loss_fn(model) returns the loss on fixed data"
)


def load_landscape_spec(spec: str):
    """``(model, loss_fn, snapshots or None)`` from a SPEC (``package.module:callable`` or
    ``path/to/file.py:callable``) whose callable returns ``(model, loss_fn)`` or
    ``{"model": ..., "loss_fn": ..., "snapshots": [...]}``. Raises ``SpecError`` saying what
    was found and what is expected."""
    from ..capture.spec import SpecError, call_spec

    result = call_spec(spec)
    attr = spec.rpartition(":")[2]
    if isinstance(result, nn.Module):
        raise SpecError(f"bad SPEC {spec!r}: {attr}() returned {type(result).__name__}; {EXPECTED}")
    if isinstance(result, Mapping):
        missing = [k for k in ("model", "loss_fn") if k not in result]
        if missing:
            raise SpecError(
                f"bad SPEC {spec!r}: {attr}() returned a dict without "
                f"{' and '.join(missing)} (keys: {', '.join(map(str, result))}); "
                f"{EXPECTED}"
            )
        model, loss_fn, snapshots = result["model"], result["loss_fn"], result.get("snapshots")
    elif isinstance(result, tuple) and len(result) == 2:
        (model, loss_fn), snapshots = result, None
    else:
        found = f"a {len(result)}-tuple" if isinstance(result, tuple) else type(result).__name__
        raise SpecError(f"bad SPEC {spec!r}: {attr}() returned {found}; {EXPECTED}")
    if not isinstance(model, nn.Module):
        raise SpecError(
            f"bad SPEC {spec!r}: the model is a {type(model).__name__}, not an "
            f"nn.Module; {EXPECTED}"
        )
    if not callable(loss_fn):
        raise SpecError(
            f"bad SPEC {spec!r}: loss_fn is a {type(loss_fn).__name__}, not a "
            f"callable (a (model, example_inputs) pair is a SPEC for inspect and "
            f"view); {EXPECTED}"
        )
    return model, loss_fn, snapshots


def digits_demo(
    steps: int = 150, batch: int = 64, lr: float = 3e-3, snapshots: int = 10, seed: int = 0
) -> dict:
    """Train ``zoo.DigitsCNN`` on the digits for ``steps`` Adam steps and return a landscape
    SPEC result: the model, a loss on the validation split (360 images) and the trajectory
    (the initial weights and then every ``steps // snapshots`` steps, ending at the final
    weights). Usable as ``nnviz3d landscape nnviz3d.analysis.landscape:digits_demo``."""
    import torch.nn.functional as F

    from ..data.digits import load_digits_tensors
    from ..progress import Progress
    from ..zoo import DigitsCNN

    torch.manual_seed(seed)
    (xtr, ytr), (xva, yva) = load_digits_tensors()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    every = max(1, steps // snapshots)
    trajectory = [nn.utils.parameters_to_vector(model.parameters()).detach().clone()]
    model.train()
    step = 0
    with Progress(steps, "landscape: training DigitsCNN", unit="step", delay=1.0) as bar:
        while step < steps:
            for idx in torch.randperm(len(ytr)).split(batch):
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                bar.update(loss=f"{loss.item():.3f}")
                if step % every == 0 or step == steps:
                    vector = nn.utils.parameters_to_vector(model.parameters())
                    trajectory.append(vector.detach().clone())
                if step == steps:
                    break
    model.eval()

    def validation_loss(m: nn.Module) -> torch.Tensor:
        return F.cross_entropy(m(xva), yva)

    return {"model": model, "loss_fn": validation_loss, "snapshots": trajectory}
