"""umap-learn's uncached kernels made cacheable (nnviz3d/embed/umap_cache.py): a fit consults
numba's cache for all three, and anything unexpected is left as umap has it."""

import numpy as np
import pytest

from nnviz3d.embed import umap_cache
from nnviz3d.embed.methods import embed_umap


@pytest.mark.umap
def test_a_fit_reads_or_writes_the_cache_for_all_three_kernels():
    import importlib

    points = embed_umap(np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32))
    assert points.shape == (200, 3) and np.isfinite(points).all()
    done = umap_cache.cache_umap_kernels()
    assert done == [f"{m}.{n}" for m, n in umap_cache.KERNELS]  # the installed umap has them all
    for module, name in umap_cache.KERNELS:
        kernel = getattr(importlib.import_module(module), name)
        stats = kernel.stats
        assert stats.cache_hits or stats.cache_misses, name  # compiled through the cache
        assert stats.cache_path, name


def test_anything_unexpected_is_left_alone():
    assert not umap_cache.make_cacheable("nnviz3d.no_such_module", "kernel")
    assert not umap_cache.make_cacheable("umap.umap_", "no_such_kernel")
    assert not umap_cache.make_cacheable("nnviz3d.embed.umap_cache", "KERNELS")  # not numba
    assert isinstance(umap_cache.KERNELS, tuple)  # and nothing was replaced
