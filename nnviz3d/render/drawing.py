"""Drawing with an open :class:`~nnviz3d.render.browser.Browser`: one picture of the scene as
a recipe's bookmark or a run's step shows it, or a video rendered frame by frame from a plan
(nnviz3d/render/video.py) and encoded as it goes. Outputs are written beside their name and
renamed when complete."""

from __future__ import annotations

import io
import os
from pathlib import Path

from .browser import RenderError
from .source import Served


def draw_picture(
    browser,
    served: Served,
    *,
    camera: str | None = None,
    step: int | None = None,
    color_by: str | None = None,
    chart: bool = True,
) -> bytes:
    """The PNG of the scene at bookmark ``camera`` and recorded ``step`` (default: as the
    viewer opens), its blocks coloured by ``color_by``; a run's loss chart in its corner."""
    if color_by:
        browser.page.evaluate("(k) => nnviz3d.setColorBy(k)", color_by)
    if camera is not None:
        mark = served.bookmarks[camera]
        look(browser, (mark["position"], mark["target"]))
    if step is not None:
        browser.seek(step)
    browser.wait_still()
    return browser.capture(chart=chart and served.run)


def look(browser, camera) -> None:
    """Put the camera at ``(position, target)``."""
    (px, py, pz), target = camera
    offset = [px - target[0], py - target[1], pz - target[2]]
    browser.page.evaluate("([t, o]) => nnviz3d.lookAt(t, o)", [list(target), offset])


def write_atomically(out: Path, data: bytes) -> None:
    part = part_of(out)
    try:
        part.write_bytes(data)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)


def part_of(out: Path) -> Path:
    """The temporary file ``out`` is written as until it is complete."""
    return out.with_name(f".{out.name}.{os.getpid()}.part")


def plan_of(served: Served, start, *, fps: int, seconds: float | None, orbit: bool) -> list:
    """The frames of the video of ``served``: a run step by step (turning around when
    ``orbit``), a recipe's tour, or else an orbit around the model."""
    from .video import frame_count, orbit_plan, run_plan, tour_plan

    title = served.title if len(served.title) <= 60 else served.title[:59] + "…"
    if served.run:
        n = frame_count(seconds or 20.0, fps)
        return run_plan(served.steps, served.losses, n, title, start if orbit else None)
    if served.tour:
        return tour_plan(served.tour, fps, start, seconds, served.steps)
    return orbit_plan(frame_count(seconds or 20.0, fps), start, title)


def write_video(
    browser,
    served: Served,
    out: Path,
    *,
    fps: int = 30,
    seconds: float | None = None,
    orbit: bool = False,
    color_by: str | None = None,
    chart: bool = True,
) -> tuple[int, int]:
    """Render the video of ``served`` into ``out`` (.mp4 or .webm) with progress; returns
    (frames, frames rendered). A run's blocks are coloured by gradient norm unless
    ``color_by`` says otherwise."""
    import numpy as np

    from ..extras import require
    from ..progress import Progress
    from .video import Encoder

    image = require("render", "PIL.Image", "writing videos needs")
    color_by = color_by or ("grad_norm" if served.run else None)
    if color_by:
        browser.page.evaluate("(k) => nnviz3d.setColorBy(k)", color_by)
    browser.wait_still()
    cam = browser.page.evaluate("nnviz3d.camera()")
    start = (tuple(cam["position"]), tuple(cam["target"]))
    if orbit or not (served.run or served.tour):
        from .video import orbit_start

        boxes = browser.page.evaluate(
            "[...nnviz3d.blockBoxes, ...nnviz3d.clouds].map((b) => [b.min, b.max])"
        )
        start = orbit_start(start, boxes, browser.size.width / browser.size.height)
    runs = runs_of(plan_of(served, start, fps=fps, seconds=seconds, orbit=orbit))
    size = browser.size
    part = part_of(out)
    rendered = 0
    try:
        encoder = Encoder(part, out.suffix.lower(), size.width, size.height, fps)
        with Progress(len(runs), "render", unit="frame") as bar:
            for shot, repeat in runs:
                jpeg = browser.frame(
                    shot.step, shot.camera, caption=shot.caption, chart=chart and served.run
                )
                rgb = np.asarray(image.open(io.BytesIO(jpeg)).convert("RGB"))
                if rgb.shape[:2] != (size.height, size.width):
                    raise RenderError(
                        f"the viewer drew {rgb.shape[1]}x{rgb.shape[0]} pixels, not {size}"
                    )
                encoder.add(rgb, repeat)
                rendered += 1
                bar.update()
        encoder.close()
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return sum(r for _, r in runs), rendered


def runs_of(shots: list) -> list[tuple]:
    """Consecutive equal shots as (shot, how many)."""
    out: list[list] = []
    for s in shots:
        if out and out[-1][0] == s:
            out[-1][1] += 1
        else:
            out.append([s, 1])
    return [(s, r) for s, r in out]
