"""The loss history's cost does not grow with the run: nothing is encoded while no browser is
connected; one that joins gets the whole (bounded, decimated) history once, then each push holds
only the rows new since the last one. Work is counted (rows encoded, bytes posted), never timed.
bench/live_feed_history.py and bench/long_run.py time it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnviz3d.protocol.probe_frame import decode_scalars, encode_probe, encode_scalars
from nnviz3d.server.live_feed import FLUSH_SECONDS, LiveFeed
from nnviz3d.server.probe_history import ScalarHistory

DATA = encode_probe(0, 0.0, "train", {"loss": 1.0}, {})


class Browser:
    """A connected client as the feed sees it: what was posted to it, by key (its outbox is
    drained at once, as a client keeping up)."""

    following = True
    detail = None
    detail_version = 0
    detail_time = 0.0

    def __init__(self) -> None:
        self.bytes: dict[str, int] = {}
        self.frames: list[bytes] = []
        self.pending: dict = {}

    def post(self, key: str, *parts) -> None:
        self.bytes[key] = self.bytes.get(key, 0) + sum(len(p) for p in parts)
        if key == "scalars":
            self.frames.append(parts[0])


class SlowBrowser(Browser):
    """A client whose outbox is not drained: a newer post replaces the waiting one."""

    def post(self, key: str, *parts) -> None:
        super().post(key, *parts)
        self.pending[key] = parts


def feed_with(rows: int, limit: int | None = None) -> LiveFeed:
    feed = LiveFeed(live=True)
    if limit is not None:
        feed.scalars = ScalarHistory(limit)
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


def replay_chart(frames: list[bytes]):
    """What the viewer's chart holds after these frames (web/src/lossChart.ts)."""
    steps = values = None
    for data in frames:
        header, arrays = decode_scalars(data)
        if "from" in header:
            assert steps is not None and len(steps) == header["from"], "a gap in the rows"
            steps = np.concatenate([steps, arrays["steps"]])
            values = np.concatenate([values, arrays["values"]])
        else:
            steps, values = arrays["steps"], arrays["values"]
    return steps, values


def test_nothing_is_encoded_while_no_browser_is_connected():
    feed = feed_with(5000)
    run_ticks(feed, 40, 10)
    assert feed.scalars.encodes == 0 and feed.scalars.rows_encoded == 0
    browser = Browser()
    feed.join(browser)  # who joins gets the whole history, encoded once
    assert feed.scalars.encodes == 1 and feed.scalars.rows_encoded == 5400
    feed.join(Browser())
    assert feed.scalars.encodes == 1  # the same bytes for the next one


def test_a_push_does_not_grow_with_the_history():
    """The old feed re-encoded and sent the whole history four times a second; now a push is
    the rows since the last one: the same bytes after 10k steps as after 50k."""
    sizes = {}
    for rows in (10_000, 50_000):
        feed = feed_with(rows)
        browser = Browser()
        feed.join(browser)
        before = feed.scalars.rows_encoded
        run_ticks(feed, 8, 20)
        pushes = browser.frames[1:]
        assert len(pushes) == 8 and all("from" in decode_scalars(p)[0] for p in pushes)
        assert feed.scalars.rows_encoded - before == 8 * 20
        sizes[rows] = {len(p) for p in pushes}
    assert sizes[10_000] == sizes[50_000] and len(sizes[10_000]) == 1


def test_server_memory_is_bounded_and_the_chart_still_spans_the_run():
    feed = feed_with(10, limit=1000)
    browser = Browser()
    feed.join(browser)
    nbytes = []
    for _k in range(40):
        run_ticks(feed, 10, 100)
        h = feed.scalars
        assert h.count <= h.limit
        nbytes.append(h._steps.nbytes + h._values.nbytes + h._given.nbytes + h._split.nbytes)
    assert nbytes[-1] == nbytes[5]  # 40,000 rows in the memory of 1,000
    steps, values = replay_chart(browser.frames)
    assert steps[0] == 0 and steps[-1] == feed.last_step  # the whole run, first to newest
    assert np.all(np.diff(steps) > 0)
    assert len(steps) <= 2 * feed.scalars.limit  # the viewer's copy is bounded too
    assert values[0, 0] == 1.0  # the maximum of the decimated start is kept


@pytest.mark.parametrize("odd", [100.0, -5.0, math.nan, math.inf])
def test_decimation_keeps_spikes_and_diverged_values(odd):
    h = ScalarHistory(64)
    for step in range(1000):
        loss = odd if step == 123 else 1.0 + (step % 3) * 0.01
        h.append(step, "val" if step % 50 == 0 else "train", {"loss": loss, "lr": 0.1})
    header, arrays = decode_scalars(h.frame())
    steps = list(arrays["steps"])
    assert 123 in steps
    assert h.count <= 64 and steps[-1] == 999 and steps == sorted(steps)
    assert arrays["split"].any()  # validation rows decimated apart, still there


def test_a_slow_client_gets_every_row_once_it_drains():
    """A push still waiting in the outbox is replaced by one holding its rows and the new."""
    feed = feed_with(300, limit=200)
    slow = SlowBrowser()
    feed.join(slow)
    run_ticks(feed, 3, 7)
    sent = slow.pending.pop("scalars")[0]  # only the newest waiting post goes out
    steps, _ = replay_chart([sent])  # compactions meanwhile: it is a whole history
    assert steps[-1] == feed.last_step
    run_ticks(feed, 2, 5)
    header, arrays = decode_scalars(slow.pending["scalars"][0])
    assert arrays["steps"][-1] == feed.last_step and arrays["steps"][0] == steps[-1] + 1


def test_a_new_metric_sends_the_whole_history_again():
    feed = feed_with(100)
    browser = Browser()
    feed.join(browser)
    feed.publish(DATA, 100, [], "val", {"acc": 0.5})
    feed.flush(1.0)
    header, arrays = decode_scalars(browser.frames[-1])
    assert "from" not in header and header["names"] == ["acc", "loss"]
    assert len(arrays["steps"]) == 101


def test_the_history_frame_is_what_encode_scalars_makes():
    rows = [
        (0, "train", {"loss": 1.0}),
        (0, "val", {"loss": 2.0, "acc": 0.5}),
        (1, "train", {"loss": math.nan, "b": 1e39}),
        (2, "train", {"z": -math.inf}),
    ]
    rows += [(3 + i, "train", {f"m{i % 7}": float(i)}) for i in range(3000)]
    history = ScalarHistory()
    history.extend(rows)
    mine, theirs = decode_scalars(history.frame()), decode_scalars(encode_scalars(rows))
    assert mine[0] == theirs[0]
    assert set(mine[1]) == set(theirs[1])
    for name, arr in theirs[1].items():
        np.testing.assert_array_equal(mine[1][name], arr, err_msg=name)
