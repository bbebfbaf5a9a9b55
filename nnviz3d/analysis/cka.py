"""Linear CKA (Kornblith et al., 2019, "Similarity of Neural Network Representations
Revisited") between layers' features on one probe set, and a 3D map of the layers by it.

For features X (N x Dx) and Y (N x Dy) of the same N inputs, each column centred,

    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
              = <K_X, K_Y>_F / (||K_X||_F ||K_Y||_F),   K = X X^T (centred Gram matrix).

It is 1 for a layer with itself and unchanged by orthogonal transforms and isotropic scaling of
either side's features. Each input's features are flattened; sums are in float64.

:func:`cka_matrix` computes every pair of L layers with each layer's products computed once:
either all features side by side (one (sum D) x (sum D) product, the pair's block read off
it) or each layer's N x N Gram matrix (when the widths add up past the number of inputs), by
whichever costs fewer multiplications. :func:`cross_cka` is the same for the layers of two
models (A x B) on the same inputs. :func:`cka_map` places the layers in 3D by classical MDS of
1 - CKA. A layer whose features do not vary over the inputs has no CKA: its row and column
are 0 and it is listed as undefined. numpy only (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPS = 1e-12


def centred(features) -> np.ndarray:
    """(N, D) float64 features, flattened per input, each column's mean removed."""
    x = np.asarray(features)
    if x.ndim == 0 or x.shape[0] < 2:
        raise ValueError(f"CKA needs features of at least 2 inputs, got shape {x.shape}")
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError("CKA needs finite features (NaN or Inf found)")
    return x - x.mean(axis=0, keepdims=True)


def cka(x, y) -> float:
    """Linear CKA of two feature sets of the same inputs (0 when either does not vary)."""
    return float(cross_cka([x], [y])[0, 0])


def route(n: int, widths: Sequence[int]) -> str:
    """``"features"`` (one stacked (sum D) x (sum D) product) or ``"gram"`` (each layer's
    N x N Gram matrix, then their inner products): whichever multiplies less."""
    total = sum(widths)
    feature_cost = n * total * total
    gram_cost = n * n * total + len(widths) ** 2 * n * n
    return "features" if feature_cost <= gram_cost else "gram"


def _products(xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(inner, norms)``: ``inner[i, j] = <K_i, K_j>_F`` and ``norms[i] = ||K_i||_F``."""
    widths = [x.shape[1] for x in xs]
    if route(xs[0].shape[0], widths) == "features":
        stacked = np.concatenate(xs, axis=1)
        c = stacked.T @ stacked  # every layer's cross products at once
        edges = np.concatenate([[0], np.cumsum(widths)])
        blocks = [slice(edges[i], edges[i + 1]) for i in range(len(xs))]
        inner = np.empty((len(xs), len(xs)))
        for i, bi in enumerate(blocks):
            for j in range(i, len(xs)):
                v = np.sum(np.square(c[bi, blocks[j]]))
                inner[i, j] = inner[j, i] = v
    else:
        grams = np.stack([(x @ x.T).ravel() for x in xs])
        inner = grams @ grams.T
    norms = np.sqrt(np.maximum(np.diag(inner), 0.0))
    return inner, norms


def _normalised(inner: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
    scale = np.outer(na, nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(scale > EPS, inner / np.where(scale > EPS, scale, 1.0), 0.0)
    return np.clip(out, 0.0, 1.0)


def _undefined(norms: np.ndarray) -> list[int]:
    top = float(norms.max()) if len(norms) else 0.0
    return [i for i, v in enumerate(norms) if v <= max(EPS, 1e-10 * top)]


def cka_matrix(features: Sequence) -> tuple[np.ndarray, list[int]]:
    """``(L x L CKA, undefined)`` of L layers' features (each (N, ...)) on the same N inputs;
    ``undefined``: indices of layers whose features do not vary (their row and column 0)."""
    xs = [centred(f) for f in features]
    if not xs:
        return np.zeros((0, 0)), []
    _same_inputs(xs)
    inner, norms = _products(xs)
    bad = _undefined(norms)
    norms = norms.copy()
    norms[bad] = 0.0
    m = _normalised(inner, norms, norms)
    good = [i for i in range(len(xs)) if i not in bad]
    m[good, good] = 1.0
    return m, bad


def cross_cka(features_a: Sequence, features_b: Sequence) -> np.ndarray:
    """``len(a) x len(b)`` CKA between the layers of two models on the same inputs."""
    xa = [centred(f) for f in features_a]
    xb = [centred(f) for f in features_b]
    if not xa or not xb:
        return np.zeros((len(xa), len(xb)))
    _same_inputs(xa + xb)
    inner, norms = _products(xa + xb)
    na, nb = norms[: len(xa)].copy(), norms[len(xa) :].copy()
    top = max(float(norms.max()), 0.0)
    na[na <= max(EPS, 1e-10 * top)] = 0.0
    nb[nb <= max(EPS, 1e-10 * top)] = 0.0
    return _normalised(inner[: len(xa), len(xa) :], na, nb)


def _same_inputs(xs: list[np.ndarray]) -> None:
    counts = {x.shape[0] for x in xs}
    if len(counts) != 1:
        raise ValueError(f"CKA compares features of the same inputs; got counts {sorted(counts)}")


def cka_map(matrix, previous=None, dims: int = 3) -> np.ndarray:
    """(L, 3) positions of the layers by classical MDS of the distances 1 - CKA (the first
    ``dims`` axes; fewer layers than axes leave zeros). ``previous`` (L, 3): the result is
    rotated/reflected onto it (orthogonal Procrustes) so the map moves smoothly between steps;
    without it the signs are fixed (each axis' largest coordinate positive)."""
    m = np.asarray(matrix, np.float64)
    n = len(m)
    out = np.zeros((n, dims))
    if n < 2:
        return out.astype(np.float32)
    d2 = np.square(1.0 - np.clip((m + m.T) / 2, 0.0, 1.0))
    np.fill_diagonal(d2, 0.0)
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ d2 @ j
    vals, vecs = np.linalg.eigh(b)
    order = np.argsort(vals)[::-1][:dims]
    k = len(order)
    out[:, :k] = vecs[:, order] * np.sqrt(np.maximum(vals[order], 0.0))
    if previous is not None and np.shape(previous) == out.shape:
        p = np.asarray(previous, np.float64)
        u, _, vt = np.linalg.svd(out.T @ p)
        out = out @ (u @ vt)
    else:
        for a in range(dims):
            i = int(np.argmax(np.abs(out[:, a])))
            if out[i, a] < 0:
                out[:, a] = -out[:, a]
    return out.astype(np.float32)
