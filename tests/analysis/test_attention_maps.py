"""Attention weights recomputed from each scaled_dot_product_attention call."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnviz3d.analysis.attention_maps import attention_weights
from nnviz3d.analysis.input_views import inspect_input


@pytest.mark.parametrize("causal", [False, True])
def test_weights_reproduce_sdpa_output(causal):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 5, 8) for _ in range(3))
    w = attention_weights(q, k, is_causal=causal)
    torch.testing.assert_close(
        w @ v, F.scaled_dot_product_attention(q, k, v, is_causal=causal), rtol=1e-5, atol=1e-5
    )
    mask = torch.rand(5, 5) > 0.3
    mask.fill_diagonal_(True)
    torch.testing.assert_close(
        attention_weights(q, k, mask) @ v,
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        rtol=1e-5,
        atol=1e-5,
    )


def test_gpt2_shows_every_layers_heads_causally():
    from nnviz3d import zoo

    model, tokens = zoo.gpt2()
    overlays, _ = inspect_input(model.eval(), tokens, [])
    att = {o.module: o for o in overlays if o.name == "attention"}
    assert sorted(att) == sorted(f"transformer.h.{i}.attn" for i in range(12))
    w = att["transformer.h.5.attn"].arrays["values"]
    assert w.shape == (12, 16, 16)
    np.testing.assert_allclose(w.sum(axis=-1), 1, rtol=1e-5)
    assert np.all(np.triu(w, k=1) == 0)  # a query never attends to later tokens
    assert att["transformer.h.5.attn"].meta["axes"] == ["head", "query", "key"]
