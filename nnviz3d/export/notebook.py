"""The Jupyter preview: the scene as a pythreejs widget, built from a handful of objects.

pythreejs bundles three.js r97 (no InstancedMesh) and each widget is a comm round-trip:
1,000 meshes take ~18 s to appear (pythreejs issue #154). So the whole scene is merged: every
block of the neutral scene (nnviz3d/scene/, the same one the viewer and the glTF export draw)
becomes 24 vertices of ONE BufferGeometry with vertex colours, every edge and group outline
segments of ONE LineSegments. With the camera, lights, orbit controls, a hover picker and the
renderer that is 18 pythreejs objects for any model (GPT-2 and LLaMA-70B alike).

It opens on the glTF export's camera (:mod:`nnviz3d.export.framing`): a 3/4 view from above
that frames the whole model in the canvas. Hovering a block names it (path, kind, parameters) under the canvas. ``follow(watcher,
color_by=...)`` recolours the blocks from a live ``nnviz3d.watch`` run as its frames arrive
(at most twice a second), through the viewer's own colour rule (nnviz3d/export/gltf_materials).
Colours are sRGB written as is: r97 does no output colour management.
"""

from __future__ import annotations

import html
import math
import threading

import numpy as np

from ..extras import require
from ..scene.nodes import BLOCK, EDGE, GROUP, Scene
from .framing import frame_scene

# each face: 4 corners (as offsets of a unit cube centred at 0), wound outwards
_FACES = [
    ((1, -1, -1), (1, 1, -1), (1, 1, 1), (1, -1, 1)),  # +x
    ((-1, -1, 1), (-1, 1, 1), (-1, 1, -1), (-1, -1, -1)),  # -x
    ((-1, 1, -1), (-1, 1, 1), (1, 1, 1), (1, 1, -1)),  # +y
    ((-1, -1, 1), (-1, -1, -1), (1, -1, -1), (1, -1, 1)),  # -y
    ((-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)),  # +z
    ((1, -1, -1), (-1, -1, -1), (-1, 1, -1), (1, 1, -1)),  # -z
]
CORNERS = np.array([c for f in _FACES for c in f], np.float32) / 2  # (24, 3)
QUADS = np.array([[0, 1, 2, 0, 2, 3]], np.uint32) + 4 * np.arange(6, dtype=np.uint32)[:, None]
BOX_EDGES = np.array(
    [(0, 1), (1, 3), (3, 2), (2, 0), (4, 5), (5, 7), (7, 6), (6, 4), (0, 4), (1, 5), (2, 6), (3, 7)]
)
GROUP_LINE = (0.35, 0.38, 0.45)
REFRESH_SECONDS = 0.5


def merged_blocks(scene: Scene) -> dict[str, np.ndarray | list]:
    """Every block as 24 vertices (4 per face) of one indexed triangle mesh: ``position``,
    ``color`` (sRGB), ``index``, and the blocks' ``modules`` in vertex order (flat shading
    needs no normals)."""
    blocks = scene.of_type(BLOCK)
    n = len(blocks)
    centers = np.array([b.position for b in blocks], np.float32).reshape(n, 1, 3)
    sizes = np.array([b.scale for b in blocks], np.float32).reshape(n, 1, 3)
    position = (centers + CORNERS[None] * sizes).reshape(-1, 3)
    color = np.repeat(np.array([b.color for b in blocks], np.float32), 24, axis=0)
    index = (QUADS.reshape(1, -1) + 24 * np.arange(n, dtype=np.uint32)[:, None]).reshape(-1)
    return {
        "position": position,
        "color": color,
        "index": index,
        "modules": [b.meta.get("module", b.path) for b in blocks],
        "nodes": blocks,
    }


