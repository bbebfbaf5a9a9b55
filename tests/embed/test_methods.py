"""Feature embeddings on real features: a briefly trained DigitsCNN's penultimate layer for the
360 validation digits, embedded with PCA, UMAP and t-SNE; plus the geometry helpers on
synthetic points with known answers. Numbers in comments were measured on a 2-core machine.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.embed import methods
from nnviz3d.zoo import DigitsCNN

# methods imports umap lazily, so this still comes before numba is set up
os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[2] / ".cache" / "numba")
)

STEPS = (150, 170)  # two nearby training steps


@pytest.fixture(scope="module")
def digits_features():
    """{step: (360, 64) ReLU output of ``head[2]`` on the validation digits}, and the labels."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: one thread is much faster on a busy 2-core box
    try:
        torch.manual_seed(0)
        (xtr, ytr), (xva, yva) = load_digits_tensors()
        model = DigitsCNN()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        features, step = {}, 0
        while step < STEPS[-1]:
            for batch in torch.randperm(len(ytr)).split(64):
                loss = F.cross_entropy(model(xtr[batch]), ytr[batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step in STEPS:
                    features[step] = penultimate(model, xva)
                if step == STEPS[-1]:
                    break
        return features, yva.numpy()
    finally:
        torch.set_num_threads(threads)


def penultimate(model, x):
    captured = []
    hook = model.head[2].register_forward_hook(lambda mod, inp, out: captured.append(out))
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        hook.remove()
        model.train()
    return captured[0].numpy().copy()


@pytest.fixture(scope="module")
def first_umap(digits_features):
    features, _ = digits_features
    return methods.embed(methods.prepare(features[STEPS[0]]), "umap", seed=0)


def clusters(n=400, dims=16, spread=6.0, seed=0):
    """Ten Gaussian clusters (unit std, centres ``spread`` apart or so) and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(scale=spread, size=(10, dims))
    return (centres[labels] + rng.normal(size=(n, dims))).astype(np.float32), labels


# --- real features -------------------------------------------------------------------------


@pytest.mark.umap
def test_digits_features_cluster_by_label(digits_features, first_umap):
    features, labels = digits_features
    x = methods.prepare(features[STEPS[0]])
    assert x.shape == (360, 50) and x.dtype == np.float32  # 64-D features, pre-reduced
    pca = methods.embed(x, "pca")
    # measured: pca 0.86, umap 0.99 (t-SNE below 0.98); chance is about 0.1
    assert methods.knn_agreement(pca, labels, k=5) > 0.5
    assert methods.knn_agreement(first_umap, labels, k=5) > 0.8
    for points in (pca, first_umap):
        assert points.shape == (360, 3) and points.dtype == np.float32
        assert np.linalg.norm(points, axis=1).max() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.umap
def test_alignment_lowers_frame_to_frame_displacement(digits_features, first_umap):
    features, labels = digits_features
    x = methods.prepare(features[STEPS[1]])
    independent = methods.embed(x, "umap", seed=0)  # from scratch, as each step alone would
    aligned = methods.embed(x, "umap", init=first_umap, seed=0)
    moved_independent = methods.mean_displacement(first_umap, independent)
    moved_aligned = methods.mean_displacement(first_umap, aligned)
    # measured: independent 0.72, aligned 0.26 (re-running UMAP on the very same features
    # from its own layout moves points ~0.25: that is UMAP's jitter inside clusters)
    assert moved_aligned < 0.5 * moved_independent
    assert methods.knn_agreement(aligned, labels) > 0.8  # starting from before costs nothing


@pytest.mark.umap
def test_tsne_from_scratch_and_from_previous(digits_features, first_umap):
    features, labels = digits_features
    x = methods.prepare(features[STEPS[0]])
    points = methods.embed(x, "tsne")
    assert methods.knn_agreement(points, labels) > 0.8  # measured 0.98
    again = methods.embed(x, "tsne", init=first_umap)
    assert methods.knn_agreement(again, labels) > 0.8
    assert np.linalg.norm(again, axis=1).max() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.umap
@pytest.mark.filterwarnings("ignore:Graph is not fully connected")  # separate clusters
def test_large_sets_fit_a_subsample_and_place_the_rest_by_their_neighbours():
    x, labels = clusters(n=1200)
    points = methods.embed_large(methods.prepare(x), fit_size=400)
    assert points.shape == (1200, 3) and points.dtype == np.float32
    assert methods.knn_agreement(points, labels) > 0.95


def test_placing_by_neighbours_lands_each_point_among_its_own():
    fitted = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]], dtype=np.float32)
    positions = np.array([[-1, 0, 0], [-1, 0, 0], [1, 0, 0], [1, 0, 0]], dtype=np.float32)
    rest = np.array([[0.05, 0.0], [10.05, 10.0], [0.1, 0.0]], dtype=np.float32)
    out = methods.place_by_neighbours(fitted, positions, rest, k=3, chunk=2)
    assert out[0, 0] < -0.9 and out[1, 0] > 0.9  # the far point of the 3 weighs e^-3
    np.testing.assert_allclose(out[:, 1:], 0.0)
    # a point on a fitted one, all of them distinct: the kernel is finite, the mean exact
    one = methods.place_by_neighbours(fitted, positions, fitted[:1], k=1)
    np.testing.assert_allclose(one, positions[:1])


def test_umap_on_tiny_sets_falls_back_to_pca():
    x, _ = clusters(n=12, dims=5)
    np.testing.assert_array_equal(methods.embed_umap(x), methods.embed_pca(x))


# --- geometry helpers ----------------------------------------------------------------------


@pytest.mark.parametrize("reflect", [False, True])
def test_align_recovers_a_similarity_transform(reflect):
    rng = np.random.default_rng(1)
    previous = rng.normal(size=(50, 3)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if (np.linalg.det(rotation) < 0) != reflect:
        rotation[:, 0] *= -1
    new = 2.5 * previous @ rotation + np.array([3.0, -1.0, 7.0])
    np.testing.assert_allclose(methods.align(new, previous), previous, atol=1e-4)


def test_align_of_coincident_points_only_translates():
    previous = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = methods.align(np.ones((4, 3)), previous)
    np.testing.assert_allclose(out, np.tile(previous.mean(axis=0), (4, 1)))


def test_normalise_centres_and_puts_the_farthest_point_at_one():
    rng = np.random.default_rng(2)
    points = methods.normalise(rng.normal(loc=5.0, scale=3.0, size=(100, 3)))
    assert np.linalg.norm(points, axis=1).max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_array_equal(methods.normalise(np.full((5, 3), 2.0)), 0.0)


def test_knn_agreement_and_mean_displacement():
    x, labels = clusters(n=200, dims=3, spread=30.0)
    assert methods.knn_agreement(x, labels, k=5) == 1.0
    shuffled = np.random.default_rng(0).permutation(labels)
    assert methods.knn_agreement(x, shuffled, k=5) < 0.3
    a = np.zeros((4, 3))
    b = np.array([[3, 4, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1]])
    assert methods.mean_displacement(a, b) == pytest.approx(7 / 4)
    with pytest.raises(ValueError, match="labels has 3 entries for 200 points"):
        methods.knn_agreement(x, labels[:3])
    with pytest.raises(ValueError, match="k must be between 1 and 199"):
        methods.knn_agreement(x, labels, k=200)
    with pytest.raises(ValueError, match=r"b must have shape \(4, 3\)"):
        methods.mean_displacement(a, b[:3])


# --- input preparation ---------------------------------------------------------------------


@pytest.mark.parametrize("form", ["numpy", "float64", "int", "bool", "list", "torch", "grad"])
def test_prepare_accepts_every_numeric_form(form):
    base = np.arange(24).reshape(6, 2, 2) % 5
    features = {
        "numpy": base.astype(np.float32),
        "float64": base.astype(np.float64),
        "int": base,
        "bool": base > 2,
        "list": base.tolist(),
        "torch": torch.tensor(base, dtype=torch.float32),
        "grad": torch.tensor(base, dtype=torch.float32, requires_grad=True),
    }[form]
    x = methods.prepare(features)
    assert x.shape == (6, 4) and x.dtype == np.float32  # trailing dims flattened
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-6)


def test_prepare_reduces_wide_features_with_pca():
    x = methods.prepare(np.random.default_rng(0).normal(size=(100, 128)))
    assert x.shape == (100, 50) and x.dtype == np.float32
    assert methods.prepare(np.random.default_rng(0).normal(size=(10, 128))).shape == (10, 10)
    assert methods.prepare(np.ones((8, 3, 4, 4)), max_dims=100).shape == (8, 48)


@pytest.mark.parametrize(
    "features, message",
    [
        (np.array([[1.0, np.nan], [np.inf, 0], [0, 0], [0, 0]]), "contain 2 NaN/Inf values"),
        (np.ones((3, 5)), "at least 4 samples"),
        (np.array(1.0), "at least 4 samples"),
        (np.array([["a", "b"]] * 5), "must be numeric"),
        (np.ones((4, 2), dtype=complex), "must be numeric"),
        (np.ones((5, 0)), "no values per sample"),
    ],
)
def test_prepare_rejects_bad_input(features, message):
    with pytest.raises(ValueError, match=message):
        methods.prepare(features)


def test_embed_pca_pads_narrow_features_with_zeros():
    x = methods.prepare(np.random.default_rng(0).normal(size=(20, 2)))
    points = methods.embed_pca(x)
    assert points.shape == (20, 3) and points.dtype == np.float32
    np.testing.assert_array_equal(points[:, 2], 0.0)
    np.testing.assert_allclose(distances(points), distances(x), atol=1e-5)  # a rotation
    line = methods.embed_pca(x[:, :1])
    np.testing.assert_array_equal(line[:, 1:], 0.0)
    np.testing.assert_allclose(np.abs(line[:, 0]), np.abs(x[:, 0]), atol=1e-6)


def distances(p):
    return np.linalg.norm(p[:, None] - p[None], axis=-1)


def test_embed_rejects_unknown_methods_and_bad_inputs():
    x = methods.prepare(np.random.default_rng(0).normal(size=(20, 4)))
    with pytest.raises(
        ValueError, match="unknown embedding method 'nope'; choose one of pca, umap, tsne"
    ):
        methods.embed(x, "nope")
    with pytest.raises(ValueError, match=r"init must have shape \(20, 3\)"):
        methods.embed(x, "pca", init=np.zeros((19, 3)))
    with pytest.raises(ValueError, match="use prepare"):
        methods.embed(np.zeros((20, 2, 2)), "pca")
