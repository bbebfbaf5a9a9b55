"""``GET /export.glb``: the server's current view as GLB, built by the same exporter as
``nnviz3d export`` (nnviz3d/export/gltf.py) so the download is what the viewer shows.

Query: ``step`` (the step the page shows; a recording's last step when absent) and
``color_by`` (the viewer's Colour menu key). The file carries readable labels and the
presentation camera, as ``nnviz3d export`` writes it by default. The view (depth, expanded and collapsed groups)
is the server's, shared by every client. Data: the run's recording when there is one (stats at
the step, weight maps, colours), else the weights the server was given (``view(model)``), else
the topology alone.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from .app_keys import FEED, STATE


def _source(state, feed):
    from ..export.sources import ExportSource
    from ..protocol.probe_frame import decode_probe
    from ..record import RunReader

    if feed.reader_factory is not None:
        reader = feed.reader_factory()
        if isinstance(reader, RunReader):  # (compare's overlay of two runs is not one)
            return ExportSource(state.graph, reader=reader, owned=True)
    if feed.matrix_frame is not None:
        return ExportSource(state.graph, weights=decode_probe(feed.matrix_frame[1]))
    return ExportSource(state.graph)


def _build(state, feed, step: int | None, color_by: str | None) -> bytes:
    from ..export import export_gltf

    src = _source(state, feed)
    if src.reader is None:
        step = None  # a model's weights have one state only
    elif step is not None:  # a live run: the page may be a commit ahead of the recording
        summary = src.reader.summary()
        if summary["last_step"] is not None:
            step = min(max(step, summary["first_step"]), summary["last_step"])
    return export_gltf(
        src,
        step=step,
        depth=state.depth,
        expand=sorted(state.expanded),
        collapse=sorted(state.collapsed),
        color_by=color_by,
        labels=True,
    ).data


async def export_glb(request: web.Request) -> web.Response:
    from ..export import ExportError
    from ..extras import MissingExtra

    state, feed = request.app[STATE], request.app[FEED]
    raw = request.query.get("step", "")
    if raw and not re.fullmatch(r"-?\d+", raw):
        return web.Response(status=400, text=f"step must be an integer, got {raw!r}")
    step = int(raw) if raw else None
    color_by = request.query.get("color_by") or None
    loop = asyncio.get_running_loop()
    try:
        data = await loop.run_in_executor(None, _build, state, feed, step, color_by)
    except (ExportError, MissingExtra) as exc:
        return web.Response(status=400, text=str(exc))
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", state.graph.model or "scene")
    return web.Response(
        body=data,
        content_type="model/gltf-binary",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.glb"',
            "Cache-Control": "no-store",
        },
    )
