"""``nnviz3d compare RUN_A RUN_B``: two recorded runs of the same architecture, overlaid.

The viewer shows run A's scene; each block's probe statistics at a step are run B's minus run
A's (matching layers by path, then by structure: nnviz3d/compare/matching.py), so colouring by
any quantity (weight norm, gradient norm, update ratio...) colours by the difference, and
selecting a block selects the same layer of both runs. Histograms in the info panel are run
B's. The loss chart draws both runs' losses together (``loss A``, ``loss B``).

Steps: each probe of A is paired with B's nearest recorded probe of the same kind within a
tolerance (half the coarser probe interval unless given), never with a stale one carried over
from long before; runs recorded with the same settings line up exactly. Typical uses: two
learning rates, two seeds, before and after a change.
"""

from __future__ import annotations

import numpy as np

from ..protocol.probe_frame import decode_probe, encode_probe
from ..record import RunReader
from ..record.run_file import EMBEDDING
from .errors import CompareError
from .matching import match_layers, shared_enough, weighted_layers

KINDS = ("weight", "grad", "act")
DEFAULT_COLOR = {"weight": "weight_norm", "grad": "grad_norm", "act": "act_mean"}
"""The quantity the viewer opens coloured by (its difference), by the first kind both runs have."""


def _recorded(reader: RunReader) -> dict[str, dict[int, tuple]]:
    """``{kind: {step: (modules, stats, hist, range)}}``: each kind at the steps it was recorded
    (the newest frame wins when a step holds two), never carried over from an older step."""
    out: dict[str, dict[int, tuple]] = {k: {} for k in KINDS}
    for _, step, kinds, data in reader.frames():
        if not kinds or kinds == [EMBEDDING]:
            continue
        header, arrays = decode_probe(data)
        for kind, info in header.get("kinds", {}).items():
            if kind in out:
                out[kind][step] = (
                    info["modules"],
                    arrays[f"{kind}_stats"],
                    arrays[f"{kind}_hist"],
                    arrays[f"{kind}_range"],
                )
    return out


def _interval(steps: list[int]) -> int:
    """The typical distance between two recorded steps (the median gap), 1 at least."""
    gaps = np.diff(steps)
    return max(1, int(np.median(gaps))) if len(gaps) else 1


def auto_tolerance(rec_a: dict, rec_b: dict) -> int:
    """Half the coarser probe interval of the two runs (rounded down): a step of A is paired
    with B's nearest recorded step only when no closer probe of B could exist."""
    gaps = [_interval(sorted(r[k])) for r in (rec_a, rec_b) for k in KINDS if r[k]]
    return max(gaps, default=1) // 2


def _nearest(steps: np.ndarray, step: int) -> int:
    """The recorded step nearest ``step`` (the earlier one on a tie)."""
    i = int(np.searchsorted(steps, step))
    near = [int(steps[j]) for j in (i - 1, i) if 0 <= j < len(steps)]
    return min(near, key=lambda s: (abs(s - step), s))


def diff_frames(
    a: RunReader, b: RunReader, tolerance: int | None = None
) -> tuple[list[tuple[int, bytes]], dict]:
    """The overlaid frames and a report of what matched and how the steps were aligned.

    Each kind (weights, gradients, activations) is overlaid at the steps run A recorded it:
    B's value is B's nearest recorded step of that kind, within ``tolerance`` steps (default
    :func:`auto_tolerance`); a step of A with no such step of B is left out and counted. Runs
    recorded with the same settings (nnviz3d's probe schedule is deterministic) line up
    exactly: every offset is 0."""
    ga, gb = a.graph(), b.graph()
    pairs = match_layers(ga, gb)
    if not shared_enough(ga, gb, pairs):
        raise CompareError(
            f"{a.path} ({ga.model}) and {b.path} ({gb.model}) share too few "
            f"layers with parameters (by path or by structure): compare needs "
            f"two runs of the same architecture"
        )
    if tolerance is not None and tolerance < 0:
        raise CompareError(f"the step tolerance must be 0 or more, got {tolerance}")
    rec_a, rec_b = _recorded(a), _recorded(b)
    tol = auto_tolerance(rec_a, rec_b) if tolerance is None else int(tolerance)
    by_step: dict[int, dict] = {}
    aligned: dict[int, dict] = {}
    offsets, unaligned = [], 0
    for kind in KINDS:
        steps_b = np.array(sorted(rec_b[kind]), dtype=np.int64)
        for step in sorted(rec_a[kind]):
            near = _nearest(steps_b, step) if len(steps_b) else None
            if near is None or abs(near - step) > tol:
                unaligned += 1
                continue
            entry = _kind_diff(step, rec_a[kind][step], rec_b[kind][near], pairs)
            if entry is None:
                continue
            by_step.setdefault(step, {})[kind] = entry
            aligned.setdefault(step, {})[kind] = {"a": step, "b": near}
            offsets.append(near - step)
    color = next((DEFAULT_COLOR[k] for k in KINDS if rec_a[k] and rec_b[k]), "weight_norm")
    frames = []
    for step in sorted(by_step):
        header = compare_header(a.path, b.path, pairs, color=color)
        header["aligned"] = aligned[step]
        header["tolerance"] = tol
        frames.append(
            (step, encode_probe(step, 0.0, "train", {}, by_step[step], extra={"compare": header}))
        )
    report = match_report(ga, gb, pairs)
    report.update(
        frames=len(frames),
        tolerance=tol,
        unaligned=unaligned,
        exact=bool(offsets) and not any(offsets),
        max_offset=max((abs(o) for o in offsets), default=0),
    )
    return frames, report


