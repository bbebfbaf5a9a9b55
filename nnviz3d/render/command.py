"""``nnviz3d render``: the viewer's scene as a high-resolution PNG, or a run as a video, drawn
by the same viewer in headless Chromium (nnviz3d/render/browser.py).

    nnviz3d render SPEC|FILE|RUN|RECIPE -o picture.png [--size 3840x2160] [--camera BOOKMARK]
                   [--step N] [--background transparent|#rrggbb]
    nnviz3d render RUN -o training.mp4|.webm [--seconds 20] [--fps 30] [--orbit]
    nnviz3d render RECIPE -o tour.mp4        # the recipe's [[tour]] as a guided video

Exit status as every command (nnviz3d/cli.py): 2 for a wrong command line (a bad --size, an
unknown bookmark, a step the run does not hold), 1 when the render cannot be made (no
Chromium, an output folder that is not there). The output is written to a temporary file
beside it and renamed, so a failed render leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import re
import time
from pathlib import Path

from .browser import RenderError, Size

log = logging.getLogger("nnviz3d")

MAX_SIDE = 7680
"""The largest side of a picture, in pixels (Chromium's canvas and memory allow 8K)."""

PICTURES, VIDEOS = (".png",), (".mp4", ".webm")


def size_argument(text: str) -> Size:
    """``WIDTHxHEIGHT``, each 16..7680 pixels."""
    m = re.fullmatch(r"\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 1920x1080, got {text!r}")
    w, h = int(m[1]), int(m[2])
    if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f"each side must be 16 to {MAX_SIDE} pixels, got {text}")
    return Size(w, h)


def background_argument(text: str) -> str:
    """``transparent``, ``default`` or a colour ``#rrggbb`` (given to the page as rrggbb)."""
    t = text.strip().lower()
    if t in ("transparent", "default"):
        return t
    if re.fullmatch(r"#?[0-9a-f]{6}", t):
        return t.lstrip("#")
    raise argparse.ArgumentTypeError(
        f"expected transparent, default or a colour #rrggbb, got {text!r}"
    )


def add_parser(sub) -> None:
    from ..layout.auto_view import depth_argument
    from ..recipe import COLOR_BY

    p = sub.add_parser(
        "render",
        help="render the scene to a PNG, or a run to a video (headless Chromium)",
        description="Draw the viewer's scene in headless Chromium and write it as a "
        "high-resolution PNG, or a recorded run (or a recipe's tour) as an .mp4 "
        "or .webm video.",
    )
    p.add_argument(
        "spec",
        metavar="SOURCE",
        help="a SPEC as for inspect, a model file, a .nnv3d recording or a scene recipe (.toml)",
    )
    p.add_argument("-o", "--output", required=True, help="the .png, .mp4 or .webm file to write")
    p.add_argument(
        "--size",
        type=size_argument,
        default=None,
        help="WIDTHxHEIGHT in pixels (default 1920x1080 for a picture, 1280x720 for a video)",
    )
    p.add_argument("--camera", default=None, metavar="BOOKMARK", help="a recipe's bookmark")
    p.add_argument("--step", type=int, default=None, help="a recording's step to show")
    p.add_argument(
        "--background",
        type=background_argument,
        default="default",
        help="transparent (pictures only), #rrggbb, or default (the viewer's)",
    )
    p.add_argument(
        "--color-by",
        choices=COLOR_BY,
        default=None,
        help="what block colours show (default: as the viewer opens; grad_norm in a "
        "video of a run)",
    )
    p.add_argument(
        "--no-chart", dest="chart", action="store_false", help="leave out the loss chart"
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="video length (default 20; a tour's own length)",
    )
    p.add_argument("--fps", type=int, default=30, help="video frames per second (default 30)")
    p.add_argument("--orbit", action="store_true", help="video: turn the camera once around")
    p.add_argument(
        "--depth",
        type=depth_argument,
        default=None,
        help="'auto' (default), 'all' or N, as for view",
    )
    p.add_argument(
        "--chromium", default=None, metavar="PATH", help="the Chromium to run (or NNVIZ3D_CHROMIUM)"
    )
    p.add_argument(
        "--trust-recipe",
        action="store_true",
        help="let a scene recipe run the Python code its model SPEC names",
    )


def run(args) -> int:
    from ..cli import _fail, _usage

    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in PICTURES + VIDEOS:
        return _usage(f"-o must end in .png, .mp4 or .webm, got {args.output}")
    video = suffix in VIDEOS
    size = args.size or (Size(1280, 720) if video else Size(1920, 1080))
    problem = _option_problem(args, video, size)
    if problem:
        return _usage(problem)
    if not out.parent.is_dir():
        return _fail(
            f"cannot write {args.output}: there is no folder {out.parent}; create it or "
            f"choose another output path"
        )
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        return _fail(f"cannot write {args.output}: permission denied")
    from .source import SourceError, open_source

    try:
        served = open_source(args.spec, depth=args.depth, trust_recipe=args.trust_recipe)
    except SourceError as exc:
        return _fail(str(exc)) if str(exc) else exc.status
    try:
        problem = _source_problem(args, served, video)
        if problem:
            return _usage(problem)
        from .browser import Browser

        t0 = time.perf_counter()
        with Browser(size, args.chromium) as browser:
            browser.open(served.url, background=args.background, chart=args.chart)
            _set_view(browser, served, args, video)
            if video:
                frames, rendered = _write_video(browser, served, args, out, suffix, size)
                what = f"{frames} frames ({rendered} rendered) at {args.fps} fps"
            else:
                _write_atomically(out, browser.capture(chart=args.chart and served.run))
                what = f"{size}"
        seconds = time.perf_counter() - t0
        print(f"wrote {out}: {what}, {out.stat().st_size:,} bytes in {seconds:.1f} s")
        return 0
    except RenderError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    finally:
        served.close()


