"""What the server remembers of past probe frames to build overlays: per module and kind,
a bounded series of histograms (for ridges), and each module's newest weight matrix (for
the PCA scatter).

A series keeps at most ``limit`` rows: when full, every other row is dropped, so it always
spans the whole run at a resolution that halves as the run doubles (memory stays bounded:
GPT-2 with three kinds at 128 rows is about 15 MB).
"""

from __future__ import annotations

import numpy as np

from ..protocol.overlay_frame import encode_overlays
from ..protocol.probe_frame import decode_probe
from ..scene.histogram_ridge import histogram_ridge
from ..scene.overlay import Overlay
from ..scene.param_scatter import param_scatter

SERIES_LIMIT = 128


class _Series:
    __slots__ = ("hists", "ranges", "seen", "steps", "stride")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.hists: list[np.ndarray] = []
        self.ranges: list[np.ndarray] = []
        self.stride = 1
        self.seen = 0

    def add(self, step: int, hist: np.ndarray, rng: np.ndarray, limit: int) -> None:
        self.seen += 1
        if (self.seen - 1) % self.stride:
            return
        if self.steps and step <= self.steps[-1]:  # a replayed or repeated step
            return
        self.steps.append(step)
        self.hists.append(np.array(hist, np.uint32))
        self.ranges.append(np.array(rng, np.float32))
        if len(self.steps) > limit:
            self.steps, self.hists, self.ranges = (self.steps[::2], self.hists[::2],
                                                   self.ranges[::2])
            self.stride *= 2


class ProbeHistory:
    def __init__(self, limit: int = SERIES_LIMIT) -> None:
        self.limit = limit
        self.series: dict[tuple[str, str], _Series] = {}
        self.matrices: dict[str, tuple[int, dict, np.ndarray]] = {}
        """module -> (step, matrix entry of the frame header, data) of its newest weight."""
        self.version = 0
        """Increases with every frame added (detail overlays are rebuilt when it moved)."""

    def add(self, data: bytes) -> dict:
        """Remember one probe frame; returns its header."""
        header, arrays = decode_probe(data)
        step = int(header["step"])
        for kind, info in header.get("kinds", {}).items():
            hist, rng = arrays[f"{kind}_hist"], arrays[f"{kind}_range"]
            for row, module in enumerate(info["modules"]):
                s = self.series.get((kind, module))
                if s is None:
                    s = self.series[(kind, module)] = _Series()
                s.add(int(info["step"]), hist[row], rng[row], self.limit)
        for m in header.get("matrices", []):
            if m["param"] != "bias":
                self.matrices[m["module"]] = (step, m, np.array(arrays[m["array"]]))
        self.version += 1
        return header

    def snapshot(self, module: str) -> dict:
        """Copies of ``module``'s series and newest matrix, taken on the event loop so a
        worker thread can build from them while new frames keep arriving."""
        series = {k: (list(s.steps), list(s.hists), list(s.ranges))
                  for k in ("weight", "grad", "act")
                  if (s := self.series.get((k, module))) is not None}
        return {"series": series, "matrix": self.matrices.get(module)}

    @staticmethod
    def detail_overlays(module: str, snapshot: dict) -> list[Overlay]:
        """Ridges of every kind recorded for ``module`` and the PCA scatter of its newest
        weight matrix (when it has one with at least 2 units)."""
        out = []
        for kind, (steps, hists, ranges) in snapshot["series"].items():
            out.append(histogram_ridge(module, kind, steps, np.stack(hists), np.stack(ranges)))
        if snapshot["matrix"] is not None:
            step, m, data = snapshot["matrix"]
            if data.shape[0] >= 2:
                o = param_scatter(module, data, full_shape=m["full_shape"], method=m["method"])
                o.meta["step"] = step
                out.append(o)
        return out

    @classmethod
    def build_detail(cls, module: str, snapshot: dict, step: int) -> bytes:
        return encode_overlays("detail", step, cls.detail_overlays(module, snapshot),
                               module=module)