def _kind_diff(step: int, fa: tuple, fb: tuple, pairs: dict[str, str]) -> dict | None:
    """One kind's entry of an overlaid frame: B's rows minus A's, by matched layer."""
    mods_a, stats_a, _, _ = fa
    mods_b, stats_b, hist_b, range_b = fb
    row_b = {m: i for i, m in enumerate(mods_b)}
    rows = [(i, row_b[pairs[m]]) for i, m in enumerate(mods_a) if pairs.get(m) in row_b]
    if not rows:
        return None
    ia, ib = (np.array(x) for x in zip(*rows))
    return {
        "step": step,
        "modules": [mods_a[i] for i in ia],
        "stats": stats_b[ib] - stats_a[ia],
        "hist": hist_b[ib],
        "range": range_b[ib],
    }


def compare_header(a, b, pairs: dict[str, str], color: str = "weight_norm") -> dict:
    """The ``compare`` entry of an overlaid frame: the two sources, the renamed pairs and the
    quantity the viewer opens coloured by."""
    return {
        "a": str(a),
        "b": str(b),
        "quantity": "B - A",
        "color": color,
        "pairs": {pa: pb for pa, pb in pairs.items() if pa != pb},
    }


def match_report(ga, gb, pairs: dict[str, str]) -> dict:
    """What matched, over the layers that hold weights (groups, ops, inputs and outputs hold
    none, and a model file lists no ops): model names, how many layers each side has and how
    many matched, those matched by structure, and the layers left on either side."""
    layers_a, layers_b = weighted_layers(ga), weighted_layers(gb)
    matched_b = set(pairs.values())
    matched = [n.path for n in layers_a if n.path in pairs]
    return {
        "a": ga.model,
        "b": gb.model,
        "layers_a": len(layers_a),
        "layers_b": len(layers_b),
        "matched": len(matched),
        "by_structure": {pa: pb for pa, pb in pairs.items() if pa != pb},
        "only_a": sorted(n.path for n in layers_a if n.path not in pairs),
        "only_b": sorted(n.path for n in layers_b if n.path not in matched_b),
    }


def say_matched(report: dict) -> str:
    """ "every layer with weights matched (9 of 9)" or what is left on either side."""
    renamed = len(report["by_structure"])
    how = f", {renamed} by structure" if renamed else ""
    if not report["only_a"] and not report["only_b"]:
        return (
            f"every layer with weights matched ({report['matched']} of {report['layers_a']}{how})"
        )
    left = [
        f"only in {side}: "
        + ", ".join(report[f"only_{side.lower()}"][:5])
        + (" ..." if len(report[f"only_{side.lower()}"]) > 5 else "")
        for side in ("A", "B")
        if report[f"only_{side.lower()}"]
    ]
    return (
        f"{report['matched']} of {report['layers_a']} layers with weights in A matched "
        f"({report['layers_b']} in B{how}); " + "; ".join(left)
    )


def say_aligned(report: dict) -> str:
    """How the two runs' steps were paired."""
    if report["exact"]:
        return "steps aligned exactly"
    text = (
        f"steps aligned to B's nearest recorded step within ±{report['tolerance']} "
        f"(largest offset {report['max_offset']})"
    )
    if report["unaligned"]:
        text += f"; {report['unaligned']} probes of A had no step of B that close"
    return text


class _Overlay:
    """The overlaid frames in memory, answering the feed's seeks like a RunReader."""

    def __init__(self, frames: list[tuple[int, bytes]], cka: bytes | None = None) -> None:
        self.frames = frames
        self.cka = cka
        """The cross-model CKA frame (nnviz3d/compare/cka.py), shown at every step."""

    def embedding_index(self, after: int = -(2**63)) -> list[tuple[int, int, str]]:
        from ..protocol.cka_frame import CKA_KEY
        from .cka import NO_STEP

        return [(0, NO_STEP, CKA_KEY)] if self.cka is not None and after < 0 else []

    def embedding(self, seq: int) -> bytes:
        return self.cka

    def at_step(self, step: int) -> list[bytes]:
        """The newest overlaid frame of each kind at or before ``step`` (like a RunReader)."""
        newest: dict[str, int] = {}
        for i, (s, data) in enumerate(self.frames):
            if s > step:
                break
            for kind in decode_probe(data)[0]["kinds"]:
                newest[kind] = i
        return [self.frames[i][1] for i in sorted(set(newest.values()))]

    def close(self) -> None:
        pass


def serve_runs(path_a, path_b, *, depth=None, quiet=False, tolerance=None, **serving):
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
        frames, report = diff_frames(a, b, tolerance)
        from .cka import NO_STEP, empty_frame, runs_cross_frame

        try:
            cka = runs_cross_frame(a, b)
        except Exception as exc:  # noqa: BLE001 - the comparison shows without it, saying why
            cka = empty_frame(f"no cross-model CKA: {exc}")
        feed = LiveFeed(reader_factory=lambda: _Overlay(frames, cka), live=False)
        feed.ingest(cka, NO_STEP, [EMBEDDING])
        for step, data in frames:
            feed.ingest(data, step, list(decode_probe(data)[0]["kinds"]))
        rows = [
            (s, split, {f"{k} A": v for k, v in sc.items()}) for s, split, sc in a.scalar_rows()
        ] + [(s, split, {f"{k} B": v for k, v in sc.items()}) for s, split, sc in b.scalar_rows()]
        feed.scalars.extend(sorted(rows, key=lambda r: r[0]))
        graph = a.graph()
    finally:
        a.close()
        b.close()
    if not quiet:
        print(
            f"nnviz3d compare: {report['frames']} steps overlaid (B - A); "
            f"{say_matched(report)}; {say_aligned(report)}",
            flush=True,
        )
    handle = view(graph=graph, depth=depth, quiet=quiet, feed=feed, **serving)
    handle.compare = report
    return handle
