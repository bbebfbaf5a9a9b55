"""``capture_graph``: model + example inputs -> graph IR, trying strategies in order."""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings

import torch

from ..graph import Graph
from .errors import CaptureError
from .example_inputs import infer_example_inputs
from .flow import build_graph
from .inventory import take_inventory
from .model_io import normalise_inputs
from .via_export import trace_export
from .via_fx import trace_fx
from .via_hooks import trace_hooks

STRATEGIES = {
    "export": ("torch.export", trace_export),
    "fx": ("torch.fx", trace_fx),
    "hooks": ("module hooks", trace_hooks),
}
DEFAULT_ORDER = ("export", "fx", "hooks")
META_ORDER = ("hooks", "export", "fx")
"""On the meta device there are no values, so data-dependent control flow cannot run and
hook tracing sees exactly what torch.export sees (tests compare the two graphs), about 15x
faster on LLaMA-70B (0.6 s against 9.4 s here)."""


def capture_graph(
    model: torch.nn.Module, example_inputs=None, *, strategies=None, name: str | None = None
) -> Graph:
    """Capture ``model``'s topology by running it once on ``example_inputs``.

    ``example_inputs`` may be a tensor, a tuple/list of positional inputs, a dict of keyword
    inputs or an ``(args, kwargs)`` pair; when omitted it is inferred from the first
    Linear/Conv/Embedding. Strategies are tried in order (torch.export non-strict, torch.fx,
    module hooks; hooks first for meta-device models, see :data:`META_ORDER`); the first that
    succeeds wins and the failures are listed in ``graph.notes``. Works on
    ``torch.device("meta")`` models without allocating weights.
    The model is left as it was: same mode, no hooks, no gradients.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"capture_graph needs a torch.nn.Module, got {type(model).__name__}")
    if strategies is None:
        on_meta = any(p.is_meta for p in model.parameters())
        strategies = META_ORDER if on_meta else DEFAULT_ORDER
    elif isinstance(strategies, str):
        strategies = (strategies,)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    if example_inputs is None:
        example_inputs = infer_example_inputs(model)
    args, kwargs = normalise_inputs(example_inputs)
    start = time.perf_counter()
    inv = take_inventory(model)
    attempts: list[tuple[str, str]] = []
    failed_module = None
    was_training = model.training
    saved = _save_buffers(model)
    for key in strategies:
        label, fn = STRATEGIES[key]
        try:
            with warnings.catch_warnings(), _quiet_torch_logs():
                warnings.simplefilter("ignore")
                trace = fn(model, args, kwargs)
        except CaptureError as exc:
            attempts.append((label, str(exc)))
            failed_module = failed_module or exc.module
            continue
        except Exception as exc:  # every strategy may fail on some model; the next one tries
            attempts.append((label, f"{type(exc).__name__}: {_one_line(exc)}"))
            continue
        finally:
            model.train(was_training)
            _restore_buffers(saved)
        graph = build_graph(trace, inv, model_name=type(model).__name__)
        graph.seconds = time.perf_counter() - start
        graph.notes = [f"{s} failed: {why}" for s, why in attempts]
        return graph
    tried = "; ".join(f"{s}: {why}" for s, why in attempts)
    where = f" (failed in module '{failed_module}')" if failed_module else ""
    raise CaptureError(
        f"could not capture {type(model).__name__}{where}. Tried {tried}. Check that "
        f"example_inputs match what the model's forward expects.",
        attempts=attempts,
        module=failed_module,
    )


@contextlib.contextmanager
def _quiet_torch_logs():
    """torch.export logs, and fx's ShapeProp prints, whole tracebacks for failures that
    capture reports in one line itself."""
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name == "torch" or name.startswith("torch.")
    ]
    loggers.append(logging.getLogger("torch"))
    states = [(lg, lg.disabled) for lg in loggers]
    for lg, _ in states:
        lg.disabled = True
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, disabled in states:
            lg.disabled = disabled


def _save_buffers(model: torch.nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Strategies that run the forward (fx shape propagation, hooks) would update buffers
    such as BatchNorm's running statistics in train mode; they are put back afterwards."""
    return [(b, b.detach().clone()) for b in model.buffers() if not b.is_meta]


def _restore_buffers(saved) -> None:
    with torch.no_grad():
        for buf, value in saved:
            if not torch.equal(buf, value):
                buf.copy_(value)


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
