"""Cost and size of the overlays the server builds: weight maps of a whole model (one probe
frame with matrices), the selected layer's ridges + PCA scatter (128 steps of history), and
one input through every layer (inspect, with and without saliency).

Run: .venv/bin/python bench/overlays.py [--rounds 5]

Models: the demo's DigitsCNN and GPT-2 small (transformers config, random init). Times are
medians of the rounds on this machine's CPU; sizes are the encoded frames' bytes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from nnviz3d import zoo
from nnviz3d.analysis.input_views import inspect_input
from nnviz3d.capture import capture_graph
from nnviz3d.capture.probes import Probes
from nnviz3d.protocol.overlay_frame import encode_overlays
from nnviz3d.protocol.probe_frame import decode_probe, encode_probe
from nnviz3d.scene.weight_map import weight_overlays
from nnviz3d.server.probe_history import ProbeHistory


def median_time(fn, rounds: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def probe_frame(probes: Probes, step: int, matrices: bool) -> bytes:
    host = lambda d: {k: v.numpy() if hasattr(v, "numpy") else v for k, v in d.items()}  # noqa: E731
    w = host(probes.weights())
    w["step"] = step
    mats = [{**m, "data": m["data"].numpy()} for m in probes.matrices()] if matrices else []
    return encode_probe(step, time.time(), "train", {}, {"weight": w}, mats)


def bench(name: str, model, x, rounds: int) -> list[str]:
    graph = capture_graph(model, x)
    probes = Probes(model, graph)
    frame = probe_frame(probes, 0, True)
    header, arrays = decode_probe(frame)
    t_weights, built = median_time(
        lambda: encode_overlays("weights", 0, weight_overlays(header, arrays), compact=True), rounds
    )
    full = len(encode_overlays("weights", 0, weight_overlays(header, arrays)))
    history = ProbeHistory()
    for step in range(128):
        history.add(probe_frame(probes, step, step == 127))
    module = max(history.matrices, key=lambda m: history.matrices[m][2].size)
    t_detail, detail = median_time(
        lambda: history.build_detail(module, history.snapshot(module), 127), rounds
    )
    x1 = x[:1] if isinstance(x, torch.Tensor) else x
    t_inspect, (ov, _) = median_time(lambda: inspect_input(model, x1, probes.act_modules), rounds)
    inspect_bytes = len(encode_overlays("inspect", 0, ov))
    rows = [
        f"| {name} | weight maps ({len(header['matrices'])} tensors), as sent (compact) | "
        f"{1000 * t_weights:.1f} | {len(built) / 1e6:.2f} (full: {full / 1e6:.2f}) |",
        f"| {name} | ridges + PCA of `{module}` (128 steps) | {1000 * t_detail:.1f} | "
        f"{len(detail) / 1e6:.3f} |",
        f"| {name} | one input, {len(ov)} layers | {1000 * t_inspect:.1f} | "
        f"{inspect_bytes / 1e6:.2f} |",
    ]
    if isinstance(x, torch.Tensor) and x.dim() == 4:
        t_sal, _ = median_time(
            lambda: inspect_input(model, x1, probes.act_modules, method="grad_cam"), rounds
        )
        rows.append(f"| {name} | one input + Grad-CAM | {1000 * t_sal:.1f} | – |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    rows = ["| model | overlay | ms (median) | MB |", "|---|---|---:|---:|"]
    cnn, x = zoo.digits_cnn()
    rows += bench("DigitsCNN", cnn.eval(), torch.rand(4, 1, 8, 8), args.rounds)
    gpt2, tokens = zoo.gpt2()
    rows += bench("GPT-2 small", gpt2.eval(), tokens, args.rounds)
    print("\n".join(rows))
    print(
        f"\n`.venv/bin/python bench/overlays.py --rounds {args.rounds}`, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
