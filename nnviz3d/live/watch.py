"""``nnviz3d.watch(model, x)``: the one call that starts a :class:`~nnviz3d.live.watcher.Watcher`
(its full, typed and documented signature, for IDEs and ``help()``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .schedule import MAX_INTERVAL, MAX_SECONDS
from .watcher import Watcher

if TYPE_CHECKING:  # torch is imported when a Watcher starts, not with nnviz3d
    import torch

    from ..graph import Graph
    from .health import HealthThresholds


def watch(
    model: torch.nn.Module,
    example_inputs: Any = None,
    *,
    budget: float = 0.05,
    every: int | None = None,
    max_interval: int = MAX_INTERVAL,
    max_seconds: float | None = MAX_SECONDS,
    record: str | Path | bool | None = True,
    serve: bool = True,
    host: str = "127.0.0.1",
    port: int | None = None,
    open_browser: bool = True,
    depth: int | str | None = None,
    strict: bool = False,
    graph: Graph | None = None,
    quiet: bool = False,
    health: bool | HealthThresholds = True,
    inputs: torch.Tensor | None = None,
    labels: torch.Tensor | Sequence[int] | None = None,
    loss_fn: Callable[[torch.nn.Module], torch.Tensor] | None = None,
    embed: str | Sequence[str] | None = None,
    embed_every: int = 25,
    embed_method: str = "umap",
    token: str | None = None,
    tls: bool | tuple[str, str] | None = None,
    allow_hosts: Sequence[str] | None = None,
    record_journal: str = "auto",
    group: Any = None,
) -> Watcher:
    """Start watching ``model`` train: probe it, record the run and show it live in a browser.

    Call ``w.step(loss=..., step=None, **metrics)`` after each ``optimizer.step()`` (``step=``
    your global step; ``w.log({...})`` for metrics between steps); use it as a context manager
    (or call ``w.close()``) so the recording is complete. See :class:`Watcher`.

    Args:
        model: the ``nn.Module`` being trained (DDP and FSDP wrappers are unwrapped).
        example_inputs: an input batch (a tensor, a tuple of them or a dict of keyword
            arguments) to capture the graph with; not needed when ``graph`` is given.
        budget: the share of training time probes may take on average (0.05: 5 %).
        every: probe every kind at every ``every`` steps instead of adapting to ``budget``
            (``None``: adapt; under torch.distributed every 10 steps by default).
        max_interval: whatever the budget, every kind is probed at least this often, in steps
            (a power of two).
        max_seconds: ... and at least every this many seconds of training (``None``: no limit
            in time).
        record: ``True`` writes ``runs/MODEL-TIME.nnv3d``; a directory puts it there; a path
            names it (an existing one is an error); ``False``/``None`` records nothing.
        serve: serve the viewer (``False``: record only, e.g. on a cluster node).
        host: the address the viewer binds (``127.0.0.1``: this machine only).
        port: its port (``None``: 8765, or a free one when that is taken).
        open_browser: open the viewer in a browser when it starts.
        depth: how far groups are opened: ``"auto"`` (``None``), ``"all"`` or an integer N
            (groups at depth N and deeper closed).
        strict: raise errors inside nnviz3d instead of logging them once (for tests).
        graph: an already captured :class:`~nnviz3d.graph.Graph` (skips the capture).
        quiet: no URL line and no notes: the ``nnviz3d`` logger says warnings only (level
            WARNING instead of INFO; a level you set on it yourself is kept). Messages go to
            stderr unless you configured logging.
        health: watch for dead, vanishing, exploding and stalled layers (``True``), with your
            :class:`~nnviz3d.live.health.HealthThresholds`, or not at all (``False``).
        inputs: a fixed probe set of inputs the viewer can ask about (saliency, activations,
            embeddings, the loss landscape).
        labels: the probe set's labels (colours of the embeddings; cross-entropy for the
            loss landscape).
        loss_fn: ``loss_fn(model)`` returns the loss on fixed data, for the loss landscape
            when cross-entropy on ``labels`` is not the loss.
        embed: dotted module paths whose features of ``inputs`` are embedded in 3-D (as
            ``nnviz3d inspect`` prints them; needs ``inputs``).
        embed_every: embed every this many steps.
        embed_method: ``"umap"`` (PCA while numba warms up), ``"pca"`` or ``"tsne"``.
        token: the access token every request must carry (generated when ``host`` is not a
            loopback address).
        tls: ``True`` serves HTTPS with a self-signed certificate, ``(certfile, keyfile)``
            with yours (a headset needs HTTPS for WebXR).
        allow_hosts: host names the viewer answers to besides this machine's own (a reverse
            proxy's); other ``Host`` headers are refused.
        record_journal: the recording's SQLite journal: ``"auto"`` (the rollback journal on a
            network filesystem, where WAL is unsafe; WAL elsewhere), ``"wal"`` or
            ``"rollback"`` (also ``NNVIZ3D_RECORD_JOURNAL``).
        group: under torch.distributed, the ``ProcessGroup`` (or 1-D ``DeviceMesh``) whose
            ranks' probes are merged (the data-parallel group); ``None``: the whole world.

    Returns:
        the running :class:`Watcher`.
    """
    return Watcher(
        model,
        example_inputs,
        budget=budget,
        every=every,
        max_interval=max_interval,
        max_seconds=max_seconds,
        record=record,
        serve=serve,
        host=host,
        port=port,
        open_browser=open_browser,
        depth=depth,
        strict=strict,
        graph=graph,
        quiet=quiet,
        health=health,
        inputs=inputs,
        labels=labels,
        loss_fn=loss_fn,
        embed=embed,
        embed_every=embed_every,
        embed_method=embed_method,
        token=token,
        tls=tls,
        allow_hosts=allow_hosts,
        record_journal=record_journal,
        group=group,
    )
