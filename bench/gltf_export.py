"""glTF export: time and file size of `nnviz3d.export_gltf` for the demo CNN, GPT-2 small, a
ViT, LLaMA-7B on the meta device (topology only), and a recorded training run animated.

Run: .venv/bin/python bench/gltf_export.py [--rounds N] [--models digits_cnn,gpt2,...]

Each model is built and captured once (capture is timed by bench/topology.py); its weights
are summarised (statistics, histograms, downsampled matrices: "weights", median); then the
export itself runs ``--rounds`` times and the table shows the median, min and max. "end to
end" is `export_gltf(module)` (capture + weights + export, median of 3), the number a user
waits for. Goal: GPT-2 in a few seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from nnviz3d import zoo
from nnviz3d.capture import capture_graph
from nnviz3d.export import export_gltf
from nnviz3d.export.sources import ExportSource, model_weights

MODELS = {
    "digits_cnn": zoo.digits_cnn,
    "gpt2": zoo.gpt2,
    "vit": zoo.vit,
    "llama_7b_meta": zoo.llama_7b_meta,
}


def rounds(fn, n: int) -> tuple[list[float], object]:
    """``n`` timed calls after one untimed warm-up (imports, caches)."""
    times, out = [], fn()
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def row(name: str, what: str, times: list[float], res, extra: str = "") -> str:
    return (
        f"| {name} | {what} | {statistics.median(times):.3f} | {min(times):.3f}–"
        f"{max(times):.3f} | {res.bytes / 1e6:.2f} | {res.nodes} | {res.meshes} | "
        f"{extra} |"
    )


def bench_model(name: str, n: int) -> list[str]:
    model, inputs = MODELS[name]()
    graph = capture_graph(model, inputs)
    w_times, weights = rounds(lambda: model_weights(model, graph), n)
    out = []
    times, res = rounds(lambda: export_gltf(ExportSource(graph)), n)
    out.append(row(name, "topology", times, res))
    if weights is not None:
        src = ExportSource(graph, weights=weights)
        times, res = rounds(lambda: export_gltf(src, color_by="weight_norm"), n)
        e2e, _ = rounds(lambda: export_gltf(model, example_inputs=inputs), min(n, 3))
        out.append(
            row(
                name,
                "weights + maps",
                times,
                res,
                f"weights {statistics.median(w_times):.2f} s; end to end "
                f"{statistics.median(e2e):.2f} s ({min(e2e):.2f}–{max(e2e):.2f})",
            )
        )
    return out


def bench_animation(n: int, steps: int) -> list[str]:
    import nnviz3d

    torch.manual_seed(0)
    model, x = zoo.digits_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    path = Path(tempfile.mkdtemp(prefix="nnviz3d-bench-")) / "run.nnv3d"
    w = nnviz3d.watch(model, x, record=path, serve=False, every=1, quiet=True)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(
            model(torch.randn(32, 1, 8, 8)), torch.randint(0, 10, (32,))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
    w.close()
    times, res = rounds(lambda: export_gltf(path, animate=True), n)
    return [
        row(
            f"digits_cnn run, {steps} steps",
            "animated (grad_norm)",
            times,
            res,
            f"{len(res.steps)} keyframes, {res.duration:.1f} s clip",
        )
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--steps", type=int, default=200, help="training steps of the recording")
    args = p.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.rounds} rounds (median, min–max)\n"
    )
    print("| model | scene | export s (median) | min–max | MB | nodes | meshes | notes |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        for line in bench_model(name, args.rounds):
            print(line, flush=True)
    for line in bench_animation(args.rounds, args.steps):
        print(line, flush=True)


if __name__ == "__main__":
    main()
