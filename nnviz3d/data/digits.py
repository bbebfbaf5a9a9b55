"""scikit-learn's bundled 8x8 digits as tensors: the demo's, the landscape demo's and the
tests' real data set (no download)."""

from __future__ import annotations


def load_digits_tensors():
    """scikit-learn's 1,797 8x8 digits as float tensors in [0, 1], split 80/20 (fixed seed):
    ``((x_train, y_train), (x_val, y_val))``, images shaped ``N x 1 x 8 x 8``."""
    import numpy as np
    import torch

    from ..extras import require

    datasets = require("embed", "sklearn.datasets", "the demo's digits data set needs")
    d = datasets.load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(d.target, dtype=torch.long)
    order = torch.tensor(np.random.default_rng(0).permutation(len(y)))
    x, y = x[order], y[order]
    cut = int(0.8 * len(y))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])
