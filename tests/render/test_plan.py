"""Frame plans (nnviz3d/render/video.py): which step, camera and caption each frame shows."""

import math

import pytest

from nnviz3d.render.drawing import runs_of
from nnviz3d.render.video import (
    Shot,
    frame_count,
    orbit_camera,
    orbit_start,
    run_plan,
    tour_plan,
)


def test_a_long_run_is_subsampled_evenly_from_first_to_last_step():
    steps = list(range(0, 1000, 2))
    shots = run_plan(steps, {998: 0.125}, 10, "Net")
    assert [s.step for s in shots][0] == 0 and shots[-1].step == 998
    assert len(shots) == 10 and len({s.step for s in shots}) == 10
    assert shots[-1].caption == "Net · step 998 of 998 · loss 0.125"
    assert shots[0].caption == "Net · step 0 of 998"  # no loss recorded there


def test_a_short_run_holds_each_step_and_renders_it_once():
    shots = run_plan([5, 6, 7], {}, 30, "Net")
    runs = runs_of(shots)
    assert [s.step for s, _ in runs] == [5, 6, 7]
    assert sum(n for _, n in runs) == 30 and [n for _, n in runs] == [10, 10, 10]


def test_an_orbit_turns_once_about_the_target():
    start = ((3.0, 2.0, 0.0), (0.0, 1.0, 0.0))
    assert orbit_camera(start, 0.0)[0] == pytest.approx(start[0])
    half = orbit_camera(start, 0.5)
    assert half[0] == pytest.approx((-3.0, 2.0, 0.0), abs=1e-9) and half[1] == start[1]
    quarter = orbit_camera(start, 0.25)[0]
    assert math.dist(quarter, start[1]) == pytest.approx(math.dist(start[0], start[1]))
    shots = run_plan([1, 2], {}, 8, "Net", orbit=start)
    assert len(runs_of(shots)) == 8  # every frame differs


def test_a_tour_flies_to_each_stop_and_stays_its_seconds():
    stops = [
        {"position": [1, 1, 1], "target": [0, 0, 0], "caption": "one", "seconds": 2},
        {"position": [5, 1, 1], "target": [4, 0, 0], "caption": "two", "seconds": 1, "step": 7},
    ]
    start = ((9.0, 9.0, 9.0), (0.0, 0.0, 0.0))
    shots = tour_plan(stops, 10, start, steps=[0, 5, 10])
    assert len(shots) == 20 + 12 + 10  # hold 2 s, fly 1.2 s, hold 1 s
    assert shots[0] == Shot(None, ((1, 1, 1), (0, 0, 0)), "one")  # no flight to the first
    flight = shots[20:32]
    assert all(s.caption == "two" and s.step == 5 for s in flight)  # recorded at or before 7
    xs = [s.camera[0][0] for s in flight]
    assert xs == sorted(xs) and 1 < xs[0] < xs[-1] < 5  # eased from stop one to stop two
    assert shots[-1] == Shot(5, ((5, 1, 1), (4, 0, 0)), "two")
    assert {s.step for s in tour_plan(stops, 10, start)} == {None}  # no recording: no steps
    assert len(tour_plan(stops, 10, start, seconds=8.4)) == 84  # squeezed or stretched to fit
    assert len(tour_plan(stops, 3, start, seconds=7.1)) == 21  # exactly seconds x fps
    endless = [{**stops[0], "seconds": 1e12}]  # a recipe's numbers are not trusted for sizes
    assert len(tour_plan(endless, 2, start)) == 7200


def test_frame_count():
    assert frame_count(20, 30) == 600 and frame_count(0.01, 30) == 1


def test_an_orbit_starts_far_enough_to_keep_the_model_in_view_end_on():
    boxes = [[[-1, 0, 0], [1, 1, 20]]]  # a long model along z
    start = ((10.0, 5.0, 10.0), (0.0, 0.5, 10.0))
    pos, target = orbit_start(start, boxes, 16 / 9)
    assert target == pytest.approx((0.0, 0.5, 10.0))
    radius = math.dist([-1, 0, 0], [1, 1, 20]) / 2
    assert math.dist(pos, target) * math.sin(math.radians(25)) >= radius  # the whole sphere
    d = [p - t for p, t in zip(pos, target)]
    assert d[0] / d[1] == pytest.approx(10 / 4.5)  # seen from the same direction
    assert orbit_start(start, [], 1.0) == start
