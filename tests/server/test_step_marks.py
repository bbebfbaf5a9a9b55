"""The timeline says which steps hold which probe kinds, bounded whatever the run's length."""

import json

from nnviz3d.server.live_feed import LiveFeed
from nnviz3d.server.step_marks import LIMIT, StepMarks


def test_every_step_is_kept_while_few_and_each_kind_has_its_own_row():
    marks = StepMarks()
    for step in range(40):
        kinds = ["weight", "grad"] if step % 4 == 0 else []
        kinds += ["act"] if step % 8 == 0 else []
        kinds += ["mat"] if step in (0, 32) else []
        marks.add(step, kinds)
    msg = marks.message()
    assert msg["weight"]["steps"] == list(range(0, 40, 4)) and msg["weight"]["stride"] == 1
    assert msg["act"]["steps"] == list(range(0, 40, 8))
    assert msg["mat"] == {"steps": [0, 32], "stride": 1, "count": 2, "last": 32}
    assert "embedding" not in msg


def test_a_long_run_is_decimated_into_bins_and_stays_bounded():
    marks = StepMarks()
    for step in range(200_000):
        marks.add(step, ["grad"])
        if step % 1000 == 0:
            marks.add(step, ["mat"])
    g = marks.message()["grad"]
    assert len(g["steps"]) <= LIMIT and g["count"] == 200_000 and g["last"] == 199_999
    # the first step of each bin of ``stride`` steps, spanning the run
    assert g["steps"][0] == 0 and all(s % g["stride"] == 0 for s in g["steps"])
    assert g["steps"][-1] > 200_000 - 2 * g["stride"]
    assert g["steps"] == sorted(set(g["steps"]))
    assert len(marks.message()["mat"]["steps"]) == 200  # few enough: all kept


def test_out_of_order_steps_keep_the_earliest_of_a_bin():
    marks = StepMarks(limit=4)
    for step in (10, 3, 7, 1, 12, 5, 0):
        marks.add(step, ["act"])
    a = marks.message()["act"]
    assert len(a["steps"]) <= 4 and a["steps"] == sorted(a["steps"]) and a["steps"][0] == 0
    assert a["last"] == 12 and a["count"] == 7


def test_the_timeline_message_carries_the_kinds_and_grows_live():
    feed = LiveFeed(live=True)
    assert json.loads(feed.timeline())["kinds"] == {}
    feed.ingest(b"", 0, [])  # a loss-only frame: no row
    msg = json.loads(feed.timeline())
    assert msg["kinds"] == {} and msg["frames"] == 1
    # (probe frames go through the probe history, which decodes them: only the marks here)
    feed.marks.add(4, ["weight", "grad", "mat"])
    feed.marks.add(6, ["act"])
    kinds = json.loads(feed.timeline())["kinds"]
    assert kinds["weight"]["steps"] == [4] and kinds["mat"]["last"] == 4
    assert kinds["act"]["steps"] == [6] and "grad" in kinds
