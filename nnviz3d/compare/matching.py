"""Which layer of model (or run) B is which layer of A.

By path first: nodes with the same path are the same layer. The parameterised layers left on
either side (renamed modules, a wrapper that adds a prefix, a file format that names nodes its
own way) are then matched by structure: the sequences of their parameter shapes, in graph
order, are aligned by longest common subsequence (``difflib.SequenceMatcher``), so a run of
layers with the same shapes in the same order pairs up even when every name differs.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from ..capture.formats.tensor_tree import BUFFER_NAMES
from ..graph import Graph


def signature(node) -> tuple:
    """A layer's shape signature: its parameter shapes, sorted (names differ by format), without
    the buffers a file lists beside them nor the masks of torch.nn.utils.prune (a pruned
    copy saves ``weight_orig`` and ``weight_mask`` for ``weight``)."""
    return tuple(
        sorted(
            tuple(s)
            for k, s in node.param_shapes.items()
            if k.rpartition(".")[2] not in BUFFER_NAMES and not k.endswith("_mask")
        )
    )


def match_layers(a: Graph, b: Graph) -> dict[str, str]:
    """``{path in A: path in B}``: every common path, then parameterised layers by structure."""
    paths_b = {n.path for n in b.nodes}
    pairs = {n.path: n.path for n in a.nodes if n.path in paths_b}
    left_a = [n for n in weighted_layers(a) if n.path not in pairs]
    taken = set(pairs.values())
    left_b = [n for n in weighted_layers(b) if n.path not in taken]
    if left_a and left_b:
        sig_a, sig_b = [signature(n) for n in left_a], [signature(n) for n in left_b]
        matcher = SequenceMatcher(None, sig_a, sig_b, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                pairs[left_a[block.a + k].path] = left_b[block.b + k].path
    return pairs


def weighted_layers(g: Graph) -> list:
    """The layers that hold weights (parameterised, not groups): what compare compares."""
    return [n for n in g.nodes if n.params and not n.is_group]


MIN_SHARED = 0.5
"""Fraction of the bigger side's parameterised layers that must match for a comparison."""


def shared_enough(a: Graph, b: Graph, pairs: dict[str, str]) -> bool:
    """True when at least :data:`MIN_SHARED` of the bigger model's parameterised layers have
    a partner: two versions of one architecture, not two models that happen to share a
    layer shape."""
    with_params = [len(weighted_layers(g)) for g in (a, b)]
    params_a = {n.path for n in weighted_layers(a)}
    matched = sum(1 for pa in pairs if pa in params_a)
    return min(with_params) > 0 and matched >= MIN_SHARED * max(with_params)
