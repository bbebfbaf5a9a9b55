"""A short recorded training run for the replay tests (tests/browser/test_cka.py,
test_embeddings.py): the digits CNN on scikit-learn's digits, its head embedded by PCA (each
job ends in milliseconds) with the layer similarity (CKA) riding along."""

import time

import torch

import nnviz3d
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.zoo import DigitsCNN

PCA_RUN_STEPS = 30
PCA_RUN_EVERY = 5


def record_pca_run(path, steps=PCA_RUN_STEPS, every=PCA_RUN_EVERY):
    """Record ``steps`` training steps to ``path``, ``head.2`` embedded by PCA every ``every``
    steps: each job is answered before the next step, so one goes out every ``every`` steps,
    and the last step is embedded at close. Returns the (closed) watcher."""
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    w = nnviz3d.watch(
        model,
        x[:1],
        record=path,
        serve=False,
        every=1,
        quiet=True,
        inputs=xv[:120],
        labels=yv[:120],
        embed=["head.2"],
        embed_every=every,
        embed_method="pca",
    )
    for _step in range(steps):
        idx = torch.randint(0, len(y), (64,))
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
        deadline = time.monotonic() + 30
        while w.embeddings.inflight and time.monotonic() < deadline:
            time.sleep(0.01)  # the process starts once (a second or two), then answers at once
    w.close()  # embeds the last step and records it before the recording closes
    return w
