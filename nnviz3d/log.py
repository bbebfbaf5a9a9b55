"""Where nnviz3d's messages go: the ``nnviz3d`` logger, to stderr.

Every note and warning the library or the CLI says goes through ``logging.getLogger("nnviz3d")``
(children: ``nnviz3d.server``...), each said once by whoever says it. Only the viewer's URL
line is printed to stdout, as the command's output (scripts read it).

Library entry points (``watch``, ``view``) call :func:`use_stderr` with their ``quiet=``:
- without a logging set-up of the user's (no handler on the root logger or on ``nnviz3d``),
  one stderr handler is added to ``nnviz3d``, printing the message as it is;
- the level follows ``quiet``: INFO (notes and warnings) or WARNING (warnings only), unless
  the user set the ``nnviz3d`` logger's level, which is then theirs and left alone.
"""

from __future__ import annotations

import logging
import sys

LOGGER = "nnviz3d"

_ours: dict[str, int | None] = {"level": None}
"""The level this module last set on the logger (None: never), to tell it from the user's."""


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a message comes (pytest's capsys swaps it);
    above a tqdm bar on a terminal, so the bar is not torn."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(message)s"))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        tqdm = sys.modules.get("tqdm")
        if tqdm is None or not self.stream.isatty():
            return super().emit(record)
        try:
            tqdm.tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - as logging does
            self.handleError(record)


def level_for(quiet: bool) -> int:
    """``quiet=False``: notes and warnings (INFO); ``quiet=True``: warnings only."""
    return logging.WARNING if quiet else logging.INFO


def use_stderr(quiet: bool = False) -> None:
    """Make the ``nnviz3d`` logger say its messages on stderr at ``quiet``'s level, without
    overriding a logging set-up or a level the user chose (see the module's docstring)."""
    logger = logging.getLogger(LOGGER)
    user_level = logger.level != logging.NOTSET and logger.level != _ours["level"]
    if not user_level:
        logger.setLevel(level_for(quiet))
        _ours["level"] = logger.level
    configured = logging.getLogger().handlers or any(
        not isinstance(h, logging.NullHandler) for h in logger.handlers
    )
    if not configured:
        logger.addHandler(StderrHandler())


def has_stderr_handler() -> bool:
    return any(isinstance(h, StderrHandler) for h in logging.getLogger(LOGGER).handlers)
