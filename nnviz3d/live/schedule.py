"""Which steps each probe kind runs at: a budget, guarantees, and steps that do not depend on luck.

The rules, in order (``ProbeSchedule``):

1. **Aligned, power-of-two intervals.** Kind K runs at step s exactly when ``s % N_K == 0``,
   and every N_K is a power of two no larger than ``max_interval`` (a power of two too). So
   whatever the machine measured, every run probes every kind at every multiple of
   ``max_interval``, and two runs whose intervals came out equal (always with ``every=``,
   usually with the same settings on the same machine) probe exactly the same steps. When
   the loop gives its own steps with gaps (``w.step(step=N)``), kind K runs at the first
   step at or past each multiple of N_K: the step before it lies before that multiple.
2. **Calibration.** The first ``CALIBRATION`` steps probe every kind (the first call of a
   kind pays one-off allocations and is not counted); the budget decides from step
   ``CALIBRATION`` on. A run's first steps, where divergence often starts, are always seen.
3. **Budget.** Probes may spend ``budget`` of the probe-free step time on average, less what
   the background worker and the every-step health signals (nnviz3d/live/health_signals.py)
   spend; each kind gets an equal share, and N_K is the smallest power of two with
   ``cost_K / N_K <= share``.
4. **Guarantees, stronger than the budget.** N_K never exceeds ``max_interval`` steps, nor
   (measured) ``max_seconds`` of training: every kind is refreshed at least every
   ``max_interval`` steps or ``max_seconds`` seconds, whichever comes first. The time
   guarantee costs at most ``cost_K / max_seconds`` of wall time per kind, whatever the
   step time.
5. **Hysteresis.** An interval doubles only when the kind is over its share, and halves only
   when it would stay under half of it at the smaller interval, so measurement noise does not
   flip a run between two intervals (and two runs apart).

Health does not depend on any of this: loss and per-layer gradient norms are taken every step.
"""

from __future__ import annotations

import math

KINDS = ("weight", "grad", "act", "matrices")
"""``matrices`` are the weight maps drawn on the floor (the heaviest kind to send)."""
MAX_INTERVAL = 256
"""Default guarantee in steps: every kind at least this often (a power of two)."""
MAX_SECONDS = 2.0
"""Default guarantee in seconds of training between two refreshes of a kind (it costs at most
a probe pass's time per 2 s: 2.6 % for the bench's transformer, whose pass takes 52 ms)."""
CALIBRATION = 4
"""Steps 0 .. CALIBRATION-1 probe every kind."""
EMA = 0.2


def _pow2_ceil(x: float) -> int:
    return 1 if x <= 1 else 1 << math.ceil(math.log2(x))


def _pow2_floor(x: float) -> int:
    return 1 if x < 2 else 1 << math.floor(math.log2(x))


def due_between(prev: int, step: int, interval: int) -> bool:
    """A multiple of ``interval`` lies in ``(prev, step]`` (``step % interval == 0`` when
    ``prev`` is ``step - 1``)."""
    return step // interval > prev // interval


