"""The neutral :class:`~nnviz3d.scene.Scene` as a trimesh scene graph, one glTF node per scene
node, named by its scene path, with its metadata in ``extras``.

- Blocks and group boxes: the one unit box mesh per colour (so every block of a colour, and
  every repeat of a repeated block, shares one glTF mesh), scaled and placed by its node's
  translation and scale (TRS, so animations can target them).
- Edges: one tube mesh per edge (their polylines differ).
- Labels: a node at the label's position with its text in ``extras.text``; a label drawn
  (:mod:`nnviz3d.export.gltf_labels`) carries a quad textured from the one text atlas, the
  others stay empty (``extras.shown`` false).
- Camera: a perspective camera node named ``camera`` with the presentation view
  (:mod:`nnviz3d.export.framing`), so stock viewers open on the whole model.
- Weight maps: a textured relief carpet in front of the block, bias bars beside it, as in the
  viewer (web/src/overlays.ts).
"""

from __future__ import annotations

import numpy as np

from ..extras import require
from ..protocol.codec import json_safe
from ..scene.nodes import BLOCK, EDGE, GROUP, LABEL, Scene, SceneNode
from ..scene.overlay import Overlay
from ..scene.paths import scene_path
from . import gltf_geometry as geo
from .framing import Framing
from .gltf_labels import LabelSet, uv_of
from .gltf_materials import MaterialTable, srgb_to_linear

ROOT = "world"
CAMERA = "camera"
LABEL_MATERIAL = "labels"


def clean(obj: dict) -> dict:
    """JSON-safe copy of an extras object, as the wire protocol writes headers
    (nnviz3d/protocol/codec.py): a NaN/Inf number becomes ``null`` and is named in the
    object's ``"nonfinite"`` map (``{"/stats/grad/norm": "NaN"}``), so a glTF stays valid
    JSON (no bare ``NaN``) and still says which values were NaN or infinite; tuples become
    lists, numpy values Python numbers, keys strings."""
    out = json_safe(obj)
    return _plain(out)


