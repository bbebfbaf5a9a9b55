"""``nnviz3d render``: seconds for pictures and videos drawn by the viewer in headless
Chromium (SwiftShader WebGL on the CPU where there is no GPU).

Run: .venv/bin/python bench/render.py [--run runs/demo.nnv3d] [--seconds 10] [--fps 30]

The run defaults to a fresh ``nnviz3d demo --no-browser --steps 100`` recording. Rows: Chromium's
start, the viewer opening the scene (page load, scene, label glyphs), one PNG of the digits CNN
recipe at 1920x1080 and 3840x2160 (median of ``--rounds``), and the demo run as a video (every
step, held; and turning once around: every frame rendered), with frames rendered per second.
End to end, the command adds Python's and torch's start (about 5 s here) to these.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nnviz3d.render.browser import Browser, Size
from nnviz3d.render.drawing import draw_picture, write_video
from nnviz3d.render.source import open_source

ROOT = Path(__file__).parents[1]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=None, help="a .nnv3d (default: a fresh 100-step demo run)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-orbit", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nnviz3d-bench-render-"))
    run = args.run
    if run is None:
        run = str(tmp / "demo.nnv3d")
        cmd = [sys.executable, "-m", "nnviz3d", "demo", "--no-browser", "--steps", "100"]
        subprocess.run(cmd + ["--record", run], check=True, capture_output=True)
    print("| what | size | seconds | frames | frames/s |")
    print("|---|---|---|---|---|")
    recipe = open_source(str(ROOT / "scenes" / "digits_cnn.toml"))
    start, browser = timed(lambda: Browser(Size(1920, 1080)))
    print(f"| Chromium start | | {start:.1f} | | |")
    try:
        for size in (Size(1920, 1080), Size(3840, 2160)):
            browser.resize(size)
            opened, _ = timed(lambda: browser.open(recipe.url))
            print(f"| viewer opens the digits CNN recipe | {size} | {opened:.1f} | | |")
            times = [timed(lambda: draw_picture(browser, recipe))[0] for _ in range(args.rounds)]
            png = draw_picture(browser, recipe)
            (tmp / f"digits-{size}.png").write_bytes(png)
            print(
                f"| PNG of the digits CNN (median of {args.rounds}, {len(png):,} bytes) | {size} "
                f"| {statistics.median(times):.2f} | 1 | |"
            )
        recipe.close()
        served = open_source(run)
        browser.resize(Size(1280, 720))
        opened, _ = timed(lambda: browser.open(served.url))
        print(
            f"| viewer opens the demo run ({len(served.steps)} steps) | 1280x720 | {opened:.1f} | | |"
        )
        plans = [("held", False)] + ([] if args.skip_orbit else [("orbit", True)])
        for name, orbit in plans:
            out = tmp / f"demo-{name}.mp4"
            took, (frames, rendered) = timed(
                lambda out=out, orbit=orbit: write_video(
                    browser, served, out, fps=args.fps, seconds=args.seconds, orbit=orbit
                )
            )
            what = "every step, held" if not orbit else "turning once around"
            print(
                f"| demo run {args.seconds:g} s at {args.fps} fps, {what} ({out.stat().st_size:,} "
                f"bytes) | 1280x720 | {took:.1f} | {frames} ({rendered} rendered) | "
                f"{rendered / took:.1f} |"
            )
        served.close()
    finally:
        browser.close()
    print(f"outputs in {tmp}")


if __name__ == "__main__":
    main()
