"""glTF/GLB export of the scene the viewer draws: same layout, same colours, same weight maps.

``export_gltf(source, path)`` takes a model, a captured graph or a recording; with a recording
it shows the run at one step (``step=``, default the last) or, with ``animate=True``, the whole
timeline as a glTF animation (:mod:`nnviz3d.export.gltf_animation`). The file opens on a camera
framing the whole model (:mod:`nnviz3d.export.framing`) and, unless ``labels=False``, its
labels are drawn as text quads (:mod:`nnviz3d.export.gltf_labels`). The scene is built by the
same code as the server's (layout_graph + build_topology_scene); this module only turns it
into a file. trimesh writes the GLB; its export hooks add what it lacks (TRS, exact linear
colours, samplers, animations).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..layout import layout_depth, layout_graph
from ..scene import BLOCK, Scene, build_topology_scene
from ..scene.weight_map import weight_overlays
from .framing import frame_scene
from .gltf_animation import Timeline, level_name
from .gltf_labels import place_labels
from .gltf_materials import QUANTITIES, level_color, quantity_levels
from .gltf_scene import SceneBuilder, add_scene, clean
from .run_timeline import ProbeView, state_at, timeline
from .sources import ExportError, ExportSource, resolve

DEFAULT_ANIMATE_QUANTITY = "grad_norm"
MAX_STEPS = 200
EXPORT_STAGES = ("layout", "probe data", "animation", "weight maps", "geometry", "encode", "write")
"""The stages ``export_gltf(progress=)`` reports, in order (a big model's weight maps and a
long animation take the time)."""
"""Animations keep at most this many steps (evenly spaced, first and last included)."""


@dataclass
class ExportResult:
    path: Path | None
    bytes: int
    nodes: int
    meshes: int
    animations: int
    duration: float
    """Seconds of the animation (0 for a static export)."""
    step: int | None
    """The recording's step shown (static export of a run), else None."""
    steps: list[int] = field(default_factory=list)
    """The steps an animation shows, in order."""
    labels: int = 0
    """Labels drawn as text (0 with ``labels=False``)."""
    seconds: float = 0.0
    data: bytes = field(default=b"", repr=False)


def export_gltf(
    source,
    path=None,
    *,
    step: int | None = None,
    animate: bool = False,
    depth: int | None = None,
    expand=(),
    collapse=(),
    color_by: str | None = None,
    example_inputs=None,
    seconds_per_step: float = 0.25,
    max_steps: int = MAX_STEPS,
    weights: bool = True,
    labels: bool = True,
    progress=None,
) -> ExportResult:
    """Write ``source``'s scene as GLB to ``path`` (or only return the bytes when ``path`` is
    None). ``source``: an ``nn.Module`` (with ``example_inputs``), a ``(module, inputs)`` pair,
    a Graph, a RunReader, or the path of a run (.nnv3d), a model file or a SPEC.
    ``depth``/``expand``/``collapse`` choose the view as in the viewer; ``color_by`` is one of
    the viewer's colour-by quantities (a recording's animation defaults to ``grad_norm``).
    ``labels``: draw block and group names as text (the label nodes and their text in
    ``extras`` are there either way). ``progress``: called with the name of each stage of
    :data:`EXPORT_STAGES` as it ends (the CLI's bar on a big export)."""
    t0 = time.perf_counter()
    _check_options(step, animate, depth, color_by, seconds_per_step, max_steps)
    color_by = None if color_by == "kind" else color_by
    src = resolve(source, example_inputs)
    try:
        data, info = _export(
            src,
            step,
            animate,
            depth,
            expand,
            collapse,
            color_by,
            seconds_per_step,
            max_steps,
            weights,
            labels,
            progress or (lambda stage: None),
        )
    finally:
        src.close()
    out = None
    if path is not None:
        out = Path(path)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            (progress or (lambda stage: None))("write")
        except OSError as exc:
            raise ExportError(
                f"cannot write {out}: {exc.strerror or exc}; choose another output path"
            ) from None
    return ExportResult(
        path=out, bytes=len(data), seconds=time.perf_counter() - t0, data=data, **info
    )


