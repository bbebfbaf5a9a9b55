"""Optional dependencies: the core (torch, numpy, aiohttp) captures, views, watches, records
and replays; each extra adds one feature. Where a feature imports its package it calls
:func:`require`, so a missing package says in one sentence which extra installs it.

=========  ==========================  =====================================================
extra      packages                    feature
=========  ==========================  =====================================================
fast       numba                       one-pass probe statistics on the CPU (without it:
                                       torch's separate reductions, same results)
embed      umap-learn, scikit-learn    feature embeddings (UMAP, t-SNE, PCA), the demo's data
notebook   pythreejs                   ``nnviz3d.show()`` in Jupyter
gltf       trimesh, pillow             glTF export (``nnviz3d export``, the glTF button)
tls        cryptography, segno         ``--tls`` self-signed certificates, the URL's QR code
formats    onnx                        ``.onnx`` model files
render     playwright, av, pillow      ``nnviz3d render``: PNG pictures and videos
=========  ==========================  =====================================================
"""

from __future__ import annotations

import importlib
from types import ModuleType

FEATURES = {
    "embed": "feature embeddings need",
    "notebook": "the notebook widget needs",
    "gltf": "glTF export needs",
    "tls": "--tls needs",
    "formats": "reading .onnx files needs",
    "render": "nnviz3d render needs",
}
"""What needs each extra, as the missing-package message says it."""


class MissingExtra(ImportError):
    """An optional package is not installed; the message names the extra that installs it."""

    def __init__(self, extra: str, module: str, what: str | None = None) -> None:
        self.extra = extra
        what = what or FEATURES.get(extra, extra)
        super().__init__(
            f"nnviz3d: {what} the {extra!r} extra ({module} is not installed): "
            f"pip install 'nnviz3d[{extra}]'",
            name=module,
        )


def require(extra: str, module: str, what: str | None = None) -> ModuleType:
    """Import ``module`` and return it, or raise :class:`MissingExtra` naming ``extra``.
    ``what`` says what needs it, verb included ("UMAP embeddings need"; default from
    :data:`FEATURES`)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is None or exc.name.split(".")[0] != top:
            raise  # the package is there but one of its own imports failed: show that
        raise MissingExtra(extra, top, what) from None


def available(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (UMAP's import is slow)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False
