"""Feature embeddings in 3D: prepare a layer's features, lay them out with PCA, UMAP or t-SNE,
and keep successive training steps' layouts aligned so points move smoothly.

A typical step::

    x = prepare(features)                       # (N, ...) -> centred float32 (N, <=50)
    points = embed(x, "umap", init=previous)    # (N, 3), aligned to previous, max norm 1

umap-learn is imported inside the functions that need it: its import and numba compilation
(15-60 s in a fresh process, a few seconds with a warm ``NUMBA_CACHE_DIR``) must not slow down
``import nnviz3d``. Call :func:`warm_up` once in a long-lived process to pay that cost early.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ..extras import require
from .umap_cache import cache_umap_kernels

METHODS = ("pca", "umap", "tsne")
LARGE = 20_000
"""Above this many points ``embed(x, "umap")`` uses :func:`embed_large` (fit on a subsample,
place the rest by their neighbours): a full UMAP fit of 100,000 points takes minutes on two
cores."""

_UMAP_SCALE = 10.0  # UMAP's own initialisations span about [-10, 10]; starts are scaled to match
_TSNE_SCALE = 1e-4  # scikit-learn scales a PCA start so its first column has this std
_WARM_EPOCHS = 200  # from the previous layout UMAP needs fewer epochs than its 500 from scratch


def prepare(features, max_dims: int = 50) -> np.ndarray:
    """Turn any (N, ...) numeric array (numpy, torch tensor, nested lists) into a centred
    float32 (N, D) matrix, flattening trailing dimensions.

    When D > ``max_dims`` the features are first reduced to ``max_dims`` with PCA (randomized
    SVD, ``random_state=0``), the usual pre-reduction before UMAP or t-SNE: it removes noise
    and makes neighbour search far cheaper. Raises ValueError for fewer than 4 samples,
    NaN/Inf values, or non-numeric input.
    """
    if hasattr(features, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        features = features.detach().cpu().numpy()
    x = np.asarray(features)
    if x.dtype == bool:
        x = x.astype(np.float32)
    if not np.issubdtype(x.dtype, np.integer) and not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"features must be numeric (int or float), got dtype {x.dtype}")
    if x.ndim == 0 or x.shape[0] < 4:
        n = 0 if x.ndim == 0 else x.shape[0]
        raise ValueError(
            f"features need at least 4 samples (rows) to embed, got {n} (shape {x.shape})"
        )
    x = x.reshape(len(x), -1).astype(np.float32)
    if x.shape[1] == 0:
        raise ValueError(f"features have no values per sample (shape {np.shape(features)})")
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise ValueError(
            f"features contain {bad} NaN/Inf values; embeddings need finite "
            "values (a diverged layer?)"
        )
    if max_dims < 1:
        raise ValueError(f"max_dims must be at least 1, got {max_dims}")
    x -= x.mean(axis=0)
    if x.shape[1] > max_dims:
        PCA = require("embed", "sklearn.decomposition").PCA

        dims = min(max_dims, len(x))
        x = PCA(dims, svd_solver="randomized", random_state=0).fit_transform(x)
    return np.ascontiguousarray(x, dtype=np.float32)


def embed_pca(x) -> np.ndarray:
    """The first three principal components of ``x`` (N, D) as float32 (N, 3); columns past D
    (or past N) are zeros. Signs are made deterministic (scikit-learn's ``svd_flip``)."""
    PCA = require("embed", "sklearn.decomposition").PCA

    x = _matrix(x)
    k = min(3, x.shape[1], len(x))
    out = np.zeros((len(x), 3), dtype=np.float32)
    out[:, :k] = PCA(k, svd_solver="full").fit_transform(x)
    return out


def embed_umap(
    x, init=None, seed: int | None = 0, n_neighbors: int = 15, min_dist: float = 0.1
) -> np.ndarray:
    """UMAP of ``x`` (N, D) into 3D, float32 (N, 3).

    ``init`` is an (N, 3) layout to start from (the previous step's embedding, for temporal
    coherence), rescaled to UMAP's usual [-10, 10] span and refined for 200 epochs; without it
    UMAP starts from its spectral layout (500 epochs up to 10,000 points). ``seed`` an int
    gives reproducible layouts but makes UMAP single-threaded (umap-learn's rule for
    ``random_state``); ``seed=None`` uses every core and differs from run to run. We default
    to 0: reproducible, and on a 2-core machine the parallel speed-up is small.

    The k-nearest-neighbour graph is exact (scikit-learn): a second or two for 20,000 points,
    and it skips pynndescent, whose numba code is not cached and compiles for ~30 s in every
    fresh process. For N <= ``n_neighbors + 1`` there is no neighbourhood graph worth the
    name, so the result is :func:`embed_pca` instead.
    """
    x = _matrix(x)
    if len(x) <= n_neighbors + 1:
        return embed_pca(x)
    model = _fit_umap(x, init, seed, n_neighbors, min_dist)
    return np.asarray(model.embedding_, dtype=np.float32)


def embed_large(x, fit_size: int = 10_000, init=None, seed: int | None = 0) -> np.ndarray:
    """UMAP for large sets: fit on a random subsample of ``fit_size`` points, then place each
    other point at the weighted mean of its 15 nearest fitted points' positions (the start
    ``UMAP.transform`` gives a new point, without its pynndescent index, whose numba code is
    not cached and compiles for ~30-60 s in every fresh process).

    Pre-reduce with :func:`prepare` first (50 dims). The subsample is drawn with ``seed`` (0
    when None), so it is the same points at every step and layouts stay coherent; ``init``
    (N, 3) starts the subsample's fit. Cost is a ``fit_size`` fit plus an exact neighbour
    query (chunked matrix products, O(N x fit_size x D)): ~9 s for 100,000 points of 50
    dims against 10,000. Sets of at most ``fit_size`` points get a plain :func:`embed_umap`.
    """
    x = _matrix(x)
    if len(x) <= fit_size:
        return embed_umap(x, init=init, seed=seed)
    if init is not None:
        init = _points(init, "init", len(x))
    rng = np.random.default_rng(0 if seed is None else seed)
    fit = np.zeros(len(x), dtype=bool)
    fit[rng.choice(len(x), fit_size, replace=False)] = True
    model = _fit_umap(x[fit], None if init is None else init[fit], seed, 15, 0.1)
    out = np.empty((len(x), 3), dtype=np.float32)
    out[fit] = model.embedding_
    out[~fit] = place_by_neighbours(x[fit], out[fit], x[~fit])
    return out


def place_by_neighbours(fitted, positions, rest, k: int = 15, chunk: int = 2048) -> np.ndarray:
    """Positions for ``rest`` (M, D): each the mean of the ``positions`` (N, 3) of its ``k``
    nearest ``fitted`` points (N, D), weighted by a kernel that falls from 1 at the nearest to
    e^-3 at the k-th, so a point in a cluster lands in it. Exact neighbours, ``chunk`` rows
    at a time (memory ``chunk`` x N floats)."""
    fitted = np.asarray(fitted, dtype=np.float32)
    positions = np.asarray(positions, dtype=np.float32)
    k = min(k, len(fitted))
    f2 = (fitted * fitted).sum(axis=1)
    out = np.empty((len(rest), positions.shape[1]), dtype=np.float32)
    for lo in range(0, len(rest), chunk):
        r = np.asarray(rest[lo : lo + chunk], dtype=np.float32)
        d2 = (r * r).sum(axis=1)[:, None] + f2[None, :] - 2.0 * (r @ fitted.T)
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        d = np.sqrt(np.maximum(np.take_along_axis(d2, idx, axis=1), 0.0))
        near, far = d.min(axis=1, keepdims=True), d.max(axis=1, keepdims=True)
        w = np.exp(-3.0 * (d - near) / np.maximum(far - near, 1e-12))
        w /= w.sum(axis=1, keepdims=True)
        out[lo : lo + len(r)] = np.einsum("mk,mkc->mc", w, positions[idx])
    return out


def embed_tsne(x, init=None, seed: int = 0) -> np.ndarray:
    """Barnes-Hut t-SNE of ``x`` (N, D) into 3D, float32 (N, 3).

    Starts from ``init`` (N, 3) when given (rescaled, as scikit-learn does for its PCA start, so
    its first column has std 1e-4), else from PCA. Perplexity is 30, or (N - 1) / 3 for small
    sets. Cost: O(N log N) per iteration and 1,000 iterations, single pass, no ``transform``:
    a few seconds for 1,000 points, minutes for 10,000 and far longer for 100,000 points in 3D
    (the Barnes-Hut octree is slower than in 2D); prefer UMAP for large sets.
    """
    TSNE = require("embed", "sklearn.manifold", "t-SNE embeddings need").TSNE

    x = _matrix(x)
    start = "pca"
    if init is not None:
        start = _points(init, "init", len(x)).astype(np.float32)
        std = float(np.std(start[:, 0]))
        start = start / std * _TSNE_SCALE if std > 0 else start
    perplexity = min(30.0, (len(x) - 1) / 3)
    tsne = TSNE(
        n_components=3,
        init=start,
        random_state=seed,
        method="barnes_hut",
        perplexity=perplexity,
        learning_rate="auto",
    )
    return tsne.fit_transform(x).astype(np.float32)


def align(new, previous) -> np.ndarray:
    """Map ``new`` (N, 3) onto ``previous`` (N, 3) with the similarity transform (rotation,
    possibly a reflection, uniform scale, translation) that minimises the squared distances
    between corresponding points: orthogonal Procrustes. Layouts of successive steps are
    only defined up to such a transform, so aligning removes the jumps that carry no meaning.
    """
    new = _points(new, "new")
    previous = _points(previous, "previous", len(new))
    a = new - new.mean(axis=0)
    b_mean = previous.mean(axis=0)
    b = previous - b_mean
    norm = float(np.sum(a * a))
    if norm == 0.0:  # all points coincide: only the translation is defined
        return np.broadcast_to(b_mean, new.shape).astype(np.float32)
    u, s, vt = np.linalg.svd(a.T.astype(np.float64) @ b, full_matrices=False)
    rotation = u @ vt
    scale = s.sum() / norm
    return (scale * a @ rotation + b_mean).astype(np.float32)


def normalise(points) -> np.ndarray:
    """Centre ``points`` (N, 3) on the origin and scale so the farthest point is at distance
    1 (all-equal points become all zeros)."""
    p = _points(points, "points")
    p = p - p.mean(axis=0)
    radius = float(np.sqrt((p * p).sum(axis=1)).max())
    return (p / radius if radius > 0 else p).astype(np.float32)


def embed(x, method: str, init=None, seed: int | None = 0) -> np.ndarray:
    """Lay out prepared features ``x`` (N, D) in 3D with ``method`` (one of :data:`METHODS`).

    ``init`` is the previous step's normalised embedding (N, 3): UMAP and t-SNE start from
    it and the result is aligned to it (:func:`align`), so points move smoothly between steps.
    UMAP above :data:`LARGE` points goes through :func:`embed_large`. The result is always
    :func:`normalise`'d.
    """
    if method not in METHODS:
        raise ValueError(f"unknown embedding method {method!r}; choose one of {', '.join(METHODS)}")
    x = _matrix(x)
    if init is not None:
        init = _points(init, "init", len(x))
    if method == "pca":
        points = embed_pca(x)
    elif method == "umap" and len(x) > LARGE:
        points = embed_large(x, init=init, seed=seed)
    elif method == "umap":
        points = embed_umap(x, init=init, seed=seed)
    else:
        points = embed_tsne(x, init=init, seed=0 if seed is None else seed)
    if init is not None:
        points = align(points, init)
    return normalise(points)


def knn_agreement(points, labels, k: int = 5) -> float:
    """Fraction of points whose label equals the majority label of their ``k`` nearest
    neighbours in the embedding, the point itself excluded (leave-one-out k-NN accuracy; a
    tie goes to the label that sorts first, as in scikit-learn's classifier). Chance is about
    the largest class's share; 1.0 means classes form clean clusters."""
    NearestNeighbors = require("embed", "sklearn.neighbors").NearestNeighbors

    p = _points(points, "points")
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(p):
        raise ValueError(f"labels has {len(labels)} entries for {len(p)} points")
    if not 1 <= k < len(p):
        raise ValueError(f"k must be between 1 and {len(p) - 1} for {len(p)} points, got {k}")
    classes, codes = np.unique(labels, return_inverse=True)
    neighbours = NearestNeighbors(n_neighbors=k).fit(p).kneighbors(return_distance=False)
    votes = np.zeros((len(p), len(classes)), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(p)), k), codes[neighbours].ravel()), 1)
    return float(np.mean(votes.argmax(axis=1) == codes))


