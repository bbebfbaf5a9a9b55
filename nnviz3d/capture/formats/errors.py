"""The one error every model-file format raises."""

from __future__ import annotations


class ModelFileError(ValueError):
    """A file nnviz3d cannot open as a model. ``str(err)`` is one sentence naming the file,
    what was expected and what was found, ready to print."""
