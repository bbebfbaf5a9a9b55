"""The one error every model-file format raises."""

from __future__ import annotations


class ModelFileError(ValueError):
    """A file nnviz3d cannot open as a model. ``str(err)`` is one sentence naming the file,
    what was expected and what was found, ready to print."""


def failure(exc: BaseException) -> str:
    """An unexpected exception as part of one sentence: its type and its first 200
    characters on one line (a corrupt file can fail anywhere)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
