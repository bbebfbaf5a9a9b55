"""The metrics a training loop reports (``w.step(loss=..., accuracy=...)``), normalised at the
boundary: each value becomes a float or is refused alone, so one odd metric never costs the
step its probe frame.

Accepted: Python and numpy numbers (bool as 0/1), tensors and arrays of one element, NaN
and the infinities (they are what the run reported). ``None`` means "not reported this step"
and is skipped silently, as ``loss=None`` always was. Refused, with one warning per metric
name: strings, tensors of more than one element, complex numbers, empty or over-long names,
and new names past ``MAX_METRICS``.
"""

from __future__ import annotations

import math
import numbers

MAX_NAME = 200
MAX_METRICS = 1024
"""Distinct metric names in one run (a recording refuses more)."""


class MetricError(ValueError):
    """Why one metric was refused."""


def as_number(value) -> float:
    """``value`` as a float, or :class:`MetricError` saying why it is not one number."""
    if isinstance(value, numbers.Number) and (
        isinstance(value, numbers.Real) or not isinstance(value, numbers.Complex)
    ):
        # int, float, bool, Fraction, Decimal, numpy scalars
        try:
            return float(value)
        except (OverflowError, ValueError) as exc:
            raise MetricError(f"{value!r} does not fit a float ({exc})") from None
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "item"):
        if math.prod(tuple(shape)) != 1:
            raise MetricError(
                f"it is a {type(value).__name__} of shape {tuple(shape)}, "
                f"not one number (pass .mean() or .item())"
            )
        try:
            item = value.item()
        except Exception as exc:  # noqa: BLE001 - a meta tensor, a failing device
            raise MetricError(f"its value could not be read ({exc})") from None
        if isinstance(item, numbers.Real):
            return float(item)
        raise MetricError(f"it holds {item!r}, not a real number")
    raise MetricError(f"it is {_short(value)} ({type(value).__name__}), not a number")


class MetricFilter:
    """Normalises each step's metrics; remembers which names it warned about."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.refused: dict[str, str] = {}
        """Each refused metric name and why (the first time)."""

    def __call__(self, loss, metrics: dict) -> tuple[dict[str, float], list[tuple[str, str]]]:
        """``(accepted, newly refused [(name, why)])``."""
        out: dict[str, float] = {}
        new: list[tuple[str, str]] = []
        items = ([("loss", loss)] if loss is not None else []) + list(metrics.items())
        for name, value in items:
            if value is None:
                continue
            try:
                out[self._name(name)] = as_number(value)
            except MetricError as exc:
                key = str(name)[:MAX_NAME]
                if key not in self.refused and len(self.refused) < MAX_METRICS:
                    self.refused[key] = str(exc)
                    new.append((key, str(exc)))
        return out, new

    def _name(self, name) -> str:
        name = str(name)
        if not name:
            raise MetricError("its name is empty")
        if len(name) > MAX_NAME:
            raise MetricError(f"its name is {len(name)} characters long, more than {MAX_NAME}")
        if name not in self.names:
            if len(self.names) >= MAX_METRICS:
                raise MetricError(f"the run already has {MAX_METRICS} metrics")
            self.names.add(name)
        return name


def _short(value, limit: int = 40) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a repr that fails is still not a number
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
