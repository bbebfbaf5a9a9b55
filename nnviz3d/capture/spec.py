"""Load a model from a SPEC: ``package.module:callable`` or ``path/to/file.py:callable``.

The callable returns an ``nn.Module`` or a ``(module, example_inputs)`` pair.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path


class SpecError(ValueError):
    """A SPEC that does not name a model; the message says what was wrong and how to fix it."""


class SpecFormatError(SpecError):
    """A SPEC that is not written as one (no ``:callable``): a wrong command line, not a
    model that failed to load."""


FORMAT = "expected SPEC as 'package.module:callable' or 'path/to/file.py:callable'"


def call_spec(spec: str):
    """Import the SPEC's target and return what it names: an ``nn.Module`` as it is, a
    callable's result otherwise. Raises :class:`SpecError` saying what went wrong."""
    import torch

    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise SpecFormatError(f"bad SPEC {spec!r}: {FORMAT}")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise SpecError(f"bad SPEC {spec!r}: no such file {target}")
        name = f"_nnviz3d_spec_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:
            raise SpecError(
                f"bad SPEC {spec!r}: importing {target} raised {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            sys.path.pop(0)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise SpecError(f"bad SPEC {spec!r}: no module named {exc.name!r}") from exc
        except Exception as exc:
            raise SpecError(
                f"bad SPEC {spec!r}: importing {target} raised {type(exc).__name__}: {exc}"
            ) from exc
    fn = getattr(module, attr, None)
    if fn is None:
        raise SpecError(f"bad SPEC {spec!r}: {target} has no attribute {attr!r}")
    if isinstance(fn, torch.nn.Module):
        return fn
    if not callable(fn):
        raise SpecError(
            f"bad SPEC {spec!r}: {target}.{attr} is a {type(fn).__name__}, not a callable"
        )
    try:
        return fn()
    except Exception as exc:
        raise SpecError(
            f"bad SPEC {spec!r}: calling {attr}() raised {type(exc).__name__}: {exc}"
        ) from exc


def load_spec(spec: str):
    """Return ``(model, example_inputs or None)``."""
    import torch

    result = call_spec(spec)
    attr = spec.rpartition(":")[2]
    if isinstance(result, torch.nn.Module):
        return result, None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], torch.nn.Module):
        return result
    raise SpecError(
        f"bad SPEC {spec!r}: {attr}() returned {type(result).__name__}; it must "
        f"return an nn.Module or a (module, example_inputs) pair"
    )
