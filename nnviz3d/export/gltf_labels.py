"""Readable labels in a glTF export: each block's and group's label (the viewer's text: name and
kind) as a textured quad standing above it, facing the export's camera, drawn from ONE texture
atlas (text rendered with Pillow), alpha-blended and unlit so it reads in any viewer.

Which labels are drawn is decided in the camera's picture (:mod:`nnviz3d.export.framing`):
every label is sized to a fixed share of the frame's height (the same size on screen near and
far), and labels are taken largest target first (groups and big blocks before small ones); one
that would overlap a label already taken, or leave the frame, is skipped. Skipped labels keep
their named node and text (``extras.text``) without a quad.

Names come from model files, i.e. from strangers: a label is plain text, control and
bidi-override characters shown as U+FFFD (as web/src/dom.ts ``displayName``), clamped to
:data:`MAX_CHARS`, laid out without shaping, and the atlas never grows past
:data:`MAX_ATLAS` pixels a side.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..scene.nodes import BLOCK, EDGE, GROUP, LABEL, Scene
from .framing import FIT_ASPECT, Framing

MAX_CHARS = 60
"""Characters of a label drawn (a longer name ends in an ellipsis)."""
FONT_PX = 36
PAD_X, PAD_Y = 12, 7
ROW_PX = FONT_PX + 2 * PAD_Y + 4
"""Atlas row height: text, padding and a transparent gutter against bleeding between labels."""
ATLAS_WIDTH = 2048
MAX_ATLAS = 4096
MAX_LABELS = 400
BLOCK_SCREEN, GROUP_SCREEN = 0.028, 0.034
"""Quad height as a fraction of the frame's height at the label's depth."""
MARGIN = 0.2
"""Free space kept around a label, in label heights (on screen)."""
LIFTS = (0.0, 1.5, 3.0)
"""Heights (in label heights) a label may rise above its place to clear an edge or a block."""
TEXT_RGBA = (236, 240, 247, 255)
BACK_RGBA = (16, 19, 26, 205)
GROUP_BACK_RGBA = (44, 50, 66, 215)
FONTS = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf")
"""Tried in order (Pillow looks in the system's font folders); Pillow's own font otherwise."""


def _is_control(c: str) -> bool:
    o = ord(c)
    return (
        (o < 32 and c != "\t")
        or 0x7F <= o < 0xA0
        or 0x202A <= o <= 0x202E
        or 0x2066 <= o <= 0x2069
        or o in (0x200E, 0x200F, 0x061C)
    )


def label_text(value, max_chars: int = MAX_CHARS) -> str:
    """A name as drawn: controls and bidi overrides as U+FFFD, tabs as spaces, clamped."""
    s = str(value)[: max_chars + 1]
    s = "".join("\ufffd" if _is_control(c) else c for c in s).replace("\t", " ")
    return s[: max_chars - 1] + "…" if len(s) > max_chars else s


@functools.cache
def font(px: int = FONT_PX):
    from PIL import ImageFont

    for name in FONTS:
        try:
            return ImageFont.truetype(name, px, layout_engine=ImageFont.Layout.BASIC)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1: the small bitmap font
        return ImageFont.load_default()


def _image_width(text: str) -> int:
    return int(math.ceil(font().getlength(text))) + 2 * PAD_X


def _fit(text: str) -> tuple[str, int]:
    """``text`` shortened (with an ellipsis) until its image fits one atlas row."""
    width = _image_width(text)
    while width > ATLAS_WIDTH and len(text) > 1:
        text = text[: max(1, len(text) * ATLAS_WIDTH // width - 2)] + "…"
        width = _image_width(text)
    return text, min(width, ATLAS_WIDTH)


@dataclass
class PlacedLabel:
    path: str
    """The scene's label node."""
    text: str
    """The text drawn (clamped)."""
    group: bool
    corners: np.ndarray
    """(4, 3) quad corners relative to the label node (bottom-left, bottom-right, top-right,
    top-left), in the plane facing the camera."""
    pixels: tuple[int, int, int, int]
    """x, y, width, height of its image in the atlas."""


@dataclass
class LabelSet:
    placed: list[PlacedLabel]
    atlas: object | None
    """PIL RGBA image holding every placed label (None when none is)."""
    candidates: int

    def __post_init__(self) -> None:
        self.by_path = {p.path: p for p in self.placed}


def place_labels(scene: Scene, framing: Framing) -> LabelSet:
    """The labels of ``scene`` drawn from ``framing``'s camera, with their atlas."""
    cands = []
    for n in scene.of_type(LABEL):
        target = scene.nodes.get(n.meta.get("for", ""))
        if target is None or n.text is None:
            continue
        box = (
            target.position
            + np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
            * target.scale
        )
        ndc = framing.project(box, FIT_ASPECT)
        span = np.clip(ndc.max(0), -1, 1) - np.clip(ndc.min(0), -1, 1)
        cands.append((-float(span[0] * span[1]), -float(np.max(span)), n.path, n, target))
    cands.sort(key=lambda c: c[:3])
    right, up = framing.rotation[:, 0], framing.rotation[:, 1]
    blocks = scene.of_type(BLOCK)
    box_lo = np.array([b.position - b.scale / 2 for b in blocks], np.float64).reshape(-1, 3)
    box_hi = np.array([b.position + b.scale / 2 for b in blocks], np.float64).reshape(-1, 3)
    segments = _edge_segments(scene, framing)
    taken: list[np.ndarray] = []  # screen rectangles (x0, y0, x1, y1), x scaled by aspect
    placed: list[PlacedLabel] = []
    bottoms: dict[str, tuple] = {}  # target path -> (world y of its label's bottom, rect)
    cursor = [0, 0]  # next free x, y in the atlas
    for *_, n, target in cands:
        if len(placed) >= MAX_LABELS:
            break
        group = target.type == GROUP
        text, width_px = _fit(label_text(n.text))
        anchor = np.asarray(n.position, np.float64)
        h = (GROUP_SCREEN if group else BLOCK_SCREEN) * float(framing.view_height_at(anchor)[0])
        w = h * width_px / (FONT_PX + 2 * PAD_Y)
        quad = np.stack(
            [-w / 2 * right, w / 2 * right, w / 2 * right + h * up, -w / 2 * right + h * up]
        )
        # a group's label stays above its members': none rises over a placed ancestor's
        ancestors = [v for p, v in bottoms.items() if target.path.startswith(p + "/")]
        spot = None
        for lift in LIFTS:  # where an edge or a block is in the way, a little higher up
            corners = quad + [0.0, lift * h, 0.0]
            spot = _free(framing, anchor + corners, taken, segments, box_lo, box_hi)
            if (
                spot is not None
                and lift
                and any(
                    y < anchor[1] + lift * h and r[0] < spot[2] and spot[0] < r[2]
                    for y, r in ancestors
                )
            ):
                spot = None
            if spot is not None:
                break
        if spot is None:
            continue
        if cursor[0] + width_px > ATLAS_WIDTH:
            cursor = [0, cursor[1] + ROW_PX]
        if cursor[1] + ROW_PX > MAX_ATLAS:
            break
        placed.append(
            PlacedLabel(n.path, text, group, corners, (cursor[0], cursor[1], width_px, ROW_PX - 4))
        )
        cursor[0] += width_px + 4
        taken.append(spot)
        bottoms[target.path] = (float(anchor[1] + corners[:, 1].min()), spot)
    return LabelSet(placed, _render(placed) if placed else None, len(cands))


def _free(
    framing: Framing, quad: np.ndarray, taken: list[np.ndarray], segments, box_lo, box_hi
) -> np.ndarray | None:
    """The screen rectangle of a label quad (world corners) if it is inside the frame, clear
    of the labels taken (with a margin), of edges in front of it and of blocks hiding it."""
    depth = framing.camera_coords(quad)[:, 2]
    ndc = framing.project(quad, FIT_ASPECT)
    if np.any(np.abs(ndc) > 0.985) or np.any(depth <= framing.near):
        return None
    rect = np.array([*ndc.min(0), *ndc.max(0)]) * [FIT_ASPECT, 1, FIT_ASPECT, 1]
    m = MARGIN * (rect[3] - rect[1])
    grown = rect + [-m, -m, m, m]
    if any(
        grown[0] < r[2] and r[0] < grown[2] and grown[1] < r[3] and r[1] < grown[3] for r in taken
    ):
        return None
    if _crossed(segments, rect, float(depth.max())) or _hidden(
        framing.position, quad, box_lo, box_hi
    ):
        return None
    return rect


def _hidden(eye: np.ndarray, quad: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether a block stands between the camera and the label: rays from ``eye`` to nine
    points of the quad (corners, edge midpoints, centre) tested against every block's box."""
    if not len(lo):
        return False
    w = np.array([[a, b] for a in (0.02, 0.5, 0.98) for b in (0.05, 0.5, 0.95)])
    bottom = quad[0] + (quad[1] - quad[0]) * w[:, :1]
    points = bottom + (quad[3] - quad[0]) * w[:, 1:]
    d = points - eye  # (k, 3): the label is at t = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
        t0 = (lo[None] - eye) * inv[:, None]
        t1 = (hi[None] - eye) * inv[:, None]
    near = np.minimum(t0, t1).max(-1)
    far = np.maximum(t0, t1).min(-1)
    return bool(np.any((near <= far) & (far > 0) & (near < 0.999)))


def _edge_segments(scene: Scene, framing: Framing) -> tuple[np.ndarray, np.ndarray]:
    """Every edge segment on screen: (S, 4) endpoints (x scaled by the aspect, as the label
    rectangles) and (S,) nearest depth."""
    parts = [
        np.asarray(e.points, np.float64)
        for e in scene.of_type(EDGE)
        if e.points is not None and len(e.points) >= 2
    ]
    if not parts:
        return np.zeros((0, 4)), np.zeros(0)
    a = np.concatenate([p[:-1] for p in parts])
    b = np.concatenate([p[1:] for p in parts])
    scale = [FIT_ASPECT, 1]
    ends = np.concatenate(
        [framing.project(a, FIT_ASPECT) * scale, framing.project(b, FIT_ASPECT) * scale], 1
    )
    depth = np.minimum(framing.camera_coords(a)[:, 2], framing.camera_coords(b)[:, 2])
    return ends, depth


def _crossed(segments: tuple[np.ndarray, np.ndarray], rect: np.ndarray, depth: float) -> bool:
    """Whether an edge in front of a label (nearer than its far side) crosses its rectangle
    on screen (Liang-Barsky clipping of every segment at once)."""
    ends, near = segments
    ends = ends[near < depth]
    if not len(ends):
        return False
    p0, d = ends[:, :2], ends[:, 2:] - ends[:, :2]
    t0, t1 = np.zeros(len(ends)), np.ones(len(ends))
    for axis, lo, hi in ((0, rect[0], rect[2]), (1, rect[1], rect[3])):
        dv, pv = d[:, axis], p0[:, axis]
        with np.errstate(divide="ignore", invalid="ignore"):
            ta, tb = (lo - pv) / dv, (hi - pv) / dv
        flat = np.abs(dv) < 1e-12
        inside = (pv >= lo) & (pv <= hi)
        t0 = np.where(flat, np.where(inside, t0, 2.0), np.maximum(t0, np.minimum(ta, tb)))
        t1 = np.where(flat, np.where(inside, t1, -1.0), np.minimum(t1, np.maximum(ta, tb)))
    return bool(np.any(t0 <= t1))


def _render(placed: list[PlacedLabel]):
    from PIL import Image, ImageDraw

    used = max(p.pixels[1] + ROW_PX for p in placed)
    height = min(MAX_ATLAS, 1 << max(6, (used - 1).bit_length()))  # a power of two: mipmaps
    width = ATLAS_WIDTH
    if (
        len(placed)
        and max(p.pixels[0] + p.pixels[2] for p in placed) <= ATLAS_WIDTH // 2
        and used <= ROW_PX
    ):
        width = max(64, 1 << (max(p.pixels[0] + p.pixels[2] for p in placed) - 1).bit_length())
    # transparent texels carry the backdrop's colour, so filtering leaves no light fringe
    atlas = Image.new("RGBA", (width, height), BACK_RGBA[:3] + (0,))
    draw = ImageDraw.Draw(atlas)
    f = font()
    for p in placed:
        x, y, w, h = p.pixels
        back = GROUP_BACK_RGBA if p.group else BACK_RGBA
        draw.rounded_rectangle((x, y, x + w - 1, y + h - 1), radius=h // 4, fill=back)
        draw.text((x + w / 2, y + h / 2), p.text, font=f, fill=TEXT_RGBA, anchor="mm")
    return atlas


def uv_of(p: PlacedLabel, size: tuple[int, int]) -> np.ndarray:
    """(4, 2) texture coordinates of a label's corners (glTF's origin: the image's top-left),
    inset half a texel so filtering stays inside its image."""
    x, y, w, h = p.pixels
    aw, ah = size
    u0, u1 = (x + 0.5) / aw, (x + w - 0.5) / aw
    v0, v1 = (y + 0.5) / ah, (y + h - 0.5) / ah  # v0: the text's top
    return np.array([[u0, v1], [u1, v1], [u1, v0], [u0, v0]], np.float64)
