"""The viewer with big embedding clouds: seconds from an embedding frame being published to the
cloud being drawn (the frame's transfer, decoding and the point buffers), for 10,000 and
100,000 points, no client-side sampling. Headless Chromium, SwiftShader WebGL (software).

Run: .venv/bin/python bench/embedding_viewer.py [--rounds 3]

The points are synthetic (10 clusters, already embedded): this measures the viewer, not UMAP
(see bench/embeddings.py for that).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
from playwright.sync_api import sync_playwright

from nnviz3d.capture import capture_graph
from nnviz3d.protocol.overlay_frame import encode_overlays
from nnviz3d.render.browser import ARGS  # `nnviz3d render`'s flags: headless, SwiftShader
from nnviz3d.scene.embedding_cloud import embedding_cloud
from nnviz3d.server import LiveFeed, SceneState, ServerThread, make_app


def cloud_frame(n: int, step: int) -> bytes:
    rng = np.random.default_rng(step)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(size=(10, 3))
    points = centres[labels] + 0.15 * rng.normal(size=(n, 3))
    points /= np.abs(points).max()
    return encode_overlays(
        "embedding",
        step,
        [embedding_cloud("2", points, labels, method="umap", step=step)],
        layer="2",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    feed = LiveFeed()
    srv = ServerThread(
        make_app(SceneState(capture_graph(model, torch.randn(1, 8))), feed), "127.0.0.1", 0
    )
    rows = [
        "| points | frame MB | published -> drawn, s (median) | rounds | draw calls |",
        "|---:|---:|---:|---|---:|",
    ]
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(),
            executable_path="/usr/bin/chromium",
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},
        )
        page = ctx.new_page()
        page.goto(srv.url)
        page.wait_for_function("window.nnviz3d && nnviz3d.ready", timeout=120_000)
        step = 0
        for n in (10_000, 100_000):
            times = []
            for _ in range(args.rounds):
                step += 1
                data = cloud_frame(n, step)
                t0 = time.perf_counter()
                srv.loop.call_soon_threadsafe(feed.publish_embedding, "2", data)
                page.wait_for_function(
                    f"nnviz3d.embeddings.some(e => e.step === {step} && e.count === {n})",
                    timeout=120_000,
                    polling=50,
                )
                page.evaluate("nnviz3d.render()")
                times.append(time.perf_counter() - t0)
            calls = page.evaluate("nnviz3d.drawCalls")
            rows.append(
                f"| {n:,} | {len(data) / 1e6:.2f} | {statistics.median(times):.2f} | "
                f"{', '.join(f'{t:.2f}' for t in times)} | {calls} |"
            )
        ctx.close()
    srv.close()
    print("\n".join(rows))
    print(f"\n`.venv/bin/python bench/embedding_viewer.py --rounds {args.rounds}`")


if __name__ == "__main__":
    main()
