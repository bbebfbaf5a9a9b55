"""The live feed's loss-history cost with a long run, before and after incremental encoding.

    python bench/live_feed_history.py [--rows 300000] [--json]

Before: every 0.25 s tick (with or without a browser) encoded the whole history row by row
(``encode_scalars``). After: rows are appended to numpy columns as they come (bounded: older
rows decimated past ``HISTORY_ROWS``); nothing is encoded while no browser is connected; one
that joins gets the bounded history once, then each tick pushes only the new rows. Prints the
cost of one tick each way.
"""

from __future__ import annotations

import argparse
import json
import time


def seconds(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


class Browser:
    following, detail, detail_version, detail_time = True, None, 0, 0.0

    def post(self, key, *parts):
        pass


def main(argv=None) -> dict:
    from nnviz3d.protocol.probe_frame import encode_probe, encode_scalars
    from nnviz3d.server.live_feed import FLUSH_SECONDS, LiveFeed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [(s, "train", {"loss": 1.0 / (s + 1), "lr": 0.1}) for s in range(args.rows)]
    data = encode_probe(0, 0.0, "train", {}, {})

    before_tick = seconds(lambda: encode_scalars(rows), 3)

    feed = LiveFeed(live=True)
    t = time.perf_counter()
    for step, split, sc in rows:
        feed.publish(data, step, [], split, sc)
    append_us = (time.perf_counter() - t) / len(rows) * 1e6
    now = [0.0]

    def tick():
        feed.publish(data, feed.last_step + 1, [], "train", {"loss": 0.5, "lr": 0.1})
        now[0] += FLUSH_SECONDS
        feed.flush(now[0])

    idle_tick = seconds(tick, 20)
    browser = Browser()
    sizes = []
    browser.post = lambda key, *parts: sizes.append(len(parts[0])) if key == "scalars" else None
    t = time.perf_counter()
    feed.join(browser)
    join = time.perf_counter() - t
    browser_tick = seconds(tick, 20)
    result = {
        "rows": args.rows,
        "before_ms_per_tick": round(before_tick * 1e3, 2),
        "before_ms_per_second": round(before_tick * 1e3 / FLUSH_SECONDS, 1),
        "after_append_us_per_row": round(append_us, 2),
        "after_rows_kept": feed.scalars.count,
        "after_ms_per_tick_no_browser": round(idle_tick * 1e3, 3),
        "after_join_ms": round(join * 1e3, 2),
        "after_join_bytes": sizes[0],
        "after_ms_per_tick_with_browser": round(browser_tick * 1e3, 3),
        "after_push_bytes": sizes[-1],
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:34} {v}")
    return result


if __name__ == "__main__":
    main()