def _plain(obj):
    """Tuples as lists and keys as strings (json_safe's fast path keeps them)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _hex(rgb) -> str:
    r, g, b = (round(min(max(float(c), 0.0), 1.0) * 255) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


class SceneBuilder:
    """Collects geometry, nodes and their TRS; :meth:`trimesh_scene` hands them to trimesh."""

    def __init__(self) -> None:
        trimesh = require("gltf", "trimesh")
        require("gltf", "PIL")  # weight maps and labels are PNG textures

        self.scene = trimesh.Scene(base_frame=ROOT)
        self.materials = MaterialTable()
        self.trs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._boxes: set[str] = set()
        self.framing: Framing | None = None

    # ----- geometry shared by name -----
    def box_mesh(self, material_name: str, linear_rgb, opacity: float = 1.0) -> str:
        """Name of the unit box mesh drawn in this material (created once)."""
        name = f"box {material_name}"
        if name not in self._boxes:
            import trimesh

            mesh = geo.unit_box()
            mesh.visual = trimesh.visual.TextureVisuals(
                material=self.materials.solid(material_name, linear_rgb, opacity)
            )
            self.scene.geometry[name] = mesh
            self._boxes.add(name)
        return name

    def node(
        self,
        name: str,
        *,
        parent: str = ROOT,
        translation=None,
        scale=None,
        mesh: str | None = None,
        extras: dict | None = None,
    ) -> None:
        t = np.zeros(3) if translation is None else np.asarray(translation, np.float64)
        s = np.ones(3) if scale is None else np.asarray(scale, np.float64)
        matrix = np.diag([*s, 1.0])
        matrix[:3, 3] = t
        kwargs = {"geometry": mesh} if mesh is not None else {}
        self.scene.graph.update(
            frame_to=name,
            frame_from=parent,
            matrix=matrix,
            metadata=clean(extras) if extras else None,
            **kwargs,
        )
        self.trs[name] = (t, s)

    # ----- scene nodes -----
    def block(
        self, n: SceneNode, color: tuple[str, tuple] | None, extras: dict, *, mesh=True
    ) -> None:
        """``color`` = (material name, linear RGB) overrides the scene's category colour."""
        name, rgb = color or (f"block {_hex(n.color)}", srgb_to_linear(n.color))
        self.node(
            n.path,
            translation=n.position,
            scale=n.scale,
            mesh=self.box_mesh(name, rgb) if mesh else None,
            extras={
                "type": BLOCK,
                "color_srgb": _hex(n.color),
                **n.meta,
                "instance_of": n.instance_of,
                **extras,
            },
        )

    def group(self, n: SceneNode) -> None:
        mesh = self.box_mesh(f"group {_hex(n.color)}", srgb_to_linear(n.color), n.opacity)
        self.node(
            n.path,
            translation=n.position,
            scale=n.scale,
            mesh=mesh,
            extras={"type": GROUP, "opacity": n.opacity, **n.meta},
        )

    def label(self, n: SceneNode, labels: LabelSet | None = None) -> None:
        """The label's node; with a quad when ``labels`` placed it."""
        placed = labels.by_path.get(n.path) if labels else None
        mesh = None
        if placed is not None:
            import trimesh

            quad = trimesh.Trimesh(placed.corners, [[0, 1, 2], [0, 2, 3]], process=False)
            uv = uv_of(placed, labels.atlas.size)
            uv[:, 1] = 1.0 - uv[:, 1]  # trimesh flips v on export (its origin is bottom-left)
            quad.visual = trimesh.visual.TextureVisuals(
                uv=uv, material=self.materials.label_atlas(LABEL_MATERIAL, labels.atlas)
            )
            mesh = f"{n.path} text"
            self.scene.geometry[mesh] = quad
        self.node(
            n.path,
            translation=n.position,
            mesh=mesh,
            extras={
                "type": LABEL,
                "text": n.text,
                "height": float(n.scale[1]),
                **({"shown": placed is not None} if labels else {}),
                **n.meta,
            },
        )

    def camera(self, framing: Framing) -> None:
        """The presentation camera (written by :meth:`finish_tree`)."""
        self.framing = framing

    def edge(self, n: SceneNode) -> None:
        import trimesh

        mesh = geo.tube(n.points)
        if mesh is None:
            return
        mesh.visual = trimesh.visual.TextureVisuals(
            material=self.materials.srgb(f"edge {_hex(n.color)}", n.color)
        )
        self.scene.geometry[n.path] = mesh
        self.node(n.path, mesh=n.path, extras={"type": EDGE, **n.meta})

    def weight_map(self, o: Overlay, block: SceneNode) -> None:
        """A ``grid`` weight overlay as a textured relief carpet, a ``bars`` one as bias bars,
        in front of ``block`` (the +z side) as the viewer lays them out."""
        import trimesh
        from PIL import Image

        width = max(float(block.scale[0]), 0.5)
        edge = float(block.position[2] + block.scale[2] / 2)
        x = float(block.position[0])
        name = f"{block.path}/{o.name}"
        extras = {
            "type": f"overlay:{o.kind}",
            "module": o.module,
            "name": o.name,
            "legend": o.legend,
            **o.meta,
        }
        if o.kind == "grid":
            verts, faces, uv = geo.carpet(o.arrays["heights"], width)
            uv = uv.copy()
            uv[:, 1] = 1.0 - uv[:, 1]  # trimesh flips v on export (its origin is bottom-left)
            image = Image.fromarray(np.ascontiguousarray(o.arrays["colors"], np.uint8), "RGB")
            mesh = trimesh.Trimesh(verts, faces, process=False)
            mesh.visual = trimesh.visual.TextureVisuals(
                uv=uv, material=self.materials.textured(f"weights {name}", image)
            )
            self.scene.geometry[name] = mesh
            self.node(
                name,
                translation=(x, 0.0, edge + geo.CARPET_START + geo.CARPET_DEPTH / 2),
                mesh=name,
                extras=extras,
            )
        elif o.kind == "bars":
            verts, faces, owner = geo.bars(o.arrays["heights"], width)
            rgb = np.round(srgb_to_linear(o.arrays["colors"][owner] / 255.0) * 255)
            colors = np.concatenate([rgb, np.full((len(rgb), 1), 255)], 1).astype(np.uint8)
            mesh = trimesh.Trimesh(verts, faces, vertex_colors=colors, process=False)
            self.scene.geometry[name] = mesh
            self.node(
                name,
                translation=(x, 0.0, edge + geo.BARS_START + geo.BARS_DEPTH / 2),
                mesh=name,
                extras=extras,
            )

    # ----- glTF tree post-processing (trimesh's export hook) -----
    def finish_tree(self, tree: dict) -> None:
        """TRS instead of matrices (animation channels need TRS), exact linear colour factors,
        unlit nearest-neighbour weight textures (one texel per weight, as the viewer)."""
        for node in tree.get("nodes", []):
            trs = self.trs.get(node.get("name"))
            if trs is None:
                continue
            node.pop("matrix", None)
            t, s = trs
            if np.any(t != 0):
                node["translation"] = [float(v) for v in t]
            if np.any(s != 1):
                node["scale"] = [float(v) for v in s]
        self.materials.fix_factors(tree)
        self.materials.mark_unlit(tree)
        self.materials.set_samplers(tree)
        _set_targets(tree)
        if self.framing is not None:
            _add_camera(tree, self.framing)


