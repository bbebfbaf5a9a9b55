"""What one page load of the viewer costs on a software rasteriser (SwiftShader here; a machine
or VM without a GPU, and every browser test): the CPU seconds of all of Chromium's processes
from navigation until the default view is drawn and idle, and the wall time until its labels
are laid out. Label glyphs at troika's 64 px distance fields (``?glyph-size=64``, what a GPU
gets) against the 32 px a software rasteriser gets by default (web/src/gpuInfo.ts).

Run: make bench   (or .venv/bin/python bench/page_load.py [--rounds N] [--models gpt2,...])

Both variants load in one browser, interleaved round by round; medians and ranges of N rounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

from nnviz3d import zoo
from nnviz3d.capture import capture_graph
from nnviz3d.render.browser import ARGS  # `nnviz3d render`'s flags: headless, SwiftShader

MODELS = ["gpt2", "resnet", "digits_cnn"]
CHROMIUM = "/usr/bin/chromium"
VARIANTS = {"64 px glyphs": "?glyph-size=64", "32 px (default here)": ""}
TICK = os.sysconf("SC_CLK_TCK")


def chromium_cpu() -> float:
    """CPU seconds used so far by every Chromium process (live ones; none exits during a load)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"chromium" not in f.read().split(b"\0")[0]:
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def load(ctx, url: str) -> tuple[float, float]:
    """(CPU s, wall s to labels laid out) of one load, idle afterwards."""
    page = ctx.new_page()
    try:
        c0, t0 = chromium_cpu(), time.perf_counter()
        page.goto(url)
        page.wait_for_function("window.nnviz3d && window.nnviz3d.ready", timeout=180_000)
        page.wait_for_function("nnviz3d.settled()", timeout=60_000)
        wall = time.perf_counter() - t0
        page.wait_for_timeout(2500)  # what the first frames left to do (glyph fields, draws)
        frames = page.evaluate("nnviz3d.frames")
        page.wait_for_timeout(500)
        assert page.evaluate("nnviz3d.frames") == frames, "the page did not come to rest"
        return chromium_cpu() - c0, wall
    finally:
        page.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from nnviz3d.server import SceneState, ServerThread, make_app

    profile = tempfile.mkdtemp(prefix="nnviz3d-bench-")
    print("| model | variant | CPU s a load (median, range) | to labels s (median) |")
    print("|---|---|---|---:|")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},
            bypass_csp=True,
        )
        for name in args.models.split(","):
            model, inputs = getattr(zoo, name)()
            srv = ServerThread(make_app(SceneState(capture_graph(model, inputs))), "127.0.0.1", 0)
            load(ctx, srv.url)  # warm: the server's first answers, the browser's caches
            res = {k: [] for k in VARIANTS}
            for _ in range(args.rounds):
                for k, query in VARIANTS.items():
                    res[k].append(load(ctx, srv.url + query))
            srv.close()
            for k, rows in res.items():
                cpu = [r[0] for r in rows]
                wall = [r[1] for r in rows]
                print(
                    f"| {name} | {k} | {statistics.median(cpu):.2f} ({min(cpu):.2f}-"
                    f"{max(cpu):.2f}) | {statistics.median(wall):.2f} |",
                    flush=True,
                )
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
