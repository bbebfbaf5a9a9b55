"""What a recording shows at each step, for export: per probe kind the newest frame at or before
the step (the viewer's web/src/probeState.ts rule), and the newest weight matrices."""

from __future__ import annotations

import numpy as np

from ..protocol.messages import PROBE_KINDS, STAT_NAMES
from ..protocol.probe_frame import decode_probe
from ..record.run_file import MATRICES
from ..record.run_reader import RunReader
from .gltf_materials import QUANTITIES, STAT_COLUMNS


class ProbeView:
    """Per probe kind, the rows of the newest frame merged so far."""

    def __init__(self) -> None:
        self.kinds: dict[str, tuple[dict[str, int], np.ndarray, np.ndarray | None, int]] = {}

    def merge(self, header: dict, arrays: dict[str, np.ndarray]) -> None:
        for kind, info in header.get("kinds", {}).items():
            if kind not in PROBE_KINDS:
                continue
            index = {m: i for i, m in enumerate(info["modules"])}
            self.kinds[kind] = (
                index,
                arrays[f"{kind}_stats"],
                arrays.get(f"{kind}_update"),
                int(info["step"]),
            )

    def copy(self) -> ProbeView:
        out = ProbeView()
        out.kinds = dict(self.kinds)
        return out

    def stat(self, kind: str, module: str, column: str) -> float:
        data = self.kinds.get(kind)
        if data is None or module not in data[0]:
            return float("nan")
        index, stats, update, _ = data
        if column == "update":
            return float(update[index[module]]) if update is not None else float("nan")
        return float(stats[index[module], STAT_COLUMNS[column]])

    def unhealthy(self, module: str) -> bool:
        return any(
            module in index
            and (
                stats[index[module], STAT_COLUMNS["nan"]] > 0
                or stats[index[module], STAT_COLUMNS["inf"]] > 0
            )
            for index, stats, _, _ in self.kinds.values()
        )

    def quantity(self, key: str, modules: list[str]) -> tuple[np.ndarray, np.ndarray, bool]:
        """Values of colour-by quantity ``key`` for ``modules``, their unhealthy flags, and
        whether the quantity is drawn on a log scale."""
        kind, column, log = QUANTITIES[key]
        values = np.array([self.stat(kind, m, column) for m in modules], np.float64)
        return values, np.array([self.unhealthy(m) for m in modules], bool), log

    def stats_of(self, module: str) -> dict:
        """``{kind: {"step", stat name: value, ["update_ratio"]}}`` for a block's extras
        (NaN/Inf stay floats: the glTF writer's ``clean`` encodes them JSON-safely)."""
        out = {}
        for kind, (index, stats, update, step) in self.kinds.items():
            if module not in index:
                continue
            row = stats[index[module]]
            entry = {"step": step, **{n: _num(row[i]) for i, n in enumerate(STAT_NAMES)}}
            if update is not None:
                entry["update_ratio"] = _num(update[index[module]])
            out[kind] = entry
        return out


def _num(x) -> float:
    return float(x)


def _probe_frames(frames):
    for _, step, kinds, data in frames:
        if any(k in PROBE_KINDS or k == MATRICES for k in kinds):
            yield step, kinds, data


def state_at(reader: RunReader, step: int | None) -> tuple[ProbeView, tuple | None, int]:
    """The view at ``step`` (default: the last recorded step), the newest decoded frame with
    weight matrices at or before it (or None), and the step used."""
    summary = reader.summary()
    first, last = summary["first_step"], summary["last_step"]
    if last is None:
        raise ValueError(f"{reader.path} holds no frames: record at least one step")
    if step is not None and not first <= step <= last:
        raise ValueError(
            f"step {step} is not in {reader.path}, which holds steps "
            f"{first}..{last}: choose a step in that range"
        )
    step = last if step is None else int(step)
    view = ProbeView()
    matrices = None
    for data in reader.at_step(step):
        header, arrays = decode_probe(data)
        view.merge(header, arrays)
        if header.get("matrices"):
            matrices = (header, arrays)
    return view, matrices, step


def timeline(
    reader: RunReader, quantity: str, modules: list[str], max_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` (T,) and colour levels (T, len(modules)) of ``quantity`` at every recorded step
    with probe data (evenly thinned to at most ``max_steps``), see
    :func:`~nnviz3d.export.gltf_materials.quantity_levels`."""
    from .gltf_materials import quantity_levels

    view = ProbeView()
    states: list[tuple[int, ProbeView]] = []
    for step, _kinds, data in _probe_frames(reader.frames()):
        header, arrays = decode_probe(data)
        if header.get("split", "train") != "train" and not header.get("kinds"):
            continue
        view.merge(header, arrays)
        if states and states[-1][0] == step:
            states[-1] = (step, view.copy())
        else:
            states.append((step, view.copy()))
    if len(states) > max_steps:
        keep = np.unique(np.round(np.linspace(0, len(states) - 1, max_steps)).astype(int))
        states = [states[i] for i in keep]
    levels = np.zeros((len(states), len(modules)), np.int32)
    for t, (_, v) in enumerate(states):
        values, unhealthy, log = v.quantity(quantity, modules)
        levels[t] = quantity_levels(values, log, unhealthy)
    return np.array([s for s, _ in states], np.int64), levels