def _add_camera(tree: dict, f: Framing) -> None:
    """A perspective camera node at the scene's root (glTF cameras look along their -z)."""
    cameras = tree.setdefault("cameras", [])
    cameras.append(
        {
            "name": CAMERA,
            "type": "perspective",
            "perspective": {
                "yfov": float(f.yfov),
                "aspectRatio": float(f.aspect),
                "znear": float(f.near),
                "zfar": float(f.far),
            },
        }
    )
    nodes = tree.setdefault("nodes", [])
    nodes.append(
        {
            "name": CAMERA,
            "camera": len(cameras) - 1,
            "translation": [float(v) for v in f.position],
            "rotation": f.quaternion(),
            "extras": {"type": "camera", "target": [float(v) for v in f.target]},
        }
    )
    scene = tree["scenes"][tree.get("scene", 0)]
    scene.setdefault("nodes", []).append(len(nodes) - 1)


def _set_targets(tree: dict) -> None:
    """``bufferView.target`` of vertex (34962) and index (34963) data, as loaders prefer."""
    views, accessors = tree.get("bufferViews", []), tree.get("accessors", [])
    for mesh in tree.get("meshes", []):
        for prim in mesh.get("primitives", []):
            pairs = [(a, 34962) for a in prim.get("attributes", {}).values()]
            if "indices" in prim:
                pairs.append((prim["indices"], 34963))
            for accessor, target in pairs:
                view = accessors[accessor].get("bufferView")
                if view is not None:
                    views[view]["target"] = target


def add_scene(
    builder: SceneBuilder,
    scene: Scene,
    block_colors: dict[str, tuple],
    block_extras: dict[str, dict],
    overlays: list[Overlay],
    animated: set[str] = frozenset(),
    labels: LabelSet | None = None,
) -> None:
    """Every node of ``scene``; ``block_colors`` (path -> (material name, linear RGB))
    overrides the category colours; blocks in ``animated`` get no mesh of their own (their
    coloured children do); ``labels`` (placed for the camera) get text quads."""
    for n in scene.of_type(BLOCK):
        builder.block(
            n, block_colors.get(n.path), block_extras.get(n.path, {}), mesh=n.path not in animated
        )
    for n in scene.of_type(GROUP):
        builder.group(n)
    for n in scene.of_type(LABEL):
        builder.label(n, labels)
    for n in scene.of_type(EDGE):
        builder.edge(n)
    for o in overlays:
        block = scene.nodes.get(scene_path(o.module))
        if block is not None and block.type == BLOCK:
            builder.weight_map(o, block)
