"""How often each probe kind runs so that probes cost at most ``budget`` of the step time."""

from __future__ import annotations

import math

KINDS = ("weight", "grad", "act")
MAX_INTERVAL = 256
"""Even a costly kind is sampled at least every MAX_INTERVAL steps."""
EMA = 0.2


class ProbeSchedule:
    """Per kind: an interval in steps (a power of two) adapted to measured costs.

    With ``every=N`` every kind runs every N steps (no adaptation). Otherwise the probes may
    spend ``budget`` of the (probe-free) step time on average, less what the background
    worker spends per step; each kind gets a third of that, and its interval is the smallest
    power of two with ``cost / interval <= share``. Costs, background time and step time are
    exponential moving averages of wall-clock measurements.
    """

    def __init__(self, budget: float = 0.05, every: int | None = None) -> None:
        if every is not None and every < 1:
            raise ValueError(f"every must be 1 or more, got {every}")
        if not 0 < budget <= 1:
            raise ValueError(f"budget is a fraction of the step time in (0, 1], got {budget}")
        self.budget = budget
        self.every = every
        self.interval = {k: 1 if every is None else every for k in KINDS}
        self.cost = {k: 0.0 for k in KINDS}
        self.samples = {k: 0 for k in KINDS}
        self.step_time = 0.0
        self.background = 0.0
        """Seconds per step the frame worker spends (encoding, recording) on a machine whose
        cores the training also uses: it comes out of the same budget."""

    def due(self, step: int, kind: str) -> bool:
        return step % self.interval[kind] == 0

    def observe_step(self, seconds: float) -> None:
        """Wall time of one training step, probes excluded."""
        self.step_time = seconds if self.step_time == 0 else (
            (1 - EMA) * self.step_time + EMA * seconds)

    def observe_background(self, seconds_per_step: float) -> None:
        self.background = (1 - EMA) * self.background + EMA * seconds_per_step

    def observe_cost(self, kind: str, seconds: float) -> None:
        self.samples[kind] += 1
        if self.samples[kind] == 1 and self.every is None:
            return  # the first call pays one-off allocations: it would inflate the interval
        c = self.cost[kind]
        self.cost[kind] = seconds if c == 0 else (1 - EMA) * c + EMA * seconds
        if self.every is None and self.step_time > 0:
            left = max(self.budget * self.step_time - self.background,
                       0.1 * self.budget * self.step_time)
            share = left / len(KINDS)
            need = max(1.0, self.cost[kind] / share)
            self.interval[kind] = min(MAX_INTERVAL, 1 << math.ceil(math.log2(need)))

    def overhead(self) -> float:
        """Expected probe time as a fraction of the step time."""
        if self.step_time <= 0:
            return 0.0
        probes = sum(self.cost[k] / self.interval[k] for k in KINDS)
        return (probes + self.background) / self.step_time
