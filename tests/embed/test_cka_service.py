"""Layer similarity during a real run (the digits MLP on scikit-learn's digits): watch() with
``inputs=`` and ``embed=`` records a CKA frame at the embedding cadence (computed off the
training thread, from the same forward pass as the embedded layers' features), the final one
carries the features, and a replay of the recording serves the matrix at or before a step."""

import numpy as np
import pytest
import torch

import nnviz3d
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.protocol.cka_frame import CKA_KEY, check_cka, features_of
from nnviz3d.record import RunReader
from nnviz3d.record.run_file import EMBEDDING
from nnviz3d.server.live_feed import LiveFeed

STEPS = 12


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    path = tmp_path_factory.mktemp("cka") / "run.nnv3d"
    w = nnviz3d.watch(
        model,
        x[:1],
        record=path,
        serve=False,
        quiet=True,
        strict=True,
        every=1,
        inputs=xv[:200],
        labels=yv[:200],
        embed=["2"],
        embed_every=4,
        embed_method="pca",
    )
    w.embeddings.final_wait = 5  # the embeddings' final wait is not what this tests
    seen_threads = []
    real = w.embeddings.cka._compute

    def compute(*a):  # which thread computes (the real computation runs)
        import threading

        seen_threads.append(threading.current_thread().name)
        return real(*a)

    w.embeddings.cka._compute = compute
    with w:
        for _ in range(STEPS):
            idx = torch.randint(0, len(y), (64,))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
    return path, seen_threads, w


def cka_rows(path):
    with RunReader(path) as reader:
        return [
            (step, check_cka(data))
            for _, step, kinds, data in reader.frames()
            if kinds == [EMBEDDING] and check_cka_layer(data)
        ]


def check_cka_layer(data):
    from nnviz3d.protocol.codec import decode_frame

    return decode_frame(data)[0].get("layer") == CKA_KEY


def test_records_a_cka_frame_at_the_embedding_cadence(run):
    path, threads, w = run
    rows = cka_rows(path)
    steps = sorted({s for s, _ in rows})
    # at the embedding cadence (even while the embedding process starts) and the final step;
    # while the previous matrix is still being computed a due matrix waits for the first step
    # after it (on a loaded machine 8 can become 9 or 10), and the cadence counts from there
    assert steps[0] == 0 and steps[-1] == STEPS - 1, steps
    assert all(b - a >= 4 for a, b in zip(steps, steps[1:-1])), steps
    assert len(steps) >= 3, steps
    assert set(threads) == {"nnviz3d-cka"}  # never the training thread
    header, arrays = rows[-1][1]
    assert header["layers"] == ["0", "1", "2", "3", "4", "5"]  # the probed layers, graph order
    m = arrays["matrix"]
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-6)
    np.testing.assert_allclose(m, m.T, atol=1e-6)
    assert arrays["points"].shape == (6, 3)
    assert m[1, 2] > m[1, 5]  # a Linear is closer to its ReLU than to the logits


def test_the_final_frame_carries_the_features(run):
    path, _, w = run
    header, arrays = cka_rows(path)[-1][1]
    feats = features_of(header, arrays)
    assert [f.shape for f in feats] == [
        (200, 64),
        (200, 32),
        (200, 32),
        (200, 16),
        (200, 16),
        (200, 10),
    ]
    from nnviz3d.analysis.cka import cka_matrix

    again, _ = cka_matrix(feats)  # float16 features: the same matrix, nearly
    np.testing.assert_allclose(again, arrays["matrix"], atol=2e-3)
    assert not any("features" in a for _, (_, a) in cka_rows(path)[:-1])


def test_replay_serves_the_matrix_at_or_before_a_step(run):
    path, _, _ = run
    feed = LiveFeed(reader_factory=lambda: RunReader(path))
    try:
        at = {layer: data for layer, _, data in feed._embeddings_at(6, {})}
        steps = sorted({s for s, _ in cka_rows(path)})
        header, _ = check_cka(at[CKA_KEY])
        assert header["step"] == max(s for s in steps if s <= 6)
        at = {layer: data for layer, _, data in feed._embeddings_at(100, {})}
        assert check_cka(at[CKA_KEY])[0]["step"] == 11
    finally:
        feed.close()
