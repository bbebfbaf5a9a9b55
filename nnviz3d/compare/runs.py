"""``nnviz3d compare RUN_A RUN_B``: two recorded runs of the same architecture, overlaid.

The viewer shows run A's scene; each block's probe statistics at a step are run B's minus run
A's (matching layers by path, then by structure: nnviz3d/compare/matching.py), so colouring by
any quantity (weight norm, gradient norm, update ratio...) colours by the difference, and
selecting a block selects the same layer of both runs. Histograms in the info panel are run B's. The loss chart has both runs' losses
(``loss A``, ``loss B``). Typical uses: two learning rates, two seeds, before and after a
change.
"""

from __future__ import annotations

import numpy as np

from ..protocol.probe_frame import decode_probe, encode_probe
from ..record import RunReader
from ..record.run_file import EMBEDDING
from .errors import CompareError
from .matching import match_layers, shared_enough

KINDS = ("weight", "grad", "act")


def _newest(frames: list[bytes]) -> dict:
    """``{kind: (modules, stats, hist, range)}`` of the newest frame of each kind."""
    out = {}
    for data in frames:
        header, arrays = decode_probe(data)
        for kind, info in header.get("kinds", {}).items():
            out[kind] = (info["modules"], arrays[f"{kind}_stats"], arrays[f"{kind}_hist"],
                         arrays[f"{kind}_range"])
    return out


def _steps(reader: RunReader) -> list[int]:
    return sorted({step for _, step, kinds, _ in reader.frames()
                   if kinds and kinds != [EMBEDDING]})


def diff_frames(a: RunReader, b: RunReader) -> tuple[list[tuple[int, bytes]], dict]:
    """The overlaid frames (one per step both runs reached) and a report of what matched."""
    ga, gb = a.graph(), b.graph()
    pairs = match_layers(ga, gb)
    if not shared_enough(ga, gb, pairs):
        raise CompareError(f"{a.path} ({ga.model}) and {b.path} ({gb.model}) share too few "
                           f"layers with parameters (by path or by structure): compare needs "
                           f"two runs of the same architecture")
    steps_b = set(_steps(b))
    last_b = max(steps_b, default=-1)
    frames = []
    for step in (s for s in _steps(a) if s <= last_b):
        fa, fb = _newest(a.at_step(step)), _newest(b.at_step(step))
        kinds = {}
        for kind in KINDS:
            if kind not in fa or kind not in fb:
                continue
            mods_a, stats_a, _, _ = fa[kind]
            mods_b, stats_b, hist_b, range_b = fb[kind]
            row_b = {m: i for i, m in enumerate(mods_b)}
            rows = [(i, row_b[pairs[m]]) for i, m in enumerate(mods_a)
                    if pairs.get(m) in row_b]
            if not rows:
                continue
            ia, ib = (np.array(x) for x in zip(*rows))
            kinds[kind] = {"step": step, "modules": [mods_a[i] for i in ia],
                           "stats": stats_b[ib] - stats_a[ia], "hist": hist_b[ib],
                           "range": range_b[ib]}
        if kinds:
            frames.append((step, encode_probe(step, 0.0, "train", {}, kinds, extra={
                "compare": compare_header(a.path, b.path, pairs)})))
    report = match_report(ga, gb, pairs)
    report["frames"] = len(frames)
    return frames, report


def compare_header(a, b, pairs: dict[str, str]) -> dict:
    """The ``compare`` entry of an overlaid frame: the two sources and the renamed pairs."""
    return {"a": str(a), "b": str(b), "quantity": "B - A",
            "pairs": {pa: pb for pa, pb in pairs.items() if pa != pb}}


def match_report(ga, gb, pairs: dict[str, str]) -> dict:
    """What matched: model names, layers matched by structure, nodes left on either side."""
    matched_b = set(pairs.values())
    return {"a": ga.model, "b": gb.model,
            "by_structure": {pa: pb for pa, pb in pairs.items() if pa != pb},
            "only_a": sorted(n.path for n in ga.nodes if n.path not in pairs),
            "only_b": sorted(n.path for n in gb.nodes if n.path not in matched_b)}


def say_matched(report: dict) -> str:
    renamed = len(report["by_structure"])
    return (f"{renamed} layer{'s' * (renamed != 1)} matched by structure, "
            f"{len(report['only_a'])} nodes only in A, {len(report['only_b'])} only in B")


class _Overlay:
    """The overlaid frames in memory, answering the feed's seeks like a RunReader."""

    def __init__(self, frames: list[tuple[int, bytes]]) -> None:
        self.frames = frames

    def at_step(self, step: int) -> list[bytes]:
        before = [data for s, data in self.frames if s <= step]
        return before[-1:]

    def close(self) -> None:
        pass


def serve_runs(path_a, path_b, *, depth=None, quiet=False, **serving):
    """Serve the overlay of two runs; returns the view handle. ``serving``: view()'s host,
    port, open_browser, token and tls."""
    from ..server import LiveFeed
    from ..viewer import view

    a = RunReader(path_a)
    try:
        b = RunReader(path_b)
    except BaseException:
        a.close()
        raise
    try:
        frames, report = diff_frames(a, b)
        feed = LiveFeed(reader_factory=lambda: _Overlay(frames), live=False)
        for step, data in frames:
            feed.ingest(data, step, list(decode_probe(data)[0]["kinds"]))
        rows = [(s, split, {f"{k} A": v for k, v in sc.items()})
                for s, split, sc in a.scalar_rows()] + \
               [(s, split, {f"{k} B": v for k, v in sc.items()})
                for s, split, sc in b.scalar_rows()]
        feed.scalars.extend(sorted(rows, key=lambda r: r[0]))
        graph = a.graph()
    finally:
        a.close()
        b.close()
    if not quiet:
        print(f"nnviz3d compare: {report['frames']} steps overlaid (B - A); "
              f"{say_matched(report)}", flush=True)
    handle = view(graph=graph, depth=depth, quiet=quiet, feed=feed, **serving)
    handle.compare = report
    return handle
