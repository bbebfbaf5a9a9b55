"""Which training step a report belongs to: counted by the watcher, or given by the loop.

``w.step(step=N)`` takes the loop's own global step (as ``wandb.log(step=)`` and
TensorBoard's ``global_step`` do); without ``step=`` each call is the step after the last
report. Steps never go backwards:

* a **new** step (past the last training step; gaps are fine) is a training step: probes and
  health run, and the schedule looks for each kind's multiples passed since the previous
  training step (nnviz3d/live/schedule.py, ``ProbeSchedule.due``);
* the **same** step again (gradient accumulation, a second report at one global step)
  merges: its metrics are one more row at that step, no probes are taken again;
* an **earlier** step is refused: said once, the call is ignored (``strict=True`` raises).

``w.log(metrics, step=)`` and ``w.validation(step=)`` report metrics without a training step
(wandb's ``log``): at the newest step by default, or at a later one, which then counts as
reported (an earlier one after it is refused) but is still a new training step for
``w.step``, whose probes have not been taken there.
"""

from __future__ import annotations

import operator

NEW, SAME, EARLIER = "new", "same", "earlier"


def as_step(value) -> int:
    """``value`` as a step number (an int, numpy or 0-d torch integer; not a bool or a
    float), or ``TypeError``/``ValueError`` saying why not."""
    if isinstance(value, bool):
        raise TypeError(f"step= must be a whole number of steps, got {value!r}")
    try:
        step = operator.index(value)
    except TypeError:
        raise TypeError(
            f"step= must be a whole number of steps (an int), got "
            f"{type(value).__name__} {value!r:.40}"
        ) from None
    if step < 0:
        raise ValueError(f"step= must be 0 or more, got {step}")
    return step


class StepClock:
    """The newest training step, the newest step anything was reported at, and the stride
    between the last two training steps (to guess the next one: activation hooks are armed
    before its forward pass)."""

    def __init__(self) -> None:
        self.trained = -1
        """The newest training step (``w.step``), -1 before the first."""
        self.previous = -1
        """The training step before it."""
        self.reported = -1
        """The newest step anything was reported at (``w.log`` may run ahead)."""
        self.count = 0
        """Training steps so far."""

    def classify(self, step) -> tuple[str, int]:
        """``(NEW | SAME | EARLIER, step)`` for a training step (``None``: the next one)."""
        if step is None:
            return NEW, max(self.trained + 1, self.reported)
        step = as_step(step)
        if step < self.reported:
            return EARLIER, step
        return (SAME if step == self.trained else NEW), step

    def at(self, step) -> tuple[bool, int]:
        """``(accepted, step)`` for metrics alone (``None``: the newest step, 0 at first)."""
        if step is None:
            return True, max(self.reported, 0)
        step = as_step(step)
        return step >= self.reported, step

    def advance(self, step: int) -> None:
        """``step`` (a NEW one) is now the newest training step."""
        self.previous, self.trained = self.trained, step
        self.reported = max(self.reported, step)
        self.count += 1

    def note(self, step: int) -> None:
        """Metrics were reported at ``step``."""
        self.reported = max(self.reported, step)

    def next_guess(self) -> int:
        """The step the next ``w.step()`` will probably report: the same stride again."""
        stride = self.trained - self.previous if self.previous >= 0 else 1
        return self.trained + max(stride, 1)
