"""What every capture strategy produces: a flat, torch-free record of one forward pass.

A strategy (torch.export, torch.fx, module hooks) turns a model run into a :class:`Trace`:
the ops in execution order, each with the stack of module calls it ran inside, the ids of the
activation values it read and the values it produced. :mod:`nnviz3d.capture.flow` then turns
any trace into the same :class:`~nnviz3d.graph.Graph`, so strategies only differ in how they
observe the model, never in how the graph is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Shape = list  # list[int | str]; a symbolic dimension is kept as its string


@dataclass
class Value:
    """Shape and dtype of one tensor seen in the trace."""

    shape: Shape | None
    dtype: str | None


@dataclass
class OpRecord:
    """One op of the forward pass."""

    op: str
    """Normalised op name: ``add``, ``conv2d``, ``scaled_dot_product_attention``, ``view``..."""
    stack: tuple[tuple[str, int], ...]
    """``(module path, call index)`` of every module call it ran inside, outermost first;
    always starts with the root ``("", 0)``."""
    inputs: list[int]
    """Ids of the activation values it read (parameters, buffers and constants excluded)."""
    outputs: list[int]
    """Ids of the values it produced."""
    uses_param: bool = False
    """True when it read a trainable parameter directly."""


@dataclass
class Trace:
    strategy: str
    inputs: list[tuple[str, int]] = field(default_factory=list)
    """``(name, value id)`` of the model's tensor inputs."""
    outputs: list[int] = field(default_factory=list)
    """Value ids of the model's tensor outputs."""
    ops: list[OpRecord] = field(default_factory=list)
    values: dict[int, Value] = field(default_factory=dict)
    module_kinds: dict[str, str] = field(default_factory=dict)
    """Class name of every module path the trace saw."""


def dtype_name(dtype) -> str | None:
    """``torch.float32`` -> ``float32`` (works on any object with a str)."""
    return None if dtype is None else str(dtype).removeprefix("torch.")


def shape_list(shape) -> Shape | None:
    if shape is None:
        return None
    out = []
    for d in shape:
        try:
            out.append(int(d))
        except Exception:  # symbolic dimension
            out.append(str(d))
    return out