def mean_displacement(a, b) -> float:
    """Mean Euclidean distance between corresponding points of ``a`` and ``b`` (N, 3)."""
    a = _points(a, "a")
    b = _points(b, "b", len(a))
    return float(np.linalg.norm(a - b, axis=1).mean())


def warm_up() -> float:
    """Embed 300 random 8-D points with :func:`embed_umap` so numba compiles (or loads from
    ``NUMBA_CACHE_DIR``) what a UMAP fit needs: ~10 s with a warm cache, 1-2 min cold. This
    covers :func:`embed_large` too (it fits with exact neighbours, never pynndescent).
    Returns seconds taken."""
    start = time.perf_counter()
    x = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    embed_umap(x)
    return time.perf_counter() - start


def _fit_umap(x: np.ndarray, init, seed, n_neighbors: int, min_dist: float):
    """Fit umap.UMAP on the exact k-NN graph from scikit-learn (never pynndescent, whose
    numba code compiles in every fresh process)."""
    umap = require("embed", "umap", "UMAP embeddings need")
    cache_umap_kernels()

    start, epochs = "spectral", None
    if init is not None:
        start = _points(init, "init", len(x)).astype(np.float32)
        span = float(np.abs(start).max())
        start = start * (_UMAP_SCALE / span) if span > 0 else start
        epochs = _WARM_EPOCHS
    NearestNeighbors = require("embed", "sklearn.neighbors").NearestNeighbors

    dists, indices = NearestNeighbors(n_neighbors=n_neighbors).fit(x).kneighbors(x)
    knn = (indices.astype(np.int32), dists.astype(np.float32), None)
    seeded = seed is not None
    model = umap.UMAP(
        n_components=3,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        init=start,
        n_epochs=epochs,
        precomputed_knn=knn,
        random_state=seed if seeded else None,
        n_jobs=1 if seeded else -1,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        return model.fit(x)


def _matrix(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) < 4:
        raise ValueError(
            f"expected prepared features of shape (N >= 4, D), got {x.shape}; use prepare() first"
        )
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN/Inf values; use prepare() first")
    return x


def _points(p, name: str, n: int | None = None) -> np.ndarray:
    p = np.asarray(p, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 3 or (n is not None and len(p) != n):
        want = f"({n}, 3)" if n is not None else "(N, 3)"
        raise ValueError(f"{name} must have shape {want}, got {p.shape}")
    return p