def _export(
    src: ExportSource,
    step,
    animate,
    depth,
    expand,
    collapse,
    color_by,
    seconds_per_step,
    max_steps,
    weights,
    labels=True,
    progress=lambda stage: None,
) -> tuple[bytes, dict]:
    if (step is not None or animate) and src.reader is None:
        what = "animate" if animate else "step"
        raise ExportError(
            f"{what} needs a recording (.nnv3d from nnviz3d.watch or demo); "
            f"{src.graph.model} was given without one"
        )
    scene = view_scene(src.graph, depth, expand, collapse)
    blocks = scene.of_type(BLOCK)
    modules = [b.meta["module"] for b in blocks]
    progress("layout")
    builder = SceneBuilder()
    colors: dict[str, tuple] = {}
    extras: dict[str, dict] = {}
    overlays, shown_step, tl, view = [], None, None, None
    frame = src.weights
    if src.reader is not None:
        try:
            view, frame, shown_step = state_at(src.reader, step)
        except ValueError as exc:
            raise ExportError(str(exc)) from None
    elif frame is not None:
        view = ProbeView()
        view.merge(*frame)
    if color_by and view is None:
        raise ExportError(
            f"colouring by {color_by} needs probe data: export a recording or "
            f"a model with weights, not a topology-only graph"
        )
    if view is not None:
        extras = {b.path: {"stats": view.stats_of(m)} for b, m in zip(blocks, modules)}
        if color_by and not animate:
            values, unhealthy, log = view.quantity(color_by, modules)
            for b, level in zip(blocks, quantity_levels(values, log, unhealthy)):
                colors[b.path] = (level_name(int(level)), level_color(int(level)))
    progress("probe data")
    if animate:
        tl = _timeline(
            src, color_by or DEFAULT_ANIMATE_QUANTITY, modules, seconds_per_step, max_steps
        )
    progress("animation")
    if weights and frame is not None:
        overlays = weight_overlays(*frame)
    progress("weight maps")
    framing = frame_scene(scene)
    builder.camera(framing)
    placed = place_labels(scene, framing) if labels else None
    add_scene(
        builder,
        scene,
        colors,
        extras,
        overlays,
        animated={b.path for b in blocks} if tl else set(),
        labels=placed,
    )
    if tl is not None:
        tl.add_children(builder, blocks)
    progress("geometry")
    builder.scene.metadata.update(
        clean(
            {
                "generator": "nnviz3d",
                **scene.meta,
                "step": shown_step,
                "color_by": color_by or (tl.quantity if tl else "kind"),
                "labels": (
                    f"{len(placed.placed)} of {placed.candidates} drawn as text quads facing the "
                    f"camera (the others would overlap); every text in extras.text"
                    if placed
                    else "named empty nodes; text in extras.text"
                ),
                "weights_step": int(frame[0]["step"]) if frame is not None and src.reader else None,
            }
        )
    )
    info = {
        "nodes": len(builder.trs),
        "meshes": len(builder.scene.geometry),
        "animations": 1 if tl else 0,
        "duration": tl.duration if tl else 0.0,
        "step": shown_step,
        "steps": tl.steps.tolist() if tl else [],
        "labels": len(placed.placed) if placed else 0,
    }
    data = _glb(builder, tl)
    progress("encode")
    return data, info


def view_scene(graph, depth=None, expand=(), collapse=()) -> Scene:
    """The scene the viewer shows for these view settings (as server/scene_state.py)."""
    for p in (*expand, *collapse):
        if p not in graph or not graph[p].is_group or not p:
            raise ExportError(
                f"{p!r} is not a group of {graph.model} that can be expanded "
                f"or collapsed; use a dotted module path shown by inspect"
            )
    layout = layout_graph(graph, layout_depth(depth), set(expand), set(collapse))
    scene = build_topology_scene(graph, layout)
    scene.meta["depth"] = depth
    scene.meta["expanded"] = sorted(expand)
    return scene


def _timeline(src: ExportSource, quantity, modules, seconds_per_step, max_steps) -> Timeline:
    steps, levels = timeline(src.reader, quantity, modules, max_steps)
    if len(steps) < 2:
        raise ExportError(
            f"{src.reader.path} has {len(steps)} step(s) with probe data; an "
            f"animation needs two or more (export one step with --step)"
        )
    return Timeline(steps, levels, quantity, seconds_per_step)


def _glb(builder: SceneBuilder, tl: Timeline | None) -> bytes:
    from trimesh.exchange.gltf import export_glb

    return export_glb(
        builder.scene,
        tree_postprocessor=builder.finish_tree,
        buffer_postprocessor=tl.add_to_tree if tl else None,
    )


def _check_options(step, animate, depth, color_by, seconds_per_step, max_steps) -> None:
    if step is not None and animate:
        raise ExportError("choose one of step= (one step) and animate=True (all steps)")
    try:
        layout_depth(depth)
    except ValueError as e:
        raise ExportError(str(e)) from None
    if color_by not in (None, "kind", *QUANTITIES):
        raise ExportError(
            f"unknown colour quantity {color_by!r}; one of kind, {', '.join(QUANTITIES)}"
        )
    if not seconds_per_step > 0:
        raise ExportError(f"seconds_per_step must be positive, got {seconds_per_step}")
    if max_steps < 2:
        raise ExportError(f"max_steps must be 2 or more, got {max_steps}")


__all__ = ["ExportError", "ExportResult", "export_gltf", "view_scene"]
