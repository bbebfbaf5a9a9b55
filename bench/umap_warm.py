"""UMAP's warm-up in a fresh process, with and without nnviz3d's cache of the three kernels
umap-learn compiles again in every process (nnviz3d/embed/umap_cache.py).

Run: .venv/bin/python bench/umap_warm.py [--rounds N]

Each figure is one fresh ``python`` process running ``nnviz3d.embed.methods.warm_up()`` (a
UMAP fit of 300 random 8-D points), timed from before ``import umap`` to the end of the fit,
CPU seconds of the process (user + system) and wall seconds. "cold" uses an empty
``NUMBA_CACHE_DIR`` (the first run on a machine); "warm" reuses the one the cold run filled.
The two variants run interleaved, each round on its own cache directory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
t = time.perf_counter()
if sys.argv[1] == "off":
    import nnviz3d.embed.umap_cache as u
    u._done = []  # as if already done: umap-learn's own kernels, compiled in every process
import umap  # noqa: F401
from nnviz3d.embed.methods import warm_up
warm_up()
r = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - t, "cpu": r.ru_utime + r.ru_stime}))
"""

ROOT = Path(__file__).resolve().parents[1]


def run(variant: str, cache: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, variant], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="warm processes per variant")
    args = ap.parse_args()
    results: dict[tuple[str, str], list[dict]] = {}
    for variant in ("off", "on"):
        with tempfile.TemporaryDirectory(prefix="nnviz3d-numba-") as cache:
            results[(variant, "cold")] = [run(variant, cache)]
            results[(variant, "warm")] = []
            for _ in range(args.rounds):
                results[(variant, "warm")].append(run(variant, cache))
    print(
        "| umap-learn's three kernels | numba cache | CPU s (median) | wall s (median) | rounds |"
    )
    print("|---|---|---:|---:|---|")
    for (variant, state), rows in results.items():
        cpu = [r["cpu"] for r in rows]
        wall = [r["wall"] for r in rows]
        label = "cached by nnviz3d" if variant == "on" else "compiled every process"
        print(
            f"| {label} | {state} | {statistics.median(cpu):.1f} | {statistics.median(wall):.1f} "
            f"| {', '.join(f'{c:.1f}' for c in cpu)} |"
        )


if __name__ == "__main__":
    main()
