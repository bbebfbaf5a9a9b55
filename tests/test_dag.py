from nnviz3d.dag import skip_flags, topological_order


def test_topological_order_is_deterministic_and_respects_edges():
    edges = [("a", "c"), ("b", "c"), ("c", "d")]
    assert topological_order(["d", "c", "b", "a"], edges) == ["b", "a", "c", "d"]


def test_skip_flags_mark_edges_that_bypass_other_nodes():
    # x -> f -> g -> add, and x -> add directly: the direct edge is a skip
    edges = [("x", "f"), ("f", "g"), ("g", "add"), ("x", "add")]
    assert skip_flags(edges) == [False, False, False, True]
    # two parallel branches are not skips
    assert skip_flags([("x", "a"), ("x", "b"), ("a", "m"), ("b", "m")]) == [False] * 4
