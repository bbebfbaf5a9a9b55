"""Training health alarms from probe results: NaN/Inf, dead units, vanishing and exploding
gradients, stalled layers. Runs on the frame worker (numpy), never on the training thread.

Each alarm is reported once per (alarm, module) to the ``nnviz3d`` logger (stderr unless the
application configured logging); while it holds it is listed in every probe frame's header
(``"alarms"``) so the viewer can badge the block.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("nnviz3d")

MEAN, STD, NORM, NAN, INF = 0, 1, 4, 6, 7


@dataclass
class HealthThresholds:
    dead_fraction: float = 0.9
    """A ReLU-family layer alarms when at least this fraction of its units output 0 for the
    whole batch."""
    vanishing_rms: float = 1e-7
    """Gradient root-mean-square below this is vanishing."""
    vanishing_drop: float = 1e-4
    """... as is a gradient norm below this fraction of the layer's own largest so far."""
    exploding_growth: float = 1e3
    """A gradient norm above this multiple of the layer's baseline is exploding. The baseline
    is the median of the layer's last ``baseline_window`` norms (at least
    ``baseline_captures`` of them): it follows training, so gradients that grow a thousandfold
    over hundreds of steps as a healthy network leaves its initialisation do not alarm, and a
    jump within a few steps does."""
    baseline_captures: int = 3
    baseline_window: int = 64
    stalled_update: float = 1e-9
    """A layer whose weights move less than this (||dw||/||w||) while it has gradients ..."""
    stalled_captures: int = 3
    """... for this many weight captures in a row is stalled."""


