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
    the buffers a file lists beside them."""
    return tuple(sorted(tuple(s) for k, s in node.param_shapes.items()
                        if k.rpartition(".")[2] not in BUFFER_NAMES))


def match_layers(a: Graph, b: Graph) -> dict[str, str]:
    """``{path in A: path in B}``: every common path, then parameterised layers by structure."""
    paths_b = {n.path for n in b.nodes}
    pairs = {n.path: n.path for n in a.nodes if n.path in paths_b}
    left_a = [n for n in a.nodes if n.params and not n.is_group and n.path not in pairs]
    taken = set(pairs.values())
    left_b = [n for n in b.nodes if n.params and not n.is_group and n.path not in taken]
    if left_a and left_b:
        sig_a, sig_b = [signature(n) for n in left_a], [signature(n) for n in left_b]
        matcher = SequenceMatcher(None, sig_a, sig_b, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                pairs[left_a[block.a + k].path] = left_b[block.b + k].path
    return pairs


MIN_SHARED = 0.5
"""Fraction of the bigger side's parameterised layers that must match for a comparison."""


def shared_enough(a: Graph, b: Graph, pairs: dict[str, str]) -> bool:
    """True when at least :data:`MIN_SHARED` of the bigger model's parameterised layers have
    a partner: two versions of one architecture, not two models that happen to share a
    layer shape."""
    with_params = [sum(1 for n in g.nodes if n.params and not n.is_group) for g in (a, b)]
    params_a = {n.path for n in a.nodes if n.params and not n.is_group}
    matched = sum(1 for pa in pairs if pa in params_a)
    return min(with_params) > 0 and matched >= MIN_SHARED * max(with_params)
