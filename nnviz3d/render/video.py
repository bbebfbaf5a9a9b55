"""Videos: which frame shows what (a run's steps, an orbit, a tour's stops), and their encoding
through PyAV, whose wheels bring their own FFmpeg (H.264 in .mp4, VP9 in .webm).

A frame plan is a list of :class:`Shot`; consecutive equal shots are rendered once and the
picture is repeated, so a short run's video keeps its length without rendering one step thirty
times (unless the camera orbits, when every frame differs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..extras import require

CODECS = {".mp4": ("mp4", "libx264"), ".webm": ("webm", "libvpx-vp9")}
"""Container format and encoder by the output's suffix."""

MAX_SECONDS = 3600.0
"""The longest video made, in seconds (``--seconds`` at most; a tour is squeezed to it)."""

FLIGHT = 1.2
"""Seconds the camera takes to fly between two tour stops."""


@dataclass(frozen=True)
class Shot:
    """What one frame shows: a recorded step (or None), a camera (position, target) or None
    to leave it where it is, and a caption."""

    step: int | None = None
    camera: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    caption: str = ""


def frame_count(seconds: float, fps: int) -> int:
    return max(1, round(seconds * fps))


def run_plan(
    steps: list[int], losses: dict[int, float], n: int, title: str, orbit=None
) -> list[Shot]:
    """``n`` frames through a run's ``steps`` evenly (each step held for several frames when
    there are fewer steps than frames), captioned with the step and its train loss;
    ``orbit``: a starting camera the frames turn once around."""
    k = len(steps)
    shots = []
    for i in range(n):
        # more steps than frames: evenly from the first to the last; fewer: equal holds
        step = steps[round(i * (k - 1) / max(1, n - 1)) if k > n else i * k // n]
        loss = losses.get(step)
        caption = f"{title} · step {step} of {steps[-1]}"
        if loss is not None:
            caption += f" · loss {_number(loss)}"
        shots.append(Shot(step, orbit_camera(orbit, i / n) if orbit else None, caption))
    return shots


def orbit_start(start, boxes: list, aspect: float, fov: float = 50.0):
    """The camera an orbit starts from: from ``start``'s direction, looking at the centre of
    ``boxes`` ([min, max] corners), far enough that their bounding sphere stays in view from
    every side (the default view frames the model's long side: end on, it would come too
    close). ``fov``: the camera's vertical field of view in degrees."""
    if not boxes:
        return start
    lo = [min(b[0][i] for b in boxes) for i in range(3)]
    hi = [max(b[1][i] for b in boxes) for i in range(3)]
    centre = tuple((a + b) / 2 for a, b in zip(lo, hi))
    radius = math.dist(lo, hi) / 2
    half = math.radians(fov) / 2
    half = min(half, math.atan(math.tan(half) * aspect))  # the narrower of the two
    distance = 1.05 * radius / math.sin(half) if radius > 0 else 1.0
    d = [p - t for p, t in zip(start[0], start[1])]
    n = math.hypot(*d) or 1.0
    return (tuple(c + distance * x / n for c, x in zip(centre, d)), centre)


def orbit_plan(n: int, start, caption: str) -> list[Shot]:
    """``n`` frames turning once around the target of camera ``start``."""
    return [Shot(None, orbit_camera(start, i / n), caption) for i in range(n)]


def orbit_camera(start, turn: float):
    """Camera ``start`` (position, target) turned by ``turn`` of a full circle about the
    vertical axis through its target."""
    (px, py, pz), (tx, ty, tz) = start
    a = 2 * math.pi * turn
    dx, dz = px - tx, pz - tz
    c, s = math.cos(a), math.sin(a)
    return ((tx + c * dx + s * dz, py, tz - s * dx + c * dz), (tx, ty, tz))


def tour_plan(
    stops: list[dict], fps: int, start, seconds: float | None = None, steps: list[int] = ()
) -> list[Shot]:
    """A guided video: the camera flies from ``start`` to each stop (FLIGHT seconds; none to
    the first) and stays its ``seconds``, with its caption; ``seconds`` stretches or squeezes
    the whole to that length. A stop's step shows the newest of the recorded ``steps`` at or
    before it (none without a recording)."""
    spans = [(0.0 if i == 0 else FLIGHT, float(s["seconds"])) for i, s in enumerate(stops)]
    total = sum(f + h for f, h in spans)
    # a recipe's seconds are its author's: a video of at most MAX_SECONDS whatever they say
    stretch = seconds / total if seconds else min(1.0, MAX_SECONDS / total)
    shots: list[Shot] = []
    here, clock = start, 0.0

    def frames(seconds: float) -> int:  # cumulative rounding: the total is exact
        nonlocal clock
        before = round(clock * stretch * fps)
        clock += seconds
        return round(clock * stretch * fps) - before

    for stop, (flight, hold) in zip(stops, spans):
        there = (tuple(stop["position"]), tuple(stop["target"]))
        step, caption = _recorded(stop.get("step"), steps), stop.get("caption", "")
        fly = frames(flight)
        for j in range(fly):
            u = _ease((j + 1) / (fly + 1))
            shots.append(Shot(step, _mix(here, there, u), caption))
        shots += [Shot(step, there, caption)] * frames(hold)
        here = there
    return shots or [Shot(None, start, "")]


def _recorded(step: int | None, steps: list[int]) -> int | None:
    if step is None or not steps:
        return None
    return max((s for s in steps if s <= step), default=steps[0])


def _ease(u: float) -> float:
    return u * u * (3 - 2 * u)


def _mix(a, b, u: float):
    return tuple(tuple(x + (y - x) * u for x, y in zip(p, q)) for p, q in zip(a, b))


def _number(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)


class Encoder:
    """Writes RGB frames into a video file (PyAV): ``add(rgb, repeat)``, then ``close()``."""

    def __init__(self, path: Path, suffix: str, width: int, height: int, fps: int) -> None:
        av = require("render", "av", "writing videos needs")
        fmt, codec = CODECS[suffix]
        self.av = av
        self.container = av.open(str(path), mode="w", format=fmt)
        self.stream = self.container.add_stream(codec, rate=fps)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self.stream.options = {"crf": "20", "preset": "medium"}
        else:  # VP9: constant quality, the fast settings (libvpx is slow otherwise)
            self.stream.options = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        self.frames = 0

    def add(self, rgb, repeat: int = 1) -> None:
        frame = self.av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for _ in range(repeat):
            frame.pts = self.frames
            self.frames += 1
            self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        try:
            self.container.mux(self.stream.encode(None))
        finally:
            self.container.close()
