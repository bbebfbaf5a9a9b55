"""Feature embeddings: time to the first PCA and UMAP view from a fresh process, and the time of
each later (warm) UMAP step, started from and aligned to the previous layout.

Run: NUMBA_CACHE_DIR=.cache/numba .venv/bin/python bench/embeddings.py [--sizes 5000,100000]
     [--steps 2] [--no-cold]

Data: 10 Gaussian clusters in 128 dims; a "training step" moves every point by a little noise.
Each size runs in its own ``python -c`` subprocess, so numba's compilation shows: "warm" uses
NUMBA_CACHE_DIR as set (filled by an earlier run), "cold" an empty temporary cache (one size
only: compilation does not depend on N). Times count from the subprocess's start (interpreter
and imports included, making the data excluded). Above ``methods.LARGE`` points UMAP is fitted
on 10,000 and the rest placed by their neighbours (``embed_large``). Peak memory is the
subprocess's maxrss. k-NN is the label agreement (k=5) of the first UMAP view.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = "import sys; sys.path.insert(0, {bench!r}); import embeddings; embeddings.child({args})"


def child(spawned: float, n: int, steps: int) -> None:
    """Runs in the fresh process: prints one JSON line of timings."""
    import resource

    import numpy as np

    from nnviz3d.embed import methods

    rng = np.random.default_rng(0)
    made = time.time()
    labels = rng.integers(0, 10, n)
    features = (rng.normal(scale=4.0, size=(10, 128))[labels] + rng.normal(size=(n, 128))).astype(
        np.float32
    )
    data_s = time.time() - made  # not part of any view's time
    first_pca = methods.embed(methods.prepare(features), "pca")
    pca_s = time.time() - spawned - data_s
    points = methods.embed(methods.prepare(features), "umap")
    umap_s = time.time() - spawned - data_s
    out = {
        "n": n,
        "pca_s": pca_s,
        "umap_s": umap_s,
        "knn": methods.knn_agreement(points, labels),
        "pca_knn": methods.knn_agreement(first_pca, labels),
        "steps": [],
    }
    for _ in range(steps):
        features = features + 0.1 * rng.normal(size=features.shape).astype(np.float32)
        start = time.perf_counter()
        new = methods.embed(methods.prepare(features), "umap", init=points)
        out["steps"].append(
            {"s": time.perf_counter() - start, "moved": methods.mean_displacement(points, new)}
        )
        points = new
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out), flush=True)


def run(n: int, steps: int, cache: str) -> dict:
    code = CHILD.format(bench=str(ROOT / "bench"), args=f"{time.time()!r}, {n}, {steps}")
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, text=True, capture_output=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"n={n} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,100000")
    parser.add_argument("--steps", type=int, default=2, help="warm UMAP steps per size")
    parser.add_argument("--no-cold", action="store_true", help="skip the empty-cache run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cache = os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".cache" / "numba"))
    rows = []
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as empty:
            rows.append(("cold", run(sizes[0], 0, empty)))
    rows += [("warm", run(n, args.steps, cache)) for n in sizes]
    print(
        f"command: NUMBA_CACHE_DIR={cache} {sys.executable} bench/embeddings.py "
        f"--sizes {args.sizes} --steps {args.steps}{' --no-cold' if args.no_cold else ''}\n"
    )
    print(
        "| points x 128 | numba cache | first PCA view | first UMAP view | warm UMAP step "
        "| moved per step | k-NN UMAP / PCA | peak memory |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for cache_state, r in rows:
        step = f"{sum(s['s'] for s in r['steps']) / len(r['steps']):.1f} s" if r["steps"] else "-"
        moved = (
            f"{sum(s['moved'] for s in r['steps']) / len(r['steps']):.3f}" if r["steps"] else "-"
        )
        print(
            f"| {r['n']:,} | {cache_state} | {r['pca_s']:.1f} s | {r['umap_s']:.1f} s | {step} "
            f"| {moved} | {r['knn']:.3f} / {r['pca_knn']:.3f} | {r['peak_mib']:,.0f} MiB |"
        )


if __name__ == "__main__":
    main()
