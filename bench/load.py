"""50 websocket clients follow a live run; one of them stalls (never reads).

    python bench/load.py [--clients 50] [--steps 300] [--json]

The digits CNN trains with ``watch(every=1)`` (a probe frame every step) in this process,
first with no client, then with N clients following it on loopback (their own event loop in
a thread), one of which says hello and then never reads. Reports per run: the training step
time (median), and for the reading clients the probe frames delivered, the latency from the
frame's creation to its arrival (median, p95), the process's peak RSS, and what the stalled
client did to the others.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import threading
import time


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train(steps: int, clients: int, results: dict) -> dict:
    import torch

    import nnviz3d
    from nnviz3d import zoo

    torch.manual_seed(0)
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), 0.01)
    w = nnviz3d.watch(
        model, x, record=False, open_browser=False, port=0, every=1, quiet=True, health=False
    )
    stop = threading.Event()
    ready = threading.Event()
    thread = None
    if clients:
        thread = threading.Thread(
            target=lambda: asyncio.run(follow(w.url, clients, stop, ready, results)), daemon=True
        )
        thread.start()
        ready.wait(60)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            model(torch.randn(32, 1, 8, 8)), torch.randint(0, 10, (32,))
        )
        loss.backward()
        opt.step()
        w.step(loss=loss.item())
        times.append(time.perf_counter() - t0)
        time.sleep(0.01)  # a training loop that also does other work (data loading...)
    w.close()
    time.sleep(1.0)  # let the last frames arrive
    stop.set()
    if thread:
        thread.join(30)
    w.close_viewer()
    return {"step_ms": 1000 * statistics.median(times), "rss_mib": rss_mib()}


async def follow(url, n, stop, ready, results):
    import aiohttp

    from nnviz3d.protocol import PROTOCOL_VERSION
    from nnviz3d.protocol.codec import decode_frame

    hello = json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client": "load"})
    latencies: list[float] = []
    delivered = [0] * (n - 1)
    async with aiohttp.ClientSession() as s:
        stalled = await s.ws_connect(url + "ws", max_msg_size=0, autoclose=False)
        await stalled.send_str(hello)  # and never reads again

        async def reader(k):
            ws = await s.ws_connect(url + "ws", max_msg_size=0)
            await ws.send_str(hello)
            while not stop.is_set():
                try:
                    msg = await ws.receive(timeout=0.2)
                except TimeoutError:
                    continue
                if msg.type == aiohttp.WSMsgType.BINARY:
                    header, _ = decode_frame(msg.data)
                    if header.get("type") == "probe":
                        delivered[k] += 1
                        latencies.append(time.time() - header["time"])
                elif msg.type != aiohttp.WSMsgType.TEXT:
                    break
            await ws.close()

        tasks = [asyncio.create_task(reader(k)) for k in range(n - 1)]
        await asyncio.sleep(1.0)
        ready.set()
        await asyncio.gather(*tasks)
        stalled.force_close() if hasattr(stalled, "force_close") else None
    lat = sorted(latencies)
    results.update(
        frames_min=min(delivered),
        frames_median=statistics.median(delivered),
        latency_ms_median=1000 * lat[len(lat) // 2] if lat else None,
        latency_ms_p95=1000 * lat[int(len(lat) * 0.95)] if lat else None,
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    train(20, 0, {})  # warm-up: first-call allocations, imports
    alone, loaded, runs = [], [], []
    for _ in range(args.rounds):  # alternated, so machine noise hits both alike
        alone.append(train(args.steps, 0, {})["step_ms"])
        clients: dict = {}
        res = train(args.steps, args.clients, clients)
        loaded.append(res["step_ms"])
        runs.append(clients)
    med = statistics.median
    out = {
        "steps": args.steps,
        "clients": args.clients,
        "rounds": args.rounds,
        "alone_step_ms": med(alone),
        "loaded_step_ms": med(loaded),
        "slowdown": med(b / a for a, b in zip(alone, loaded)),
        "peak_rss_mib": rss_mib(),
        **{k: med(r[k] for r in runs) for k in runs[0]},
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