class HealthMonitor:
    def __init__(self, thresholds: HealthThresholds | None = None, report=None) -> None:
        self.t = thresholds or HealthThresholds()
        self.report = report or _report
        self.reported: set[tuple[str, str]] = set()
        self._layers: dict[tuple, _Layers] = {}
        """Gradient history per list of layers (the every-step norms' and the probes')."""
        self.max_norm: dict[str, float] = {}
        self.still: dict[str, int] = {}
        self.has_grad: set[str] = set()
        self.history: list[dict] = []
        """Every alarm the first time it was raised, in order."""
        self.by_norms = False
        """Whether every-step gradient norms have come: from then on gradients are judged on
        them alone, never again on a probe's statistics (a step judged twice could alarm in
        one run and not in another)."""

    def check(self, step: int, kinds: dict[str, dict], norms: dict | None = None) -> list[dict]:
        """Alarms that hold at ``step`` for the kinds probed now (numpy arrays) and the
        every-step gradient norms (``{"modules", "norm", "count"}``, nnviz3d/capture/
        grad_norms.py). With norms, exploding and vanishing gradients are judged on them
        alone, at every step, so the alarms' steps do not depend on the probe schedule."""
        alarms: list[dict] = []
        for kind, res in kinds.items():
            stats = np.asarray(res["stats"])
            for i, module in enumerate(res["modules"]):
                nan, inf = int(stats[i, NAN]), int(stats[i, INF])
                if nan or inf:
                    what = "NaN" if nan else "Inf"
                    alarms.append(
                        self._alarm(
                            "nan" if nan else "inf",
                            module,
                            step,
                            nan or inf,
                            f"{nan} NaN and {inf} Inf values in its {_KIND_NAMES[kind]}",
                            kind,
                            what,
                        )
                    )
        if norms:
            self.by_norms = True
            alarms += self._gradients(
                step,
                norms["modules"],
                np.asarray(norms["norm"]),
                np.asarray(norms["count"], np.float64),
            )
        elif "grad" in kinds and not self.by_norms:
            res = kinds["grad"]
            stats = np.asarray(res["stats"])
            rms = np.sqrt(stats[:, STD].astype(np.float64) ** 2 + stats[:, MEAN] ** 2)
            alarms += self._gradients(step, res["modules"], stats[:, NORM], None, rms)
        if "weight" in kinds and "update" in kinds["weight"]:
            alarms += self._stalled(step, kinds["weight"])
        if "act" in kinds and "dead" in kinds["act"]:
            dead = np.asarray(kinds["act"]["dead"])
            for module, frac in zip(kinds["act"]["modules"], dead):
                if np.isfinite(frac) and frac >= self.t.dead_fraction:
                    alarms.append(
                        self._alarm(
                            "dead",
                            module,
                            step,
                            float(frac),
                            f"{frac:.0%} of its units output 0 for the whole batch",
                            "act",
                        )
                    )
        return alarms

    def _gradients(self, step: int, modules, norms, counts, rms=None) -> list[dict]:
        """Vanishing and exploding gradients (and NaN norms, from the every-step norms), for
        all layers at once in numpy: this runs at every step."""
        norms = np.asarray(norms, np.float64)
        key = tuple(modules)
        st = self._layers.get(key)
        if st is None:
            st = self._layers[key] = _Layers(len(modules), max(1, self.t.baseline_window))
        out = []
        nan, inf = np.isnan(norms), np.isinf(norms)
        if counts is not None:  # only the every-step norms: stats count NaN themselves
            for i in np.flatnonzero(nan):
                out.append(
                    self._alarm(
                        "nan",
                        modules[i],
                        step,
                        float(norms[i]),
                        "gradient norm is NaN",
                        "grad",
                        "NaN",
                    )
                )
        for i in np.flatnonzero(inf):
            out.append(
                self._alarm(
                    "exploding",
                    modules[i],
                    step,
                    float(norms[i]),
                    "gradient norm is infinite",
                    "grad",
                )
            )
        ok = ~(nan | inf)
        if not ok.any():
            return out
        if rms is None:
            rms = norms / np.sqrt(np.maximum(np.asarray(counts, np.float64), 1))
        rms = np.asarray(rms, np.float64)
        self.has_grad.update(itertools.compress(modules, ok))
        st.peak = np.where(ok, np.maximum(st.peak, norms), st.peak)
        vanishing = ok & (
            (rms < self.t.vanishing_rms)
            | ((st.peak > 0) & (norms < self.t.vanishing_drop * st.peak))
        )
        n = min(st.count, len(st.ring))
        base = np.median(st.ring[:n], axis=0) if n >= self.t.baseline_captures else None
        exploding = (
            ok & (base > 0) & (norms > self.t.exploding_growth * base)
            if base is not None
            else np.zeros_like(ok)
        )
        # a layer's non-finite norm does not enter its baseline: it keeps its last value
        last = st.ring[(st.count - 1) % len(st.ring)] if st.count else np.zeros_like(norms)
        st.ring[st.count % len(st.ring)] = np.where(ok, norms, last)
        st.count += 1
        for i in np.flatnonzero(vanishing | exploding):
            module, norm = modules[i], float(norms[i])
            if vanishing[i]:
                out.append(
                    self._alarm(
                        "vanishing",
                        module,
                        step,
                        norm,
                        f"gradient norm {norm:.3g} (RMS {rms[i]:.3g}; its "
                        f"largest so far {st.peak[i]:.3g})",
                        "grad",
                    )
                )
            if exploding[i]:
                out.append(
                    self._alarm(
                        "exploding",
                        module,
                        step,
                        norm,
                        f"gradient norm {norm:.3g}, {norm / base[i]:.0f}x its "
                        f"baseline {base[i]:.3g} (median of its last {n})",
                        "grad",
                    )
                )
        return out

    def _stalled(self, step: int, res: dict) -> list[dict]:
        out = []
        for module, ratio in zip(res["modules"], np.asarray(res["update"])):
            if not np.isfinite(ratio) or module not in self.has_grad:
                continue
            self.still[module] = (
                self.still.get(module, 0) + 1 if ratio < self.t.stalled_update else 0
            )
            if self.still[module] >= self.t.stalled_captures:
                out.append(
                    self._alarm(
                        "stalled",
                        module,
                        step,
                        float(ratio),
                        f"weights moved {ratio:.2g} (||dw||/||w||) for "
                        f"{self.still[module]} captures in a row",
                        "weight",
                    )
                )
        return out

    def _alarm(
        self,
        alarm: str,
        module: str,
        step: int,
        value,
        detail: str,
        kind: str,
        label: str | None = None,
    ) -> dict:
        entry = {
            "alarm": alarm,
            "module": module,
            "step": int(step),
            "value": float(value),
            "kind": kind,
            "message": f"layer '{module or '(model)'}': {label or alarm} at step {step}: {detail}",
        }
        key = (alarm, module)
        if key not in self.reported:
            self.reported.add(key)
            self.history.append(entry)
            self.report(entry["message"])
        return entry


class _Layers:
    """Per layer of one list: its largest gradient norm so far and a ring of its last
    ``window`` norms (the exploding baseline), ``count`` of them written."""

    def __init__(self, n: int, window: int) -> None:
        self.peak = np.zeros(n)
        self.ring = np.zeros((window, n))
        self.count = 0


_KIND_NAMES = {"weight": "weights", "grad": "gradients", "act": "activations"}


def _report(message: str) -> None:
    log.warning("nnviz3d health: %s", message)
