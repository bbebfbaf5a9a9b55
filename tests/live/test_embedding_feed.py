"""nnviz3d/live/embedding_feed.py: ``embed=`` and ``embed_method=`` are checked before a run
starts anything, and a refused run leaves no recording behind."""

import pytest
import torch
from torch import nn

import nnviz3d


@pytest.mark.parametrize(
    "embed, method, message",
    [
        (["1"], "<script>alert(1)</script>", "embed_method must be one of"),
        (["../0"], "pca", "embed= names no module"),
    ],
    ids=["method", "layer"],
)
def test_a_refused_embedding_starts_nothing_and_records_nothing(tmp_path, embed, method, message):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    path = tmp_path / "run.nnv3d"
    with pytest.raises(ValueError, match=message):
        nnviz3d.watch(
            model,
            torch.randn(1, 4),
            record=path,
            serve=False,
            quiet=True,
            inputs=torch.randn(8, 4),
            embed=embed,
            embed_method=method,
        )
    assert not path.exists()
    assert not model._forward_hooks and not model[0]._forward_hooks  # the probes were removed
