"""An automatic tour of a recorded run: it visits the layers that raised health alarms (in the
order they were raised) and then the layers whose statistics changed most between the first and
the last capture, each with a caption saying why it is there.

``nnviz3d tour RUN.nnv3d -o tour.toml`` writes it as a scene recipe's ``[[tour]]`` tables
(nnviz3d/recipe.py); ``nnviz3d replay RUN.nnv3d`` offers it in the viewer (its Tour button).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .layout import layout_depth, layout_graph
from .protocol.messages import STAT_NAMES
from .protocol.probe_frame import decode_probe
from .record import RunReader
from .record.run_file import EMBEDDING

VIEW_FROM = np.array([-0.85, 0.6, -0.3]) / np.linalg.norm([-0.85, 0.6, -0.3])
"""Where a stop looks from, relative to its layer (the viewer's default view, navigation.ts)."""
NORM, STD = STAT_NAMES.index("norm"), STAT_NAMES.index("std")
CHANGE = {
    "weight": (NORM, "weight norm"),
    "grad": (NORM, "gradient norm"),
    "act": (STD, "activation std"),
}
"""Per probe kind, the statistic whose change ranks the layers, and its name in captions."""
SECONDS = 6.0


@dataclass
class Finding:
    """A reason to visit a layer."""

    module: str
    caption: str
    step: int | None = None
    """The step to show (an alarm's), or None."""


def scan(reader: RunReader) -> tuple[list[Finding], dict, dict]:
    """One pass over the recording: each (alarm, layer) once, at the step it was first raised,
    and the first and last finite value of each (layer, kind)'s ranking statistic."""
    seen: dict[tuple[str, str], Finding] = {}
    first: dict[tuple[str, str], tuple[int, float]] = {}
    last: dict[tuple[str, str], tuple[int, float]] = {}
    for _, step, kinds, data in reader.frames():
        if EMBEDDING in kinds:
            continue
        header, arrays = decode_probe(data)
        for a in header.get("alarms", []):
            key = (a["alarm"], a["module"])
            if key not in seen:
                seen[key] = Finding(a["module"], f"Health alarm: {a['message']}", int(a["step"]))
        for kind, (col, _) in CHANGE.items():
            if kind not in header.get("kinds", {}):
                continue
            stats = arrays[f"{kind}_stats"]
            for i, module in enumerate(header["kinds"][kind]["modules"]):
                value = float(stats[i, col])
                if not math.isfinite(value):
                    continue
                first.setdefault((module, kind), (step, value))
                last[(module, kind)] = (step, value)
    return list(seen.values()), first, last


def change_findings(first: dict, last: dict, count: int) -> list[Finding]:
    """The ``count`` layers whose ranking statistic changed most (log ratio, last capture over
    first: :func:`scan`), one per layer, by their largest change over the probe kinds."""
    best: dict[str, tuple[float, Finding]] = {}
    for key, (s0, v0) in first.items():
        s1, v1 = last[key]
        if s1 == s0:
            continue
        module, kind = key
        tiny = 1e-12
        score = abs(math.log((abs(v1) + tiny) / (abs(v0) + tiny)))
        if score < 1e-3:
            continue
        ratio = (abs(v1) + tiny) / (abs(v0) + tiny)
        how = f"grew {ratio:.3g}x" if ratio >= 1 else f"fell to {ratio:.3g} of its start"
        caption = (
            f"Changed most: {module}'s {CHANGE[kind][1]} {how} ({v0:.3g} at step {s0} "
            f"-> {v1:.3g} at step {s1})"
        )
        if module not in best or score > best[module][0]:
            best[module] = (score, Finding(module, caption, int(s1)))
    ranked = sorted(best.values(), key=lambda sf: -sf[0])
    return [f for _, f in ranked[:count]]


def auto_tour(
    reader: RunReader, *, depth: int | None = None, changes: int = 4, seconds: float = SECONDS
) -> list[dict]:
    """Tour stops (as recipe.py resolves them, plus ``step``) for a recorded run: an overview,
    every alarmed layer, then the ``changes`` layers that changed most and had no alarm."""
    graph = reader.graph()
    layout = layout_graph(graph, layout_depth(depth))
    alarms, first, last = scan(reader)
    alarmed = {f.module for f in alarms}
    changed = [
        f for f in change_findings(first, last, changes + len(alarmed)) if f.module not in alarmed
    ][:changes]
    lo, hi = layout.bounds()
    summary = reader.summary()
    intro = (
        f"{reader.model}, steps {summary['first_step']}..{summary['last_step']}: "
        f"{_count(len(alarms), 'health alarm')}, then the {_count(len(changed), 'layer')} "
        f"whose statistics changed most"
    )
    stops = [_stop((lo + hi) / 2, hi - lo, intro, seconds, None, zoom=0.8)]
    for f in alarms + changed:
        block = _block_of(layout.paths, f.module)
        if block is None:
            continue
        i = layout.index(block)
        where = "" if block == f.module else f" (inside {block}, collapsed)"
        stops.append(_stop(layout.centers[i], layout.sizes[i], f.caption + where, seconds, f.step))
    return stops


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _block_of(paths: list[str], module: str) -> str | None:
    """The drawn block showing ``module``: itself, or the collapsed group holding it."""
    shown = set(paths)
    name = module
    while name:
        if name in shown:
            return name
        name = name.rpartition(".")[0]
    return None


def _stop(center, size, caption: str, seconds: float, step: int | None, zoom=2.2) -> dict:
    center = np.asarray(center, dtype=float)
    dist = max(3.0, zoom * float(np.max(size)))
    position = center + VIEW_FROM * dist
    stop = {
        "position": [round(float(x), 3) for x in position],
        "target": [round(float(x), 3) for x in center],
        "caption": caption,
        "seconds": float(seconds),
    }
    if step is not None:
        stop["step"] = int(step)
    return stop


def replay_view(reader: RunReader, depth: int | None = None) -> dict:
    """What a replay sends as its recipe: the run's title and its automatic tour."""
    return {
        "title": f"{reader.model} · {reader.path.name}",
        "bookmarks": [],
        "tour": auto_tour(reader, depth=depth),
    }


def tour_toml(reader: RunReader, stops: list[dict], model: str | None) -> str:
    """The tour as a recipe; without ``model`` the model line is left for the user to fill."""
    q = json.dumps  # a TOML basic string is a JSON string for these characters
    head = (
        f"# Automatic tour of {reader.path.name} (nnviz3d tour): health alarms first, "
        f"then the layers that changed most."
    )
    keys = (
        "# Keys: see nnviz3d/recipe.py. The positions are for the run's layout at the "
        "depth given to nnviz3d tour."
    )
    lines = [head, keys, f"title = {q(reader.model + ' tour')}"]
    if model:
        lines.append(f"model = {q(model)}")
    else:
        lines.append(
            f'# model = "package.module:callable"  # the SPEC of {reader.model}: '
            f"set it to open this with nnviz3d view"
        )
    for s in stops:
        lines += [
            "",
            "[[tour]]",
            f"position = {s['position']}",
            f"target = {s['target']}",
            f"caption = {q(s['caption'])}",
            f"seconds = {s['seconds']}",
        ]
        if "step" in s:
            lines.append(f"step = {s['step']}")
    return "\n".join(lines) + "\n"


def write_tour(
    run: str | Path,
    output: str | Path,
    *,
    depth: int | None = None,
    model: str | None = None,
    changes: int = 4,
) -> list[dict]:
    """``nnviz3d tour``: read a run, write its tour; returns the stops."""
    reader = RunReader(run)
    try:
        stops = auto_tour(reader, depth=depth, changes=changes)
        Path(output).write_text(tour_toml(reader, stops, model), encoding="utf-8")
    finally:
        reader.close()
    return stops
