"""Which steps hold which probe kinds, for the timeline's tick rows: bounded whatever the run's
length.

Each kind keeps at most ``LIMIT`` steps: the first step seen in each bin of ``stride`` steps.
When a kind has more bins than that, its stride doubles and the bins merge, so 200,000 probed
steps cost no more memory, and no larger a timeline message, than 256 do. A tick then stands
for "this kind was captured at this step, and maybe more often in the next ``stride - 1``".
"""

from __future__ import annotations

import bisect

from ..protocol import PROBE_KINDS
from ..record.run_file import MATRICES

KINDS = (*PROBE_KINDS, MATRICES)
"""The kinds the timeline marks: weights, gradients, activations and weight maps."""
LIMIT = 256
"""Most steps kept (and sent) per kind."""


class StepMarks:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.steps: dict[str, list[int]] = {k: [] for k in KINDS}
        """Per kind, sorted: the first step seen in each bin of ``stride[kind]`` steps."""
        self.stride: dict[str, int] = {k: 1 for k in KINDS}
        self.count: dict[str, int] = {k: 0 for k in KINDS}
        """Frames seen per kind (every one, not only those kept)."""
        self.last: dict[str, int] = {k: -1 for k in KINDS}
        """The newest step seen per kind (always exact)."""

    def add(self, step: int, kinds: list[str]) -> None:
        for kind in kinds:
            if kind not in self.steps:
                continue  # embeddings and loss-only frames have no row
            self.count[kind] += 1
            self.last[kind] = max(self.last[kind], step)
            steps, stride = self.steps[kind], self.stride[kind]
            i = bisect.bisect_left(steps, step)
            if i < len(steps) and steps[i] // stride == step // stride:
                if steps[i] > step:
                    steps[i] = step  # an earlier step of the same bin
                continue
            if i > 0 and steps[i - 1] // stride == step // stride:
                continue
            steps.insert(i, step)
            while len(steps) > self.limit:
                self._coarsen(kind)

    def _coarsen(self, kind: str) -> None:
        stride = self.stride[kind] * 2
        kept: list[int] = []
        for s in self.steps[kind]:
            if not kept or kept[-1] // stride != s // stride:
                kept.append(s)
        self.steps[kind][:] = kept  # in place: add() holds the list
        self.stride[kind] = stride

    def message(self) -> dict:
        """``{kind: {"steps": [...], "stride", "count", "last"}}`` for the kinds seen."""
        return {
            k: {
                "steps": list(self.steps[k]),
                "stride": self.stride[k],
                "count": self.count[k],
                "last": self.last[k],
            }
            for k in KINDS
            if self.count[k]
        }
