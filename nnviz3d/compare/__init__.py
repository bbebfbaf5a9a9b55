"""``nnviz3d compare A B``: two recorded runs (runs.py) or two models (models.py), shown as A's
scene coloured by B - A, with layers matched by path, then by structure (matching.py)."""

from __future__ import annotations

from pathlib import Path

from .errors import CompareError
from .matching import match_layers
from .models import diff_models, serve_models
from .runs import diff_frames, serve_runs

SQLITE_MAGIC = b"SQLite format 3\x00"

__all__ = ["CompareError", "diff_frames", "diff_models", "is_recording", "match_layers",
           "serve_compare"]


def is_recording(path: str) -> bool:
    """A recording (``.nnv3d``, an SQLite file), as opposed to a model file or SPEC."""
    p = Path(path)
    if p.suffix == ".nnv3d":
        return True
    try:
        with open(p, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def serve_compare(a: str, b: str, **options):
    """Serve the comparison of two runs or of two models; returns the view handle."""
    a, b = str(a), str(b)
    runs = is_recording(a), is_recording(b)
    if runs == (True, True):
        return serve_runs(a, b, **options)
    if runs == (False, False):
        return serve_models(a, b, **options)
    run, other = (a, b) if runs[0] else (b, a)
    raise CompareError(f"{run} is a recording and {other} is not: compare two recordings "
                       f"(nnviz3d compare RUN_A RUN_B) or two models (files or SPECs)")
