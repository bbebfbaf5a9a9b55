"""The readable tree printed by ``nnviz3d inspect``."""

from __future__ import annotations

from .graph import ROLE_MODULE, Graph


def render_tree(graph: Graph, depth: int | None = None) -> str:
    rows = [("path", "kind", "output shape", "params", "total")]
    for n in graph.nodes:
        if depth is not None and n.depth > depth:
            continue
        name = ("  " * n.depth) + (n.path.rpartition(".")[2] if n.path else graph.model)
        if n.path.startswith(("input:", "output:")):
            name = "  " + n.path
        shape = (
            n.output_shapes[0]
            if n.output_shapes
            else (n.input_shapes[0] if n.role == "output" and n.input_shapes else None)
        )
        shape_text = "x".join(str(d) for d in shape) if shape else "-"
        own = _count(n.params) if n.role == ROLE_MODULE else ""
        if n.shared_params:
            own += " (tied)"
        total = _count(n.total_params) if n.role == ROLE_MODULE and n.is_group else ""
        kind = n.kind + ("" if n.called or n.role != ROLE_MODULE else " (not called)")
        if n.repeat_of:
            kind += f" (= {n.repeat_of.rpartition('.')[2]})"
        rows.append((name, kind, shape_text, own, total))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [
        "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in rows
    ]
    frozen = graph.total_params - graph.trainable_params
    lines.append("")
    lines.append(
        f"{graph.model}: {graph.total_params:,} parameters "
        f"({graph.trainable_params:,} trainable, {frozen:,} frozen), "
        f"{sum(1 for _ in graph.units())} blocks, {len(graph.edges)} edges "
        f"({sum(e.kind == 'skip' for e in graph.edges)} skip); captured with "
        f"{graph.strategy} in {graph.seconds:.2f} s"
    )
    for note in graph.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _count(n: int) -> str:
    if n == 0:
        return "0"
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
