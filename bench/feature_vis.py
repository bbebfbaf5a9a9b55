"""Feature visualisation: time per visualisation and how strongly it excites its unit.

Run: .venv/bin/python bench/feature_vis.py [--rounds N] [--steps N] [--threads N]

Model: the demo's DigitsCNN trained briefly on scikit-learn's digits (150 Adam steps, lr 3e-3,
batch 64, seed 0, data from nnviz3d.data.digits.load_digits_tensors), eval mode, CPU. For a few
channels, ``visualise_unit`` (steps 256, lr 0.05, jitter 1) with the Fourier parameterisation
and with plain pixels; each round uses seed = round index. The table shows medians over the
rounds of the wall time of one visualisation (time.perf_counter around the call) and of the
ratio (objective of the optimised input / mean objective over 32 uniform random inputs; the
difference-based margin where the random mean is <= 0, see FeatureVis.ratio).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from nnviz3d.analysis.feature_vis import visualise_unit
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.zoo import DigitsCNN

CHANNELS = [("stem", 1), ("block", 2), ("down", 1), ("head.2", 0), ("head.3", 0)]
PARAMS = ("fourier", "pixel")


def trained_digits_cnn(steps: int = 150) -> tuple[DigitsCNN, float]:
    """The demo CNN after ``steps`` Adam steps; returns it (eval mode) and validation accuracy."""
    (x, y), (xv, yv) = load_digits_tensors()
    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        idx = torch.randint(0, len(y), (64,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(xv).argmax(1) == yv).float().mean().item()
    return model, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (1: steadiest on a shared machine)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, accuracy = trained_digits_cnn()
    seconds = {(c, p): [] for c in CHANNELS for p in PARAMS}
    ratios = {(c, p): [] for c in CHANNELS for p in PARAMS}
    for seed in range(args.rounds):
        for channel in CHANNELS:
            for param in PARAMS:
                start = time.perf_counter()
                vis = visualise_unit(
                    model, *channel, (1, 8, 8), steps=args.steps, seed=seed, param=param
                )
                seconds[channel, param].append(time.perf_counter() - start)
                ratios[channel, param].append(vis.ratio)

    print(f"Command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(
        f"DigitsCNN after 150 steps (validation accuracy {accuracy:.3f}); steps {args.steps}, "
        f"torch {torch.__version__}, {args.threads} thread(s), medians of {args.rounds} "
        "rounds\n"
    )
    print("| layer | unit | fourier s | pixel s | fourier ratio | pixel ratio |")
    print("|---|---|---|---|---|---|")
    for channel in CHANNELS:
        med = {
            p: (statistics.median(seconds[channel, p]), statistics.median(ratios[channel, p]))
            for p in PARAMS
        }
        print(
            f"| {channel[0]} | {channel[1]} | {med['fourier'][0]:.3f} | {med['pixel'][0]:.3f} "
            f"| {med['fourier'][1]:.2f} | {med['pixel'][1]:.2f} |"
        )


if __name__ == "__main__":
    main()
