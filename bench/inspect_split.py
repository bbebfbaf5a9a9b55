"""Where `nnviz3d inspect` spends its time on LLaMA-70B (meta): imports, build, capture, layout.

Run: .venv/bin/python bench/inspect_split.py [--rounds N] [--spec nnviz3d.zoo:llama_70b_meta]

Each round runs two fresh processes one after the other: the whole command
(`nnviz3d inspect SPEC --depth 2`, wall time from the parent), and a child that times its
parts in order: importing torch, transformers and nnviz3d; building the model (the SPEC's
callable); capture_graph (module hooks on the meta device, repeated layers replayed); the
layout (what `view` adds); and the text tree `inspect` prints. The table gives medians and
ranges over rounds. Goal (issue 20): capture + layout < 2 s beyond the build.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch, transformers  # noqa: F401
import nnviz3d
from nnviz3d.capture import capture_graph
from nnviz3d.capture.spec import load_spec
from nnviz3d.layout import layout_graph
from nnviz3d.tree_text import render_tree
t1 = time.perf_counter()
model, inputs = load_spec(sys.argv[1])
t2 = time.perf_counter()
graph = capture_graph(model, inputs)
t3 = time.perf_counter()
layout_graph(graph)
t4 = time.perf_counter()
render_tree(graph, 2)
t5 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "build": t2 - t1, "capture": t3 - t2,
                  "layout": t4 - t3, "tree": t5 - t4, "strategy": graph.strategy,
                  "nodes": len(graph.nodes)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spec", default="nnviz3d.zoo:llama_70b_meta")
    args = ap.parse_args()
    cli = [sys.executable, "-m", "nnviz3d", "inspect", args.spec, "--depth", "2"]
    parts: dict[str, list[float]] = {}
    for r in range(args.rounds):
        t0 = time.perf_counter()
        subprocess.run(cli, check=True, stdout=subprocess.DEVNULL)
        whole = time.perf_counter() - t0
        out = subprocess.run(
            [sys.executable, "-c", CHILD, args.spec], check=True, capture_output=True, text=True
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["whole inspect process"] = whole
        for k, v in res.items():
            if isinstance(v, float):
                parts.setdefault(k, []).append(v)
        print(
            f"round {r + 1}: "
            + ", ".join(f"{k} {v:.2f}" for k, v in res.items() if isinstance(v, float)),
            f"({res['strategy']}, {res['nodes']} nodes)",
            flush=True,
        )
    print(f"\n{args.spec}, {args.rounds} rounds\n\n| part | median s | range |\n|---|---:|---|")
    for k, v in parts.items():
        print(f"| {k} | {statistics.median(v):.2f} | {min(v):.2f}-{max(v):.2f} |")
    beyond = [c + lay for c, lay in zip(parts["capture"], parts["layout"])]
    verdict = "met" if statistics.median(beyond) < 2.0 else "NOT met"
    print(
        f"\ncapture + layout beyond the build: {statistics.median(beyond):.2f} s (goal < 2 s: {verdict})"
    )


if __name__ == "__main__":
    main()
