"""Live training: probe scheduling under a budget, the frame worker, ``watch``."""

from .schedule import ProbeSchedule
from .watcher import Watcher, watch

__all__ = ["ProbeSchedule", "Watcher", "watch"]
