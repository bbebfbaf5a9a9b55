"""Linear CKA (nnviz3d/analysis/cka.py): its defining properties checked numerically, both
ways of computing it agreeing, and the known layer-similarity pattern on the real digits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnviz3d.analysis.cka import cka, cka_map, cka_matrix, cross_cka, route


def features(seed: int, n: int = 60, d: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d))  # correlated columns


def orthogonal(seed: int, d: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 80), d=st.integers(1, 40))
def test_a_layer_with_itself_is_1(seed, n, d):
    x = np.random.default_rng(seed).normal(size=(n, d))
    assert cka(x, x) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-100, 100),
)
def test_invariant_to_orthogonal_transforms_and_isotropic_scaling(seed, scale, shift):
    x, y = features(seed, d=10), features(seed + 1, d=7)
    base = cka(x, y)
    assert 0.0 < base < 1.0
    moved = scale * x @ orthogonal(seed, 10) + shift  # shifts vanish when centred
    assert cka(moved, y) == pytest.approx(base, abs=1e-9)
    assert cka(x, y @ orthogonal(seed + 2, 7) * scale) == pytest.approx(base, abs=1e-9)


def test_not_invariant_to_any_linear_map():
    """The invariances are exactly those: an anisotropic scaling changes the value."""
    x, y = features(3), features(4)
    stretch = np.diag(np.r_[100.0, np.ones(11)])
    assert abs(cka(x @ stretch, y) - cka(x, y)) > 1e-3


def test_flattens_each_input_and_matches_the_gram_form():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2, 3, 4)), rng.normal(size=(30, 5))
    xc, yc = (a.reshape(30, -1) - a.reshape(30, -1).mean(0) for a in (x, y))
    kx, ky = xc @ xc.T, yc @ yc.T
    expected = np.sum(kx * ky) / (np.linalg.norm(kx) * np.linalg.norm(ky))
    assert cka(x, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n,widths", [(200, [3, 5, 8, 2]), (20, [50, 70, 3, 90])])
def test_matrix_feature_and_gram_routes_agree_with_pairwise(n, widths):
    """Narrow layers go through one stacked product, wide ones through Gram matrices: both
    give what the pairwise definition gives."""
    rng = np.random.default_rng(n)
    feats = [rng.normal(size=(n, w)) @ rng.normal(size=(w, w)) for w in widths]
    feats[1] = feats[0] @ rng.normal(size=(widths[0], widths[1])) + 0.1 * feats[1]
    m, undefined = cka_matrix(feats)
    assert undefined == []
    for i, a in enumerate(feats):
        for j, b in enumerate(feats):
            ac, bc = a - a.mean(0), b - b.mean(0)
            pair = np.sum((bc.T @ ac) ** 2) / (
                np.linalg.norm(ac.T @ ac) * np.linalg.norm(bc.T @ bc)
            )
            assert m[i, j] == pytest.approx(pair, abs=1e-9)
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m), 1.0)


def test_cross_cka_of_a_model_with_itself_has_a_diagonal_of_1():
    feats = [features(s, d=d) for s, d in enumerate([4, 9, 16])]
    cross = cross_cka(feats, feats)
    np.testing.assert_allclose(np.diag(cross), 1.0, atol=1e-9)
    np.testing.assert_allclose(cross, cka_matrix(feats)[0], atol=1e-9)
    assert cross_cka(feats[:2], feats).shape == (2, 3)


def test_constant_layer_is_undefined_not_nan():
    feats = [features(0), np.ones((60, 4)), features(1)]
    m, undefined = cka_matrix(feats)
    assert undefined == [1]
    assert np.isfinite(m).all()
    assert (m[1] == 0).all() and (m[:, 1] == 0).all() and m[0, 0] == 1.0


def test_refuses_nan_and_mismatched_inputs():
    with pytest.raises(ValueError, match="finite"):
        cka_matrix([np.full((5, 2), np.nan)])
    with pytest.raises(ValueError, match="same inputs"):
        cka_matrix([np.ones((5, 2)), np.ones((6, 2))])
    with pytest.raises(ValueError, match="at least 2"):
        cka(np.ones((1, 3)), np.ones((1, 3)))


def test_map_distances_follow_dissimilarity():
    """Classical MDS of an exactly Euclidean 1 - CKA recovers its distances."""
    pts = np.random.default_rng(0).uniform(0, 0.3, size=(6, 3))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    placed = cka_map(1.0 - d)
    got = np.linalg.norm(placed[:, None] - placed[None], axis=-1)
    np.testing.assert_allclose(got, d, atol=1e-5)
    turned = placed @ orthogonal(5, 3).astype(np.float32)
    again = cka_map(1.0 - d, previous=turned)
    np.testing.assert_allclose(again, turned, atol=1e-5)  # aligned onto the previous map
    assert cka_map(np.ones((1, 1))).shape == (1, 3)


def test_route_choice():
    assert route(10, [500, 500, 500]) == "gram"  # wide layers, few inputs
    assert route(1000, [16, 32, 64]) == "features"
    assert route(1000, [768] * 12) == "gram"  # GPT-2 small's 12 blocks on 1,000 inputs


@pytest.fixture(scope="module")
def trained_digits_features():
    """The digits CNN after 150 Adam steps on the real digits: features of the validation set."""
    import torch

    from nnviz3d.data.digits import load_digits_tensors
    from nnviz3d.embed.features import layer_features
    from nnviz3d.zoo import DigitsCNN

    (xtr, ytr), (xva, _) = load_digits_tensors()
    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        i = torch.randint(0, len(ytr), (64,))
        loss = torch.nn.functional.cross_entropy(model(xtr[i]), ytr[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    layers = ["stem", "block.conv1", "block", "down", "head.1", "head.2", "head.3"]
    feats = layer_features(model, xva, layers)
    return [feats[p] for p in layers]


def test_adjacent_layers_of_the_trained_digits_cnn_are_more_similar(trained_digits_features):
    m, undefined = cka_matrix(trained_digits_features)
    assert undefined == []
    n = len(m)
    adjacent = [m[i, i + 1] for i in range(n - 1)]
    distant = [m[i, j] for i in range(n) for j in range(i + 3, n)]
    assert np.mean(adjacent) > np.mean(distant) + 0.1
    for i in range(n - 3):
        assert m[i, i + 1] > m[i, i + 3], (i, m[i])
    placed = cka_map(m)  # the map puts the first layer farther from the last than from the next
    assert np.linalg.norm(placed[0] - placed[-1]) > np.linalg.norm(placed[0] - placed[1])
