"""Loss-landscape cost per grid point: the demo's DigitsCNN and a small MLP on the digits
validation split (360 images), a 21x21 grid of filter-normalised random directions.

Run: .venv/bin/python bench/landscape.py [--rounds 3] [--steps 21]

Each round is one ``loss_landscape`` call; the table shows the median of the rounds for the
seconds per grid point and the whole grid, next to one plain ``loss_fn(model)`` evaluation
(median of 20), so the cost of moving the weights shows as the difference. The CNN is the one
``nnviz3d landscape --demo`` trains (150 Adam steps); the MLP (64-64-10) is untrained, which
does not change the cost.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from nnviz3d.analysis.landscape import digits_demo, loss_landscape
from nnviz3d.data.digits import load_digits_tensors


def digits_cnn():
    parts = digits_demo()
    return parts["model"], parts["loss_fn"]


def digits_mlp():
    torch.manual_seed(0)
    _, (xva, yva) = load_digits_tensors()
    x = xva.flatten(1)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).eval()
    return model, lambda m: F.cross_entropy(m(x), yva)


MODELS = {"DigitsCNN (demo, trained)": digits_cnn, "MLP 64-64-10": digits_mlp}


def plain_eval(model, loss_fn, n: int = 20) -> float:
    times = []
    with torch.no_grad():
        for _ in range(n):
            start = time.perf_counter()
            loss_fn(model)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=21)
    args = ap.parse_args()
    points = args.steps**2
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{args.steps}x{args.steps} grid, {args.rounds} rounds",
        flush=True,
    )
    rows = []
    for name, make in MODELS.items():
        model, loss_fn = make()
        params = sum(p.numel() for p in model.parameters())
        model.eval()
        plain_eval(model, loss_fn, 3)  # warm-up
        plain = plain_eval(model, loss_fn)
        per_point = []
        for k in range(args.rounds):
            land = loss_landscape(model, loss_fn, steps=args.steps, seed=k)
            per_point.append(land.seconds_per_point)
        med = statistics.median(per_point)
        rows.append((name, params, med, plain, per_point))
        print(
            f"{name:28} {1e3 * med:7.2f} ms/point  ({', '.join(f'{1e3 * t:.2f}' for t in per_point)}"
            f"); plain loss_fn {1e3 * plain:.2f} ms",
            flush=True,
        )
    print(
        f"\n| model | parameters | ms per point (median of {args.rounds}) | {points} points, s "
        f"| plain loss_fn, ms | rounds, ms per point |\n|---|---:|---:|---:|---:|---|"
    )
    for name, params, med, plain, per_point in rows:
        print(
            f"| {name} | {params:,} | {1e3 * med:.2f} | {med * points:.2f} | {1e3 * plain:.2f} "
            f"| {', '.join(f'{1e3 * t:.2f}' for t in per_point)} |"
        )
    python = os.path.relpath(sys.executable)
    print(f"\ncommand: {python} bench/landscape.py --rounds {args.rounds} --steps {args.steps}")


if __name__ == "__main__":
    main()
