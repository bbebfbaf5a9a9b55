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
import logging
import os
import re
import time
from pathlib import Path

from .browser import RenderError, Size
from .video import MAX_SECONDS

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
    from ..commands.common import fail, usage

    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in PICTURES + VIDEOS:
        return usage(f"-o must end in .png, .mp4 or .webm, got {args.output}")
    video = suffix in VIDEOS
    size = args.size or (Size(1280, 720) if video else Size(1920, 1080))
    problem = _option_problem(args, video, size)
    if problem:
        return usage(problem)
    if not out.parent.is_dir():
        return fail(
            f"cannot write {args.output}: there is no folder {out.parent}; create it or "
            f"choose another output path"
        )
    if out.is_dir():
        return fail(f"cannot write {args.output}: it is a folder")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        return fail(f"cannot write {args.output}: permission denied")
    from ..extras import require
    from .browser import find_chromium

    require("render", "playwright.sync_api", "nnviz3d render needs")  # before a model loads
    if video:
        require("render", "av", "writing videos needs")
    try:
        find_chromium(args.chromium)
    except RenderError as exc:
        return fail(str(exc))
    from .source import SourceError, open_source

    try:
        served = open_source(args.spec, depth=args.depth, trust_recipe=args.trust_recipe)
    except SourceError as exc:
        return fail(str(exc)) if str(exc) else exc.status
    try:
        problem = _source_problem(args, served, video)
        if problem:
            return usage(problem)
        from .browser import Browser
        from .drawing import draw_picture, write_atomically, write_video

        t0 = time.perf_counter()
        with Browser(size, args.chromium) as browser:
            browser.open(served.url, background=args.background, chart=args.chart)
            view = {"color_by": args.color_by, "chart": args.chart}
            if video:
                frames, rendered = write_video(
                    browser,
                    served,
                    out,
                    fps=args.fps,
                    seconds=args.seconds,
                    orbit=args.orbit,
                    **view,
                )
                what = f"{frames} frames ({rendered} rendered) at {args.fps} fps"
            else:
                picture = draw_picture(browser, served, camera=args.camera, step=args.step, **view)
                write_atomically(out, picture)
                what = f"{size}"
        seconds = time.perf_counter() - t0
        print(f"wrote {out}: {what}, {out.stat().st_size:,} bytes in {seconds:.1f} s")
        return 0
    except RenderError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    finally:
        served.close()


def _option_problem(args, video: bool, size: Size) -> str | None:
    """What is wrong with the options themselves, or None."""
    if video and (size.width % 2 or size.height % 2):
        return f"a video's --size must have even sides (H.264, VP9), got {size}"
    if video and args.background == "transparent":
        return "--background transparent is for pictures (.png); give a colour for a video"
    if args.seconds is not None and not 0 < args.seconds <= MAX_SECONDS:
        return f"--seconds must be more than 0 and at most {MAX_SECONDS:g}, got {args.seconds}"
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
