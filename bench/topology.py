"""Topology capture + layout time, side by side with torch.export alone, torchinfo, torchview.

Run: make bench   (or .venv/bin/python bench/topology.py [--rounds N] [--models gpt2,...])

Every tool runs on the same model object in the same process, in rounds; the table shows the
median of the rounds and, where a tool fails, the first line of its error. Goals (2-core
machine): LLaMA-70B (meta) capture + layout <= 10 s; GPT-2 <= 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from nnviz3d import zoo
from nnviz3d.capture import capture_graph
from nnviz3d.capture.model_io import FlatOutputs, normalise_inputs
from nnviz3d.layout import layout_graph

MODELS = {
    "gpt2": zoo.gpt2,
    "llama_7b_meta": zoo.llama_7b_meta,
    "llama_70b_meta": zoo.llama_70b_meta,
}
GOALS = {"gpt2": 2.0, "llama_70b_meta": 10.0}


def nnviz3d_default(model, inputs):
    graph = capture_graph(model, inputs)
    layout_graph(graph)
    return graph.strategy


def nnviz3d_export(model, inputs):
    graph = capture_graph(model, inputs, strategies="export")
    layout_graph(graph)
    return graph.strategy


def export_alone(model, inputs):
    args, kwargs = normalise_inputs(inputs)
    torch.export.export(FlatOutputs(model), args, kwargs, strict=False)
    return "torch.export"


def torchinfo_summary(model, inputs):
    import torchinfo

    torchinfo.summary(model, input_data=[inputs], verbose=0, device=inputs.device)
    return "torchinfo"


def torchview_graph(model, inputs):
    import torchview

    torchview.draw_graph(model, input_data=inputs, device=inputs.device, depth=99)
    return "torchview"


TOOLS = {
    "nnviz3d capture+layout (default order)": nnviz3d_default,
    "nnviz3d capture+layout (torch.export)": nnviz3d_export,
    "torch.export alone": export_alone,
    "torchinfo.summary": torchinfo_summary,
    "torchview.draw_graph": torchview_graph,
}


def measure(fn, model, inputs, rounds: int):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn(model, inputs)
        except Exception as exc:  # a tool that cannot handle the model is a result too
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return None, f"fails: {type(exc).__name__}: {line[:90]}"
        times.append(time.perf_counter() - start)
    return statistics.median(times), f"median of {rounds}: " + ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = []
    for name in args.models.split(","):
        model, inputs = MODELS[name]()
        nnviz3d_default(model, inputs)  # warm-up: first export in a process pays imports
        for tool, fn in TOOLS.items():
            med, detail = measure(fn, model, inputs, args.rounds)
            rows.append((name, tool, med, detail))
            print(
                f"{name:16} {tool:40} {'-' if med is None else f'{med:7.2f} s':>9}  {detail}",
                flush=True,
            )
    print("\n| model | tool | median s | rounds / failure |\n|---|---|---:|---|")
    for name, tool, med, detail in rows:
        print(f"| {name} | {tool} | {'-' if med is None else f'{med:.2f}'} | {detail} |")
    print()
    for name, goal in GOALS.items():
        got = next((m for n, t, m, _ in rows if n == name and "default" in t), None)
        if got is not None:
            verdict = "meets" if got <= goal else "MISSES"
            print(f"goal {name}: capture + layout <= {goal:.0f} s: {got:.2f} s, {verdict}")


if __name__ == "__main__":
    main()
