"""A long run: per-step cost, server memory, recording size and seek latency over 200,000 steps.

    python bench/long_run.py [--steps 200000] [--window 10000] [--seeks 200] [--json]

A tiny model (Linear 8-16-1, SGD) trains ``--steps`` steps on one fixed batch under
``nnviz3d.watch`` with the default schedule, recording to a temporary file and serving, with
one client connected to the live feed (a stand-in for a browser that keeps up: it takes what
the feed posts, so the feed does all its per-client work). Per window of ``--window`` steps it
reports the mean time of ``w.step()`` (the overhead; the training step itself is timed apart),
the process RSS, the rows the server keeps of the loss history, the bytes of the last history
push, and the recording's size (main file plus WAL). After the run it opens the recording
with ``RunReader`` and times ``at_step`` at ``--seeks`` random steps (median, p99, max).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path


def rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Client:
    """A connected viewer as the feed sees it, keeping up (its outbox drained at once)."""

    following = True
    detail = None
    detail_version = 0
    detail_time = 0.0
    step = None

    def __init__(self) -> None:
        self.pending: dict = {}
        self.last_push = 0
        self.bytes = 0

    def post(self, key, *parts) -> None:
        size = sum(len(p) for p in parts)
        self.bytes += size
        if key == "scalars":
            self.last_push = size


def file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def main(argv=None) -> dict:
    import torch

    import nnviz3d
    from nnviz3d.record import RunReader

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--seeks", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / "long.nnviz"
    w = nnviz3d.watch(model, x, record=path, open_browser=False, quiet=True)
    path = Path(w.record_path)
    client = Client()
    loop = w.handle.server.loop
    loop.call_soon_threadsafe(w.feed.join, client)
    windows = []
    train = watch = 0.0
    started = time.perf_counter()
    for step in range(args.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        w.step(loss=loss.item())
        t2 = time.perf_counter()
        train += t1 - t0
        watch += t2 - t1
        if (step + 1) % args.window == 0:
            windows.append(
                {
                    "steps": step + 1,
                    "train_us": round(train / args.window * 1e6, 1),
                    "watch_us": round(watch / args.window * 1e6, 1),
                    "rss_mb": round(rss_mb(), 1),
                    "history_rows": w.feed.scalars.count,
                    "push_bytes": client.last_push,
                    "recording_mb": round(file_size(path) / 2**20, 2),
                }
            )
            train = watch = 0.0
            if not args.json:
                print(windows[-1], flush=True)
    elapsed = time.perf_counter() - started
    w.close()
    size = file_size(path)
    rng = random.Random(0)
    seeks = []
    with RunReader(path) as reader:
        reader.at_step(0)  # opened and warm
        for _ in range(args.seeks):
            step = rng.randrange(args.steps)
            t = time.perf_counter()
            frames = reader.at_step(step)
            seeks.append((time.perf_counter() - t) * 1e3)
            assert frames, f"no frame at step {step}"
    seeks.sort()
    first, last = windows[0], windows[-1]
    result = {
        "steps": args.steps,
        "seconds": round(elapsed, 1),
        "watch_us_first_window": first["watch_us"],
        "watch_us_last_window": last["watch_us"],
        "train_us_first_window": first["train_us"],
        "train_us_last_window": last["train_us"],
        "overhead_first_window": round(first["watch_us"] / first["train_us"], 3),
        "overhead_last_window": round(last["watch_us"] / last["train_us"], 3),
        "rss_mb_first_window": first["rss_mb"],
        "rss_mb_last_window": last["rss_mb"],
        "history_rows_last": last["history_rows"],
        "push_bytes_first_window": first["push_bytes"],
        "push_bytes_last_window": last["push_bytes"],
        "recording_mb": round(size / 2**20, 2),
        "recording_bytes_per_step": round(size / args.steps, 1),
        "seek_ms_median": round(statistics.median(seeks), 2),
        "seek_ms_p99": round(seeks[int(0.99 * (len(seeks) - 1))], 2),
        "seek_ms_max": round(seeks[-1], 2),
        "windows": windows,
    }
    folder.cleanup()
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            if k != "windows":
                print(f"{k:28} {v}")
    return result


if __name__ == "__main__":
    main()
