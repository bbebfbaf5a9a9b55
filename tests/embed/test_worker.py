"""The embedding process: PCA at once, UMAP after, errors answered, never a crash."""

import queue

import numpy as np
import pytest

from nnviz3d.embed.worker import EmbeddingWorker


@pytest.mark.umap
def test_worker_answers_pca_then_umap_and_survives_bad_data():
    got: queue.Queue = queue.Queue()
    worker = EmbeddingWorker(lambda kind, payload: got.put((kind, payload)))
    try:
        rng = np.random.default_rng(0)
        bad = rng.normal(size=(120, 16)).astype(np.float32)
        bad[5, 3] = np.nan
        worker.submit("broken", 1, bad, None)  # another layer: not replaced by the next job
        centres = rng.normal(scale=6, size=(4, 16))
        labels = np.repeat(np.arange(4), 50)
        good = (centres[labels] + rng.normal(size=(200, 16))).astype(np.float32)
        worker.submit("fc", 2, good, labels)
        seen = []
        while not any(k == "result" and p["method"] == "umap" for k, p in seen):
            kind, payload = got.get(timeout=180)
            if kind in ("result", "error"):
                seen.append((kind, payload))
        kinds = [(k, p.get("method") or p.get("message", "")[:60]) for k, p in seen]
        errors = [p for k, p in seen if k == "error"]
        assert errors and errors[0]["layer"] == "broken" and "NaN" in errors[0]["message"], kinds
        results = [p for k, p in seen if k == "result" and p["layer"] == "fc"]
        assert [r["method"] for r in results] == ["pca", "umap"]  # something at once, then UMAP
        umap = results[-1]
        assert umap["points"].shape == (200, 3) and umap["step"] == 2
        assert np.abs(umap["points"]).max() <= 1.0 + 1e-5
        assert umap["knn"] > 0.9  # four well separated clusters stay separated
    finally:
        worker.close()
    assert not worker.alive()


def test_view_embeds_a_model_that_is_not_training():
    import time

    import torch

    import nnviz3d
    from nnviz3d.data.digits import load_digits_tensors
    from nnviz3d.zoo import DigitsCNN

    torch.manual_seed(0)
    _, (xv, yv) = load_digits_tensors()
    handle = nnviz3d.view(
        DigitsCNN(),
        xv[:1],
        inputs=xv[:100],
        labels=yv[:100],
        embed=["pool"],
        embed_method="pca",
        open_browser=False,
        quiet=True,
        port=0,
    )
    try:
        deadline = time.time() + 60
        while "pool" not in handle.embeddings.results and time.time() < deadline:
            time.sleep(0.1)
        result = handle.embeddings.results["pool"]
        assert result["method"] == "pca" and result["step"] == 0
    finally:
        handle.close()
    assert not handle.embeddings.worker.alive()
