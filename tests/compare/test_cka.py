"""Cross-model CKA in ``nnviz3d compare`` (nnviz3d/compare/cka.py): two recorded runs of the
digits MLP (different seeds) compared layer by layer from the features their final CKA frames
carry; a recording without them says so instead of a matrix; two models on the same inputs;
a model with itself has a diagonal of 1."""

import numpy as np
import pytest
import torch

import nnviz3d
from nnviz3d.compare.cka import models_cross_cka, runs_cross_frame, specs_cross_frame
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.protocol.cka_frame import CKA_KEY, check_cka
from nnviz3d.record import RunReader


def mlp():
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
    )


def record(path, seed: int, embed: bool = True):
    torch.manual_seed(seed)
    (x, y), (xv, yv) = load_digits_tensors()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    extra = dict(embed=["2"], embed_every=3, embed_method="pca") if embed else {}
    w = nnviz3d.watch(
        model, x[:1], record=path, serve=False, quiet=True, every=1,
        inputs=xv[:150], labels=yv[:150], **extra,
    )  # fmt: skip
    if embed:
        w.embeddings.final_wait = 5
    for _ in range(6):
        idx = torch.randint(0, len(y), (64,))
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
    w.close()
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("cross")
    return record(d / "a.nnv3d", 0), record(d / "b.nnv3d", 1), record(d / "c.nnv3d", 2, False)


def test_two_runs_cross_matrix(runs):
    a, b, _ = runs
    with RunReader(a) as ra, RunReader(b) as rb:
        header, arrays = check_cka(runs_cross_frame(ra, rb))
    assert header["cross"] and header["layers"] == header["layers_b"] == ["0", "1", "2", "3"]
    m = arrays["matrix"]
    assert m.shape == (4, 4)
    assert m[0, 0] == pytest.approx(1.0, abs=1e-3)  # the same inputs, flattened in both
    assert m[1, 1] > m[1, 3] - 0.05 and m[0, 0] > m[0, 3]
    assert "step 5" in header["note"] and "150 probe inputs" in header["note"]


def test_a_recording_without_features_says_so(runs):
    a, _, c = runs
    with RunReader(a) as ra, RunReader(c) as rc:
        header, arrays = check_cka(runs_cross_frame(ra, rc))
    assert arrays["matrix"].shape == (0, 0)
    assert "B records no layer similarity" in header["note"]


def test_serve_runs_offers_the_cross_frame_on_join_and_seek(runs):
    from nnviz3d.compare import serve_compare

    a, b, _ = runs
    handle = serve_compare(str(a), str(b), open_browser=False, quiet=True, port=0)
    try:
        from nnviz3d.server.app_keys import FEED

        feed = handle.server.app[FEED]
        header, _ = check_cka(feed.embeddings[CKA_KEY])
        assert header["cross"] and len(header["layers"]) == 4
        at = {layer: data for layer, _, data in feed._embeddings_at(3, {})}
        assert check_cka(at[CKA_KEY])[0]["cross"]
    finally:
        handle.close()


def test_a_model_with_itself_has_a_diagonal_of_1():
    torch.manual_seed(0)
    model = mlp()
    x = load_digits_tensors()[1][0][:100]
    m, la, lb = models_cross_cka(model, model, x)
    assert la == lb == ["0", "1", "2", "3"]
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-6)
    other = mlp()  # another init: the flattened input is still the same
    m2, _, _ = models_cross_cka(model, other, x)
    assert m2[0, 0] == pytest.approx(1.0, abs=1e-6) and m2[1, 1] < 0.999


def test_models_without_inputs_say_so():
    header, arrays = check_cka(specs_cross_frame("nnviz3d.zoo:digits_cnn", "x:y", None))
    assert arrays["matrix"].shape == (0, 0) and "--inputs" in header["note"]


def test_two_specs_on_an_inputs_file(tmp_path):
    """``nnviz3d compare SPEC SPEC --inputs FILE``: the file is loaded without running code
    (weights_only) and both models run on it; the digits CNN against itself: diagonal 1."""
    x = load_digits_tensors()[1][0][:80]
    torch.save(x, tmp_path / "probe.pt")
    spec = "nnviz3d.zoo:digits_cnn"
    header, arrays = check_cka(specs_cross_frame(spec, spec, tmp_path / "probe.pt"))
    assert header["layers"] == header["layers_b"] and len(header["layers"]) == 14
    np.testing.assert_allclose(np.diag(arrays["matrix"]), 1.0, atol=1e-5)
    assert "80 probe inputs" in header["note"]
    torch.save({"not": "a tensor"}, tmp_path / "bad.pt")
    header, arrays = check_cka(specs_cross_frame(spec, spec, tmp_path / "bad.pt"))
    assert arrays["matrix"].shape == (0, 0) and "not a tensor" in header["note"]
