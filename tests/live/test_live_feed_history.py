"""The loss history's cost does not grow with the run: nothing is encoded while no browser is
connected, and with one the history is re-sent at a rate that shrinks as it grows, so the
encoding work per second is bounded whatever the run's length. Work is counted (rows encoded,
bytes posted), never timed. bench/live_feed_history.py times it side by side."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnviz3d.protocol.probe_frame import decode_scalars, encode_probe, encode_scalars
from nnviz3d.server import live_feed
from nnviz3d.server.live_feed import FLUSH_SECONDS, LiveFeed
from nnviz3d.server.probe_history import ScalarHistory

DATA = encode_probe(0, 0.0, "train", {"loss": 1.0}, {})


class Browser:
    """A connected client as the feed sees it: what was posted to it, by key."""

    following = True
    detail = None
    detail_version = 0
    detail_time = 0.0

    def __init__(self) -> None:
        self.bytes: dict[str, int] = {}

    def post(self, key: str, *parts) -> None:
        self.bytes[key] = self.bytes.get(key, 0) + sum(len(p) for p in parts)


def feed_with(rows: int) -> LiveFeed:
    feed = LiveFeed(live=True)
    for step in range(rows):
        feed.publish(DATA, step, [], "train", {"loss": 1.0 / (step + 1)})
    return feed


def run_ticks(feed: LiveFeed, ticks: int, rows_per_tick: int, now: float = 0.0) -> float:
    step = feed.last_step + 1
    for _ in range(ticks):
        for _ in range(rows_per_tick):
            feed.publish(DATA, step, [], "train", {"loss": 0.5})
            step += 1
        now += FLUSH_SECONDS
        feed.flush(now)
    return now


def test_nothing_is_encoded_while_no_browser_is_connected():
    feed = feed_with(5000)
    run_ticks(feed, 40, 10)
    assert feed.scalars.encodes == 0 and feed.scalars.rows_encoded == 0
    browser = Browser()
    feed.join(browser)  # who joins gets the whole history, encoded once
    assert feed.scalars.encodes == 1 and feed.scalars.rows_encoded == 5400
    feed.join(Browser())
    assert feed.scalars.encodes == 1  # the same bytes for the next one


@pytest.mark.parametrize("small, large", [(30_000, 300_000)])
def test_history_work_per_second_does_not_grow_with_the_run(small, large):
    """The old feed encoded (in Python, row by row) and sent the whole history four times a
    second: 300k rows made a small MLP's steps twice as slow."""
    per_second = {}
    for rows in (small, large):
        feed = feed_with(rows)
        browser = Browser()
        feed.join(browser)
        before = feed.scalars.rows_encoded
        sent = dict(browser.bytes)
        seconds = 40 * FLUSH_SECONDS
        run_ticks(feed, 40, 20)
        per_second[rows] = ((feed.scalars.rows_encoded - before) / seconds,
                            (browser.bytes["scalars"] - sent["scalars"]) / seconds)
        assert browser.bytes["timeline"] > sent["timeline"]  # the timeline goes on each tick
    growth = per_second[large][0] / per_second[small][0]
    print(f"rows encoded per second: {per_second[small][0]:,.0f} at {small:,} rows, "
          f"{per_second[large][0]:,.0f} at {large:,} rows (x{growth:.1f} for x{large // small})")
    assert growth < 3  # it was x10: every tick encoded every row
    assert per_second[large][1] <= 1.5 * live_feed.SCALARS_BYTES_PER_SECOND


def test_a_browser_keeping_up_still_gets_the_newest_history():
    """Between full resends the chart adds each live frame's metrics; the history itself
    follows within size / rate seconds, and at once when the run ends."""
    feed = feed_with(100_000)
    browser = Browser()
    feed.join(browser)
    frame = feed.scalars.frame()
    interval = len(frame) / live_feed.SCALARS_BYTES_PER_SECOND
    now = run_ticks(feed, math.ceil(interval / FLUSH_SECONDS) + 2, 1)
    steps = decode_scalars(feed.scalars.frame())[1]["steps"]
    assert feed._scalars_sent[0] >= feed.scalars.version - 1  # sent within the interval
    feed.publish(DATA, int(steps[-1]) + 1, [], "train", {"loss": 0.1})
    feed.finish()
    feed.flush(now + FLUSH_SECONDS)
    assert feed._scalars_sent[0] == feed.scalars.version  # the final history at once


def test_the_history_frame_is_what_encode_scalars_makes():
    rows = [(0, "train", {"loss": 1.0}), (0, "val", {"loss": 2.0, "acc": 0.5}),
            (1, "train", {"loss": math.nan, "b": 1e39}), (2, "train", {"z": -math.inf})]
    rows += [(3 + i, "train", {f"m{i % 7}": float(i)}) for i in range(3000)]
    history = ScalarHistory()
    history.extend(rows)
    mine, theirs = decode_scalars(history.frame()), decode_scalars(encode_scalars(rows))
    assert mine[0] == theirs[0]
    assert set(mine[1]) == set(theirs[1])
    for name, arr in theirs[1].items():
        np.testing.assert_array_equal(mine[1][name], arr, err_msg=name)
