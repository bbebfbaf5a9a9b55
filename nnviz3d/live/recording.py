"""Where a watched run is recorded: the run file's name (``runs/MODEL-TIME.nnv3d`` by default,
``-2``, ``-3``... when another run took it in the same second) and its writer."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from pathlib import Path

log = logging.getLogger("nnviz3d")

DEFAULT_NAME_TRIES = 1000


def open_recording(record, graph, journal: str, strict: bool):
    """``(path, RunWriter)``, or ``(None, None)`` when not recording. ``record=True`` (or
    an existing directory) names the run ``MODEL-TIME.nnv3d`` there, with ``-2``, ``-3``...
    when another run took that name in the same second; an explicit name that exists is
    an error. A recording that cannot be created (read-only directory, no space) is
    said once and the run goes on unrecorded (``strict`` raises)."""
    if record is False or record is None:
        return None, None
    from ..record import RunWriter

    default = record is True or Path(record).is_dir()
    for path in record_paths(record, graph.model):
        try:
            return path, RunWriter(path, graph, journal)
        except FileExistsError:
            if not default:
                raise
        except (OSError, sqlite3.Error) as exc:
            if strict:
                raise
            log.warning(
                "nnviz3d: cannot record to %s (%s); training goes on without a recording",
                path,
                exc,
            )
            return None, None
    raise FileExistsError(f"no free run name like {path} after {DEFAULT_NAME_TRIES} tries")


def record_paths(record, model: str):
    """The name to record to, then (for default names) the ones to try after it."""
    if record is True or Path(record).is_dir():
        folder = Path("runs") if record is True else Path(record)
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", model)
        base = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        yield folder / f"{base}.nnv3d"
        for k in range(2, DEFAULT_NAME_TRIES + 1):
            yield folder / f"{base}-{k}.nnv3d"
        return
    path = Path(record)
    if path.suffix != ".nnv3d":
        path = (
            path.with_suffix(path.suffix + ".nnv3d") if path.suffix else path.with_suffix(".nnv3d")
        )
    yield path