class ProbeSchedule:
    """Per kind: an aligned power-of-two interval in steps; see the module docstring.

    With ``every=N`` every kind runs every N steps (no calibration, no adaptation, no
    guarantees: the caller chose).
    """

    def __init__(
        self,
        budget: float = 0.05,
        every: int | None = None,
        *,
        max_interval: int = MAX_INTERVAL,
        max_seconds: float | None = MAX_SECONDS,
    ) -> None:
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"every must be a whole number of steps, 1 or more, got {every!r}")
        if not 0 < budget <= 1:
            raise ValueError(f"budget is a fraction of the step time in (0, 1], got {budget}")
        if (
            not isinstance(max_interval, int)
            or max_interval < 1
            or max_interval & (max_interval - 1)
        ):
            raise ValueError(
                f"max_interval must be a power of two (1, 2, 4 ... 256 ...), got "
                f"{max_interval!r}: probe steps stay aligned across runs only then"
            )
        if max_seconds is not None and not (max_seconds > 0 and math.isfinite(max_seconds)):
            raise ValueError(
                f"max_seconds must be a positive number of seconds or None, got {max_seconds!r}"
            )
        self.budget = budget
        self.every = every
        self.max_interval = max_interval
        self.max_seconds = max_seconds
        self.interval = {k: 1 if every is None else every for k in KINDS}
        self.cost = {k: 0.0 for k in KINDS}
        self.samples = {k: 0 for k in KINDS}
        self.step_time = 0.0
        self.background = 0.0
        """Seconds per step the frame worker spends (encoding, recording) on a machine whose
        cores the training also uses: it comes out of the same budget."""
        self.every_step = 0.0
        """Seconds per step of the every-step health signals: out of the same budget."""
        self.steps = 0
        self._time_cap = max_interval

    def due(self, step: int, kind: str, prev: int | None = None) -> bool:
        """Whether ``kind`` runs at ``step``, the training step after ``prev`` (default
        ``step - 1``): a multiple of its interval lies in ``(prev, step]``."""
        if self.every is None and step < CALIBRATION:
            return True
        return due_between(prev if prev is not None else step - 1, step, self.interval[kind])

    def observe_step(self, seconds: float) -> None:
        """Wall time of one training step, probes excluded."""
        self.steps += 1
        self.step_time = (
            seconds if self.step_time == 0 else ((1 - EMA) * self.step_time + EMA * seconds)
        )

    def observe_background(self, seconds_per_step: float) -> None:
        self.background = (1 - EMA) * self.background + EMA * seconds_per_step

    def observe_every_step(self, seconds: float) -> None:
        self.every_step = (
            seconds if self.every_step == 0 else ((1 - EMA) * self.every_step + EMA * seconds)
        )

    def observe_cost(self, kind: str, seconds: float) -> None:
        """Wall time of one probe of ``kind``; adapts its interval (not with ``every``)."""
        self.samples[kind] += 1
        if self.every is not None:
            self.cost[kind] = (
                seconds if self.cost[kind] == 0 else ((1 - EMA) * self.cost[kind] + EMA * seconds)
            )
            return
        if self.samples[kind] == 1:
            return  # the first call pays one-off allocations: it would inflate the interval
        c = self.cost[kind]
        self.cost[kind] = seconds if c == 0 else (1 - EMA) * c + EMA * seconds
        if self.steps >= CALIBRATION - 1 and self.step_time > 0:
            self.interval[kind] = self._next_interval(kind)

    def share(self) -> float:
        """Seconds per step each kind may spend."""
        whole = self.budget * self.step_time
        left = max(whole - self.background - self.every_step, 0.1 * whole)
        return left / len(KINDS)

    def _next_interval(self, kind: str) -> int:
        current = self.interval[kind]
        need = self.cost[kind] / self.share()  # the ideal (continuous) interval
        if need > current:
            n = _pow2_ceil(need)
        elif current > 1 and need <= current / 4:  # half the interval, still under half
            n = _pow2_ceil(2 * need)
        else:
            n = current
        return max(1, min(n, self._cap()))

    def _cap(self) -> int:
        """The guarantee in steps: ``max_interval``, or fewer steps when ``max_seconds`` of
        training pass sooner (lowered at once, raised only with a factor 4 of room)."""
        if self.max_seconds is not None and self.step_time > 0:
            limit = self.max_seconds / self.step_time  # steps in max_seconds
            if self._time_cap > limit:
                self._time_cap = _pow2_floor(limit)
            elif self._time_cap * 4 <= limit:
                self._time_cap = _pow2_floor(limit / 2)
        self._time_cap = min(self._time_cap, self.max_interval)
        return self._time_cap

    def overhead(self) -> float:
        """Expected probe time as a fraction of the step time."""
        if self.step_time <= 0:
            return 0.0
        probes = sum(self.cost[k] / self.interval[k] for k in KINDS)
        return (probes + self.background + self.every_step) / self.step_time

    def describe(self) -> dict:
        """The settings and the intervals now, for the recording and ``Watcher.stats()``."""
        return {
            "budget": self.budget,
            "every": self.every,
            "max_interval": self.max_interval,
            "max_seconds": self.max_seconds,
            "calibration": 0 if self.every else CALIBRATION,
            "intervals": dict(self.interval),
        }
