"""umap-learn's kernels that numba would compile again in every process, made cacheable.

umap-learn caches most of its numba code (``cache=True``), but not three kernels every fit
runs: ``smooth_knn_dist`` and ``compute_membership_strengths`` (``parallel=True``) and the
serial layout epoch. Measured on 2 cores with a warm ``NUMBA_CACHE_DIR``: a fresh process's
first fit took 10.9 s of CPU, 7 of them compiling those three; with them cached, 3.9 s.

The same Python functions are jitted again with ``cache=True`` and the options umap gave them,
and put where umap looks them up at call time (module globals). Only the serial layout epoch is
cached: numba keys a cache file by function and signature, not by its options, so a cached
serial and parallel build of one function would overwrite each other. Anything missing or
different in another umap version is left as umap has it: this only saves time.
"""

from __future__ import annotations

import logging

log = logging.getLogger("nnviz3d")

KERNELS = (
    ("umap.umap_", "smooth_knn_dist"),
    ("umap.umap_", "compute_membership_strengths"),
    ("umap.layouts", "_nb_optimize_layout_euclidean_single_epoch"),
)
"""(module, global) of each kernel made cacheable."""

_done: list[str] | None = None


def cache_umap_kernels() -> list[str]:
    """Make :data:`KERNELS` cacheable (once per process); returns the globals replaced."""
    global _done
    if _done is None:
        _done = [f"{m}.{n}" for m, n in KERNELS if make_cacheable(m, n)]
    return _done


def make_cacheable(module_name: str, name: str) -> bool:
    """Replace the numba kernel ``module_name.name`` by the same function jitted with
    ``cache=True``; False (and nothing changed) when it is missing, not a numba kernel, cached
    already, or anything fails."""
    try:
        import importlib

        import numba
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher

        module = importlib.import_module(module_name)
        kernel = getattr(module, name, None)
        if not isinstance(kernel, Dispatcher) or not isinstance(kernel._cache, NullCache):
            return False
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
        cached = numba.njit(cache=True, locals=dict(kernel.locals), **options)(kernel.py_func)
    except Exception as err:  # noqa: BLE001 - a umap or numba we do not know: keep umap's own
        log.debug("nnviz3d: left %s.%s uncached: %s", module_name, name, err)
        return False
    setattr(module, name, cached)
    return True
