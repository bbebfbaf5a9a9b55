"""The default view of real models, as a new user gets it (issue 16): layout time of the
automatic view against everything open, and, in headless Chromium at 1280x800, the blocks and
labels shown and how much of the canvas the model covers before anyone touches the camera.

Run: make bench   (or .venv/bin/python bench/first_view.py [--rounds N] [--models gpt2,...])

Layout times are medians of N rounds in one process (auto and all interleaved); the browser
figures are read once the labels have been laid out (they are deterministic for a model).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

import torch
from torch import nn

from nnviz3d import zoo
from nnviz3d.capture import capture_graph
from nnviz3d.layout import layout_graph
from nnviz3d.render.browser import ARGS  # `nnviz3d render`'s flags: headless, SwiftShader

MODELS = ["gpt2", "vit", "resnet", "t5", "llama_70b_meta", "mlp"]
CHROMIUM = "/usr/bin/chromium"


def graph_of(name: str):
    if name == "mlp":
        model = nn.Sequential(
            nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
        )
        return capture_graph(model, (torch.randn(4, 64),))
    model, inputs = getattr(zoo, name)()
    return capture_graph(model, inputs)


def layout_times(graph, rounds: int) -> dict:
    out = {"auto": [], "all": []}
    for _ in range(rounds):
        for key, depth in (("auto", "auto"), ("all", None)):
            t = time.perf_counter()
            layout = layout_graph(graph, depth)
            out[key].append(time.perf_counter() - t)
            out[f"{key}_blocks"] = len(layout.paths)
            out[f"{key}_rows"] = layout.meta["rows"]
    return out


def first_view(ctx, graph, size) -> dict:
    from nnviz3d.server import SceneState, ServerThread, make_app

    srv = ServerThread(make_app(SceneState(graph)), "127.0.0.1", 0)
    page = ctx.new_page()
    try:
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.goto(srv.url)
        page.wait_for_function("window.nnviz3d && window.nnviz3d.ready", timeout=180_000)
        for _ in range(3):  # labels are placed again once troika has measured their text
            page.evaluate("nnviz3d.render()")
            page.wait_for_timeout(500)
        return page.evaluate(
            "({labels: nnviz3d.labels.length, coverage: nnviz3d.coverage, "
            "blocks: nnviz3d.blockCoverage, visible: nnviz3d.visibleBlocks, "
            "n: nnviz3d.nodeCount, calls: nnviz3d.drawCalls})"
        )
    finally:
        page.close()
        srv.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="nnviz3d-bench-")
    rows = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, bypass_csp=True
        )
        for name in args.models.split(","):
            graph = graph_of(name)
            t = layout_times(graph, args.rounds)
            v = {s: first_view(ctx, graph, s) for s in ((1280, 800), (1920, 1080))}
            rows.append((name, t, v))
            a, b = v[(1280, 800)], v[(1920, 1080)]
            print(
                f"| {name} | {t['auto_blocks']} of {t['all_blocks']} | {t['auto_rows']} / "
                f"{t['all_rows']} | {statistics.median(t['auto']) * 1e3:.1f} | "
                f"{statistics.median(t['all']) * 1e3:.1f} | {a['labels']} / {b['labels']} | "
                f"{a['coverage']:.2f} / {b['coverage']:.2f} | {a['blocks']:.2f} / "
                f"{b['blocks']:.2f} | {a['calls']} |",
                flush=True,
            )
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