def _option_problem(args, video: bool, size: Size) -> str | None:
    """What is wrong with the options themselves, or None."""
    if video and (size.width % 2 or size.height % 2):
        return f"a video's --size must have even sides (H.264, VP9), got {size}"
    if video and args.background == "transparent":
        return "--background transparent is for pictures (.png); give a colour for a video"
    if args.seconds is not None and not 0 < args.seconds <= 3600:
        return f"--seconds must be more than 0 and at most 3600, got {args.seconds}"
    if not 1 <= args.fps <= 120:
        return f"--fps must be 1 to 120, got {args.fps}"
    if not video and (args.orbit or args.seconds is not None):
        return "--orbit and --seconds are for videos (.mp4, .webm)"
    return None


def _source_problem(args, served, video: bool) -> str | None:
    """What the options ask of the source that it does not have, or None."""
    if args.camera is not None and args.camera not in served.bookmarks:
        names = ", ".join(served.bookmarks) or "none"
        return f"--camera {args.camera!r} names no bookmark of {args.spec} (bookmarks: {names})"
    if args.step is not None:
        if not served.run:
            return f"--step needs a recording (.nnv3d), got {args.spec}"
        if args.step not in served.steps:
            span = f"{served.steps[0]}..{served.steps[-1]}" if served.steps else "none"
            return (
                f"--step {args.step}: {args.spec} holds no probe data at that step (steps {span})"
            )
        if video:
            return "--step is for pictures: a video of a run goes through every step"
    if video and served.run and not served.steps:
        return f"{args.spec} holds no probe data: there are no steps to make a video of"
    return None


def _set_view(browser, served, args, video: bool) -> None:
    page = browser.page
    color = args.color_by or ("grad_norm" if video and served.run else None)
    if color:
        page.evaluate("(k) => nnviz3d.setColorBy(k)", color)
    if args.camera:
        mark = served.bookmarks[args.camera]
        look(browser, (mark["position"], mark["target"]))
    if args.step is not None:
        browser.seek(args.step)
    browser.wait_still()


def look(browser, camera) -> None:
    """Put the camera at ``(position, target)``."""
    (px, py, pz), target = camera
    offset = [px - target[0], py - target[1], pz - target[2]]
    browser.page.evaluate("([t, o]) => nnviz3d.lookAt(t, o)", [list(target), offset])


def _write_atomically(out: Path, data: bytes) -> None:
    part = _part(out)
    try:
        part.write_bytes(data)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)


def _part(out: Path) -> Path:
    return out.with_name(f".{out.name}.{os.getpid()}.part")


def _write_video(browser, served, args, out: Path, suffix: str, size: Size) -> tuple[int, int]:
    """Render the frame plan and encode it; returns (frames, frames rendered)."""
    import numpy as np

    from ..extras import require
    from ..progress import Progress
    from .video import Encoder, frame_count, orbit_plan, run_plan, tour_plan

    image = require("render", "PIL.Image", "writing videos needs")
    cam = browser.page.evaluate("nnviz3d.camera()")
    start = (tuple(cam["position"]), tuple(cam["target"]))
    if served.run:
        n = frame_count(args.seconds or 20.0, args.fps)
        shots = run_plan(
            served.steps, served.losses, n, _short(served.title), start if args.orbit else None
        )
    elif served.tour:
        shots = tour_plan(served.tour, args.fps, start, args.seconds)
    else:
        shots = orbit_plan(frame_count(args.seconds or 20.0, args.fps), start, _short(served.title))
    runs = _runs(shots)
    part = _part(out)
    rendered, shown_step = 0, None
    try:
        encoder = Encoder(part, suffix, size.width, size.height, args.fps)
        with Progress(len(runs), "render", unit="frame") as bar:
            for shot, repeat in runs:
                if shot.step is not None and shot.step != shown_step:
                    browser.seek(shot.step)
                    shown_step = shot.step
                if shot.camera is not None:
                    look(browser, shot.camera)
                browser.wait_still()
                jpeg = browser.capture(
                    caption=shot.caption, chart=args.chart and served.run, jpeg=True
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


def _runs(shots):
    """Consecutive equal shots as (shot, how many)."""
    out: list[list] = []
    for s in shots:
        if out and out[-1][0] == s:
            out[-1][1] += 1
        else:
            out.append([s, 1])
    return [(s, r) for s, r in out]


def _short(title: str) -> str:
    return title if len(title) <= 60 else title[:59] + "…"
