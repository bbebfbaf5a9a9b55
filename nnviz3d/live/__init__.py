"""Live training: probe scheduling under a budget, the frame worker, ``watch``."""

from .schedule import ProbeSchedule
from .watch import watch
from .watcher import Watcher

__all__ = ["ProbeSchedule", "Watcher", "watch"]
