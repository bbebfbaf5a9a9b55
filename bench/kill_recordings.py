"""SIGKILL a training process at random moments and check every recording it leaves.

    python bench/kill_recordings.py [--runs 20] [--json]

The driver imports torch and nnviz3d and captures the graph once, then forks one training
process per run (the digits CNN, watch(every=1) recording every step, 8 samples per step). The
child reports each step once ``w.step`` has returned; a random 0-1 s after its first step the
driver kills it with SIGKILL,
opens the recording, replays every frame, and counts the steps the child had finished that
the file does not hold: the batch in flight. Prints one line per run and a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path


def child(path: Path, write_fd: int, graph) -> None:
    import torch

    import nnviz3d
    from nnviz3d import zoo

    model, x = zoo.digits_cnn()
    opt = torch.optim.SGD(model.parameters(), 0.01)
    w = nnviz3d.watch(
        model, x, record=path, serve=False, every=1, quiet=True, graph=graph, health=False
    )
    out = os.fdopen(write_fd, "w", buffering=1)
    for i in range(1_000_000):
        opt.zero_grad()
        logits = model(torch.randn(8, 1, 8, 8))
        torch.nn.functional.cross_entropy(logits, torch.randint(0, 10, (8,))).backward()
        opt.step()
        w.step(loss=float(i))
        out.write(f"{i}\n")


def one_run(root: Path, k: int, rng: random.Random, graph) -> dict:
    from nnviz3d.protocol.probe_frame import decode_probe
    from nnviz3d.record import RunReader

    path = root / f"run{k}.nnv3d"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the training process
        os.close(read_fd)
        try:
            child(path, write_fd, graph)
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        first = f.readline()  # training has started
        delay = rng.uniform(0.0, 1.0)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        done = [int(line) for line in (first + f.read()).split() if line.strip().isdigit()]
    finished = done[-1] if done else -1
    if not path.exists():
        return {
            "run": k,
            "killed_after_s": delay,
            "finished": finished,
            "recorded": -1,
            "lost": finished + 1,
            "opens": None,
        }
    reader = RunReader(path)
    steps = [step for _, step, kinds, _ in reader.frames() if kinds]
    for _, _, _, data in reader.frames():
        decode_probe(data)  # every committed frame is whole
    reader.close()
    recorded = steps[-1] if steps else -1
    contiguous = steps == list(range(len(steps)))
    return {
        "run": k,
        "killed_after_s": round(delay, 2),
        "finished": finished,
        "recorded": recorded,
        "lost": max(finished - recorded, 0),
        "opens": True,
        "contiguous": contiguous,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import torch

    from nnviz3d import zoo
    from nnviz3d.capture import capture_graph

    torch.set_num_threads(1)  # no thread pool in the driver: children are forked from it
    graph = capture_graph(*zoo.digits_cnn())  # once, not in every child
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        results = [one_run(Path(tmp), k, rng, graph) for k in range(args.runs)]
    summary = {
        "runs": len(results),
        "all_open": all(r["opens"] for r in results),
        "all_contiguous": all(r.get("contiguous") for r in results),
        "max_lost": max(r["lost"] for r in results),
        "median_lost": sorted(r["lost"] for r in results)[len(results) // 2],
        "median_finished": sorted(r["finished"] for r in results)[len(results) // 2],
    }
    if args.json:
        json.dump({"summary": summary, "results": results}, sys.stdout)
        print()
    else:
        for r in results:
            print(r)
        print(summary)
    return 0 if summary["all_open"] and summary["all_contiguous"] else 1


if __name__ == "__main__":
    sys.exit(main())
