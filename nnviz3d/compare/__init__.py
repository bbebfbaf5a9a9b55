"""``nnviz3d compare A B``: two recorded runs (runs.py) or two models (models.py), shown as A's
scene coloured by B - A, with layers matched by path, then by structure (matching.py)."""

from __future__ import annotations

from ..record.run_file import is_run_file
from .errors import CompareError
from .matching import match_layers
from .models import diff_models, serve_models
from .runs import diff_frames, serve_runs

__all__ = ["CompareError", "diff_frames", "diff_models", "match_layers", "serve_compare"]


def serve_compare(a: str, b: str, **options):
    """Serve the comparison of two runs or of two models; returns the view handle."""
    a, b = str(a), str(b)
    runs = is_run_file(a), is_run_file(b)
    if runs == (True, True):
        if options.pop("inputs", None) is not None:
            raise CompareError(
                "--inputs gives two models probe inputs; two recordings bring their own features"
            )
        return serve_runs(a, b, **options)
    if runs == (False, False):
        if options.pop("tolerance", None) is not None:
            raise CompareError(
                "--tolerance aligns the steps of two recordings; two models have no steps"
            )
        return serve_models(a, b, **options)
    run, other = (a, b) if runs[0] else (b, a)
    raise CompareError(
        f"{run} is a recording and {other} is not: compare two recordings "
        f"(nnviz3d compare RUN_A RUN_B) or two models (files or SPECs)"
    )
