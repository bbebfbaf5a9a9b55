"""The graph IR: what a model *is*, independent of torch, layout and rendering.

A :class:`Graph` holds one :class:`Node` per module of the model (containers included, so the
hierarchy is complete), one node per significant functional op that runs in a container's own
``forward`` (residual adds, concatenations, attention products), and one node per model input
and output. :class:`Edge` records a tensor flowing between two *units*: nodes that are leaves of
the data flow (a module none of whose children ran, an op, an input or an output).

Everything here is plain dataclasses, strings and numbers so that layout, scene, protocol and
export never need torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

ROLE_MODULE = "module"
ROLE_OP = "op"
ROLE_INPUT = "input"
ROLE_OUTPUT = "output"

EDGE_DATA = "data"
EDGE_SKIP = "skip"


@dataclass
class Node:
    """One module, op, input or output of the model."""

    path: str
    """Dotted module path (``layer1.0.conv2``); ``""`` is the root module; ops are
    ``<parent>.<op>[_k]``; inputs ``input:<name>``; outputs ``output:<k>``."""
    kind: str
    """Module class name (``Conv2d``), op name (``add``) or ``Input``/``Output``."""
    role: str = ROLE_MODULE
    """One of ``module``, ``op``, ``input``, ``output``."""
    parent: str | None = None
    """Path of the enclosing module node; ``None`` only for the root."""
    is_group: bool = False
    """True for modules whose children ran (or, when never called, that have children)."""
    called: bool = True
    """False for modules that exist but did not run in the captured forward pass."""
    call_index: int = 0
    """0 for the first call of a module; a module called again gets a node ``path@k``."""
    module_path: str | None = None
    """For repeated calls and ops: the module this node belongs to."""
    input_shapes: list[list[int]] = field(default_factory=list)
    input_dtypes: list[str] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    output_dtypes: list[str] = field(default_factory=list)
    params: int = 0
    """Elements in parameters this module registers directly (tied ones included)."""
    trainable_params: int = 0
    total_params: int = 0
    """Unique parameter elements in this module's subtree (a tied tensor counts once)."""
    total_trainable_params: int = 0
    buffers: int = 0
    """Elements in buffers this module registers directly."""
    param_shapes: dict[str, list[int]] = field(default_factory=dict)
    shared_params: dict[str, str] = field(default_factory=dict)
    """``{local name: path of the first owner}`` for parameters tied to another module."""
    repeat_of: str | None = None
    """Path of the first sibling with the same structure (a transformer's layers 1..N-1 point
    at layer 0)."""
    repeat_group: str | None = None
    """Identifier shared by all members of a run of structurally identical siblings."""

    depth: int = 0
    """Nesting depth: 0 for the root, 1 for its children (and for inputs/outputs), ..."""

    @property
    def is_unit(self) -> bool:
        """True for nodes that take part in the data flow as one block."""
        if self.role != ROLE_MODULE:
            return True
        return self.called and not self.is_group


@dataclass
class Edge:
    """A tensor flowing from one unit to another."""

    src: str
    dst: str
    kind: str = EDGE_DATA
    """``data`` or ``skip`` (the source also reaches the destination through other units:
    a residual connection)."""
    shape: list[int] | None = None
    dtype: str | None = None


@dataclass
class Graph:
    """A captured model: nodes in execution order, edges between units, and totals."""

    model: str
    strategy: str
    nodes: list[Node]
    edges: list[Edge]
    total_params: int
    trainable_params: int
    seconds: float = 0.0
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)
    """Strategies that failed before the one that worked, with their one-line reason."""
    _index: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index = {n.path: n for n in self.nodes}
        if len(self._index) != len(self.nodes):
            seen: set[str] = set()
            dupes = [n.path for n in self.nodes if n.path in seen or seen.add(n.path)]
            raise ValueError(f"duplicate node paths in graph: {dupes[:5]}")

    def __getitem__(self, path: str) -> Node:
        return self._index[path]

    def __contains__(self, path: str) -> bool:
        return path in self._index

    def units(self) -> Iterator[Node]:
        """Nodes that take part in the data flow (leaf modules, ops, inputs, outputs)."""
        return (n for n in self.nodes if n.is_unit)

    def children(self, path: str) -> list[Node]:
        return [n for n in self.nodes if n.parent == path]

    def ancestors(self, path: str) -> list[str]:
        """Paths of the groups enclosing ``path``, innermost first, root (``""``) last."""
        out = []
        parent = self._index[path].parent
        while parent is not None:
            out.append(parent)
            parent = self._index[parent].parent
        return out

    def to_json(self) -> dict:
        """The stable JSON document of ``nnviz3d inspect --json``."""
        return {
            "model": self.model,
            "strategy": self.strategy,
            "seconds": round(self.seconds, 4),
            "device": self.device,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "notes": list(self.notes),
            "nodes": [_node_json(n) for n in self.nodes],
            "edges": [[e.src, e.dst] for e in self.edges],
            "edge_kinds": [e.kind for e in self.edges],
        }


def _node_json(n: Node) -> dict:
    d = dataclasses.asdict(n)
    d["output_shape"] = n.output_shapes[0] if n.output_shapes else None
    return d
