"""What the server remembers of past probe frames: to build overlays, per module and kind, a
bounded series of histograms (for ridges) and each module's newest weight matrix (for the PCA
scatter); for the loss chart, the metrics reported (:class:`ScalarHistory`, decimated past
``HISTORY_ROWS`` rows).

A series keeps at most ``limit`` rows: when full, every other row is dropped, so it always
spans the whole run at a resolution that halves as the run doubles (memory stays bounded:
GPT-2 with three kinds at 128 rows is about 15 MB).
"""

from __future__ import annotations

import math

import numpy as np

from ..protocol.codec import encode_frame
from ..protocol.messages import SCALARS
from ..protocol.overlay_frame import encode_overlays
from ..protocol.probe_frame import SPLITS, decode_probe
from ..scene.histogram_ridge import histogram_ridge
from ..scene.overlay import Overlay
from ..scene.param_scatter import param_scatter

SERIES_LIMIT = 128
HISTORY_ROWS = 16_384
"""Metric rows kept for the loss chart: beyond, the oldest half is decimated (min/max kept)."""
F32_MAX = float(np.finfo(np.float32).max)


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
            self.steps, self.hists, self.ranges = (
                self.steps[::2],
                self.hists[::2],
                self.ranges[::2],
            )
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
        series = {
            k: (list(s.steps), list(s.hists), list(s.ranges))
            for k in ("weight", "grad", "act")
            if (s := self.series.get((k, module))) is not None
        }
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
        return encode_overlays("detail", step, cls.detail_overlays(module, snapshot), module=module)


class ScalarHistory:
    """The run's metrics, one row per report, as growing numpy columns: appending a row
    costs the same at row ten as at row ten million. Memory is bounded: past ``limit`` rows
    the oldest half is decimated (buckets of 4 rows of a split keep the rows holding the
    minimum and the maximum of the chart's metric, so spikes and a diverged NaN survive), and
    ``epoch`` counts those compactions (a client then needs the whole history again).

    ``frame()`` is the ``scalars`` frame of the whole history (sent on join and after a
    compaction), ``frame(start)`` the rows from ``start`` on (``"from": start``), sent to a
    client that has the rows before it: its size depends on the rows new since the last
    push, never on the run's length. Frames are the ones ``encode_scalars`` makes of the
    same rows (a test holds them equal)."""

    def __init__(self, limit: int = HISTORY_ROWS) -> None:
        self.limit = max(8, limit)
        self.count = 0
        self.names: list[str] = []
        self._col: dict[str, int] = {}
        self._steps = np.zeros(1024, np.int32)
        self._split = np.zeros(1024, np.uint8)
        self._values = np.full((1024, 4), np.nan, np.float32)
        self._given = np.zeros((1024, 4), np.uint8)
        self.version = 0
        """Increases with every row appended."""
        self.epoch = 0
        """Increases when rows already sent change: a compaction or a new metric name."""
        self._frame: tuple[tuple, bytes] | None = None
        self.encodes = 0
        """Scalars frames encoded so far (the cost is counted, not timed, by the tests)."""
        self.rows_encoded = 0
        """Rows those frames held, all together."""

    def append(self, step: int, split: str, scalars: dict[str, float]) -> None:
        n = self.count
        if n >= self.limit:
            self._compact()
            n = self.count
        if n == len(self._steps):  # double the rows: amortised O(1) per row
            self._steps = np.concatenate([self._steps, np.zeros_like(self._steps)])
            self._split = np.concatenate([self._split, np.zeros_like(self._split)])
            self._values = np.concatenate([self._values, np.full_like(self._values, np.nan)])
            self._given = np.concatenate([self._given, np.zeros_like(self._given)])
        self._steps[n] = step
        self._split[n] = SPLITS.index(split) if split in SPLITS else 0
        for name, value in scalars.items():
            col = self._col.get(name)
            if col is None:
                col = self._add_column(name)
            if not -F32_MAX <= value <= F32_MAX and value == value:
                value = math.copysign(math.inf, value)  # beyond float32: as encode_scalars
            self._values[n, col] = value
            self._given[n, col] = 1
        self.count = n + 1
        self.version += 1

    def extend(self, rows) -> None:
        for step, split, scalars in rows:
            self.append(step, split, scalars)

    def _add_column(self, name: str) -> int:
        col = self._col[name] = len(self.names)
        self.names.append(name)
        self.epoch += 1  # the columns of the frames already sent changed
        if col == self._values.shape[1]:  # double the columns
            values = np.full((len(self._values), 2 * col), np.nan, np.float32)
            values[:, :col] = self._values
            given = np.zeros((len(self._given), 2 * col), np.uint8)
            given[:, :col] = self._given
            self._values, self._given = values, given
        return col

    def _compact(self) -> None:
        """Halve the oldest half: amortised, two rows' work per row appended."""
        half = self.count // 2
        col = self._col.get("loss", 0)
        keep = [np.arange(half, self.count)]
        for split in (0, 1):
            idx = np.flatnonzero(self._split[:half] == split)
            whole = len(idx) // 4 * 4
            keep.append(idx[whole:])
            if not whole:
                continue
            buckets = idx[:whole].reshape(-1, 4)
            if col < len(self.names):
                v = self._values[buckets, col]
                g = self._given[buckets, col].astype(bool)
            else:
                v, g = np.zeros(buckets.shape, np.float32), np.zeros(buckets.shape, bool)
            with np.errstate(invalid="ignore"):
                low = np.where(g & np.isfinite(v), v, np.inf)
                high = np.where(g, np.where(np.isnan(v), np.inf, v), -np.inf)
            rows = np.arange(len(buckets))
            lo, hi = low.argmin(1), np.where(g.any(1), high.argmax(1), 3)
            keep += [buckets[rows, lo], buckets[rows, hi]]
        kept = np.unique(np.concatenate(keep))
        n = len(kept)
        self._steps[:n] = self._steps[kept]
        self._split[:n] = self._split[kept]
        self._values[:n] = self._values[kept]
        self._given[:n] = self._given[kept]
        self._values[n : self.count] = np.nan
        self._given[n : self.count] = 0
        self.count = n
        self.epoch += 1

    def frame(self, start: int = 0) -> bytes | None:
        """The ``scalars`` frame of rows ``start`` on (the whole history by default; None
        when it has no such row), encoded again only after a change."""
        if start >= self.count:
            return None
        key = (self.version, self.epoch, start)
        if self._frame is not None and self._frame[0] == key:
            return self._frame[1]
        n, order = self.count, sorted(range(len(self.names)), key=self.names.__getitem__)
        header = {"type": SCALARS, "names": [self.names[i] for i in order]}
        if start:
            header["from"] = int(start)
        data = encode_frame(
            header,
            {
                "steps": self._steps[start:n],
                "split": self._split[start:n],
                "values": self._values[start:n][:, order],
                "given": self._given[start:n][:, order],
            },
        )
        self._frame = (key, data)
        self.encodes += 1
        self.rows_encoded += n - start
        return data
