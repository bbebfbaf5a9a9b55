"""Progress of the waits a person sees (demo training, a loss landscape, a big glTF export,
the final UMAP embeddings): a tqdm bar on stderr when stderr is a terminal, else a plain log
line at each quarter, so logs and CI output stay readable.

    with Progress(441, "landscape", unit="point") as bar:
        for ...:
            bar.update()
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("nnviz3d")

MILESTONES = (0.25, 0.5, 0.75, 1.0)
"""The fractions of the work at which a plain line is written when stderr is no terminal."""


def interactive() -> bool:
    """True when stderr is a terminal: bars then, plain lines else."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class Progress:
    """``total`` units of work named ``desc``. ``delay``: seconds before anything is shown,
    so a quick job says nothing. ``plain=False``: no lines when stderr is no terminal (the
    caller writes its own). ``update(n, **postfix)`` advances and shows values beside the bar;
    ``close()`` ends it (also on leaving a ``with`` block)."""

    def __init__(
        self, total: int, desc: str, *, unit: str = "it", delay: float = 0.0, plain: bool = True
    ) -> None:
        self.total, self.desc, self.unit, self.delay, self.plain = total, desc, unit, delay, plain
        self.done = 0
        self._start = time.perf_counter()
        self._next = 0
        try:  # tqdm is not in the core: without it, plain lines even on a terminal
            from tqdm import tqdm
        except ImportError:
            tqdm = _NoBar
        self.bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            delay=delay,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=True,
            disable=not interactive(),
        )

    def update(self, n: int = 1, **postfix) -> None:
        self.done += n
        if not self.bar.disable:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
            return
        if not self.plain or not self.total:
            return
        seconds = time.perf_counter() - self._start
        crossed = False
        while self._next < len(MILESTONES) and self.done >= MILESTONES[self._next] * self.total:
            self._next += 1  # one line however many quarters this update crossed
            crossed = True
        if crossed:
            if seconds >= self.delay:
                log.info(
                    "nnviz3d: %s %d/%d %ss (%d%%), %.1f s",
                    self.desc,
                    self.done,
                    self.total,
                    self.unit,
                    round(100 * self.done / self.total),
                    seconds,
                )

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NoBar:
    """Stands for a disabled tqdm bar when tqdm is not installed."""

    disable = True

    def __init__(self, **_) -> None:
        pass

    def close(self) -> None:
        pass
