"""Helpers shared by the two strategies that read an fx graph (torch.export and torch.fx)."""

from __future__ import annotations

import torch.fx

from .trace import OpRecord


def op_record(node: torch.fx.Node, op: str, stack, vid: int, ids: dict, params: set) -> OpRecord:
    """The :class:`OpRecord` of one fx node producing value ``vid``."""
    return OpRecord(
        op=op,
        stack=tuple(stack),
        inputs=[ids[a] for a in node.all_input_nodes if a in ids],
        outputs=[vid],
        uses_param=any(a in params for a in node.all_input_nodes),
    )


def output_ids(node: torch.fx.Node, ids: dict) -> list[int]:
    """Value ids of the tensors an fx ``output`` node returns, in order."""
    outs: list[torch.fx.Node] = []
    torch.fx.node.map_arg(node.args[0], outs.append)
    return [ids[a] for a in outs if a in ids]