def merged_lines(scene: Scene) -> dict[str, np.ndarray]:
    """Edges (polylines) and group box outlines as pairs of points with colours."""
    points, colors = [], []
    for e in scene.of_type(EDGE):
        p = np.asarray(e.points, np.float32)
        if len(p) >= 2:
            seg = np.stack([p[:-1], p[1:]], axis=1).reshape(-1, 3)
            points.append(seg)
            colors.append(np.tile(np.float32(e.color), (len(seg), 1)))
    for g in scene.of_type(GROUP):
        corners = (
            g.position
            + np.array(
                [[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)],
                np.float32,
            )
            * g.scale
        )
        seg = corners[BOX_EDGES].reshape(-1, 3).astype(np.float32)
        points.append(seg)
        colors.append(np.tile(np.float32(GROUP_LINE), (len(seg), 1)))
    if not points:
        return {"position": np.zeros((0, 3), np.float32), "color": np.zeros((0, 3), np.float32)}
    return {"position": np.concatenate(points), "color": np.concatenate(colors)}


class SceneWidget:
    """The pythreejs preview of a scene; displays itself in Jupyter (``widget`` is the
    ipywidgets box: canvas above, hover text below)."""

    def __init__(self, scene: Scene, *, width: int = 800, height: int = 480) -> None:
        require("notebook", "pythreejs")
        import ipywidgets
        import pythreejs as three

        self.scene = scene
        blocks = merged_blocks(scene)
        lines = merged_lines(scene)
        self.modules: list[str] = blocks["modules"]
        self._nodes = blocks["nodes"]
        self.colors = three.BufferAttribute(array=blocks["color"], normalized=False)
        geometry = three.BufferGeometry(
            attributes={
                "position": three.BufferAttribute(array=blocks["position"], normalized=False),
                "color": self.colors,
                "index": three.BufferAttribute(array=blocks["index"], normalized=False),
            }
        )
        # flat shading derives face normals in the shader: no normal attribute to send
        self.mesh = three.Mesh(
            geometry,
            three.MeshPhongMaterial(vertexColors="VertexColors", flatShading=True, shininess=10),
        )
        line_geometry = three.BufferGeometry(
            attributes={
                "position": three.BufferAttribute(array=lines["position"], normalized=False),
                "color": three.BufferAttribute(array=lines["color"], normalized=False),
            }
        )
        edges = three.LineSegments(
            line_geometry, three.LineBasicMaterial(vertexColors="VertexColors")
        )
        # the glTF export's 3/4 view, fitted to this canvas (nnviz3d/export/framing.py)
        view = frame_scene(scene, aspect=width / height, fit_aspect=width / height)
        camera = three.PerspectiveCamera(
            position=tuple(float(c) for c in view.position),
            quaternion=tuple(view.quaternion()),
            up=(0, 1, 0),
            fov=math.degrees(view.yfov),
            aspect=width / height,
            near=view.near,
            far=view.far,
            children=[three.DirectionalLight(color="white", intensity=0.7, position=(3, 5, 1))],
        )
        self.view = view
        self.camera = camera
        self.controls = three.OrbitControls(
            controlling=camera, target=tuple(float(c) for c in view.target)
        )
        self.picker = three.Picker(controlling=self.mesh, event="mousemove")
        self.hover = ipywidgets.HTML(value=self._title())
        self.picker.observe(self._hovered, names=["faceIndex"])
        scene3 = three.Scene(
            children=[self.mesh, edges, camera, three.AmbientLight(color="#9aa3b5", intensity=0.6)],
            background="#10131a",
        )
        self.renderer = three.Renderer(
            camera=camera,
            scene=scene3,
            controls=[self.controls, self.picker],
            width=width,
            height=height,
            antialias=True,
        )
        self.widget = ipywidgets.VBox([self.renderer, self.hover])
        self._stop: threading.Event | None = None

    def _title(self) -> str:
        meta = self.scene.meta
        return (
            f"<b>{_text(meta.get('model', ''))}</b> · {len(self.modules):,} blocks · "
            f"{_count(meta.get('total_params', 0))} params — hover a block to name it"
        )

    def _hovered(self, change) -> None:
        self.hover.value = self.describe(change["new"])

    def describe(self, face: int | None) -> str:
        """The hover text of triangle ``face`` of the merged mesh (12 per block)."""
        if face is None or face < 0 or face // 12 >= len(self._nodes):
            return self._title()
        meta = self._nodes[face // 12].meta
        shapes = " → ".join(str(s) for s in meta.get("output_shapes", [])[:1])
        # names come from the model or a file: text, never markup (the widget renders HTML)
        return (
            f"<b>{_text(meta.get('module') or '(model)')}</b> · "
            f"{_text(meta.get('kind', ''))} · {_count(meta.get('params', 0))} params "
            f"{_text(shapes)}"
        )

    def set_colors(self, rgb: np.ndarray) -> None:
        """Recolour the blocks: ``rgb`` is (blocks, 3) sRGB in [0, 1], in ``modules`` order."""
        rgb = np.asarray(rgb, np.float32).reshape(len(self.modules), 3)
        self.colors.array = np.repeat(rgb, 24, axis=0)

    def block_colors(self) -> np.ndarray:
        return np.asarray(self.colors.array, np.float32)[::24]

    def follow(self, watcher, color_by: str = "grad_norm") -> None:
        """Recolour from a live ``nnviz3d.watch`` run by ``color_by`` (the viewer's Colour
        choices), as its frames arrive, at most every :data:`REFRESH_SECONDS`."""
        from .gltf_materials import QUANTITIES, level_color, quantity_levels
        from .run_timeline import ProbeView

        if color_by not in QUANTITIES:
            raise ValueError(f"color_by must be one of {sorted(QUANTITIES)}, got {color_by!r}")
        view, lock, fresh = ProbeView(), threading.Lock(), threading.Event()

        def on_frame(header, arrays) -> None:
            with lock:
                view.merge(header, arrays)
            fresh.set()

        watcher.add_listener(on_frame)
        self._stop = stop = threading.Event()

        def refresh() -> None:
            while not stop.is_set():
                if fresh.wait(0.2):
                    fresh.clear()
                    with lock:
                        values, unhealthy, log = view.quantity(color_by, self.modules)
                    levels = quantity_levels(values, log, unhealthy)
                    linear = np.array([level_color(int(k)) for k in levels], np.float64)
                    self.set_colors(_linear_to_srgb(linear))
                    stop.wait(REFRESH_SECONDS)

        threading.Thread(target=refresh, name="nnviz3d-notebook", daemon=True).start()

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


MAX_NAME = 200
"""Characters of a name shown in the hover line; longer names end in an ellipsis."""


def _text(value) -> str:
    """A name for the widget's HTML line: escaped, clamped, bidi controls made harmless."""
    s = str(value)
    s = "".join("\ufffd" if _is_control(c) else c for c in s)
    if len(s) > MAX_NAME:
        s = s[: MAX_NAME - 1] + "…"
    return html.escape(s, quote=True)


def _is_control(c: str) -> bool:
    o = ord(c)
    return (
        (o < 32 and c not in "\t")
        or 0x7F <= o < 0xA0
        or 0x202A <= o <= 0x202E
        or 0x2066 <= o <= 0x2069
        or o in (0x200E, 0x200F, 0x061C)
    )


def _count(n) -> str:
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError, OverflowError):
        return _text(n)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython, not a script)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def scene_widget(
    source, example_inputs=None, *, depth: int | None = None, width: int = 800, height: int = 480
) -> SceneWidget:
    """The widget of a model, graph, recording or SPEC/file (as ``export_gltf`` takes them)."""
    from .gltf import view_scene
    from .sources import resolve

    src = resolve(source, example_inputs)
    try:
        return SceneWidget(view_scene(src.graph, depth), width=width, height=height)
    finally:
        src.close()


def show(source, example_inputs=None, *, depth: int | None = None, **kwargs):
    """In Jupyter, the pythreejs preview (:class:`SceneWidget`); elsewhere the browser viewer
    (``nnviz3d.view``; a live watcher already serves one, whose handle is returned)."""
    if in_notebook():
        live = hasattr(source, "add_listener")  # a live nnviz3d.watch run
        widget = scene_widget(
            source.graph if live else source, example_inputs, depth=depth, **kwargs
        )
        if live:
            widget.follow(source)
        return widget
    if getattr(source, "handle", None) is not None:
        return source.handle
    from ..viewer import view

    return view(source, example_inputs, depth=depth, **kwargs)
