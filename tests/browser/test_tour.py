"""Tours in a real browser: a recipe's tour plays on the desktop (the camera flies, the caption
shows, stops advance on their clock), in VR (the world moves so each viewpoint is at the head,
with a fade; the head never moves) and a replay offers the run's automatic tour, which shows
the alarm at the step it was raised."""

import re

import pytest

from nnviz3d.recipe import load_recipe
from nnviz3d.record import RunReader
from nnviz3d.replay import serve_replay
from nnviz3d.viewer import view
from tests.browser.conftest import wait_ready
from tests.browser.xr_helpers import enter_vr, wait_frames
from tests.conftest import zoo_graph
from tests.test_tour import write_run

SCENES = __import__("pathlib").Path(__file__).resolve().parents[2] / "scenes"


@pytest.fixture(scope="module")
def quick_tour(tmp_path_factory):
    """The shipped digits CNN recipe, its stops shortened to 1.2 s so the test is quick."""
    text = (SCENES / "digits_cnn.toml").read_text()
    path = tmp_path_factory.mktemp("recipe") / "digits_cnn.toml"
    path.write_text(re.sub(r"(?m)^seconds = .*$", "seconds = 1.2", text))
    recipe = load_recipe(path)
    handle = view(
        graph=zoo_graph("digits_cnn"), recipe=recipe, open_browser=False, quiet=True, port=0
    )
    yield handle, recipe
    handle.close()


def test_the_tour_plays_on_the_desktop(page, quick_tour):
    handle, recipe = quick_tour
    stops = recipe.tour
    page.goto(handle.url)
    wait_ready(page)
    page.wait_for_function("nnviz3d.tour.count === 4")
    assert page.inner_text("#btn-tour") == "▶ Tour"
    page.click("#btn-tour")
    page.wait_for_function("nnviz3d.tour.playing && nnviz3d.tour.index === 0")
    assert page.inner_text("#tour-caption") == stops[0]["caption"]
    # the camera flies to the first stop's viewpoint
    target = stops[0]["target"]
    page.wait_for_function(
        f"nnviz3d.camera().target.every((v, i) => Math.abs(v - {target}[i]) < 1e-3)", timeout=10_000
    )
    assert page.evaluate("nnviz3d.camera().position") == pytest.approx(
        stops[0]["position"], abs=1e-3
    )
    # the stops advance on their own clock, each with its caption; skipping goes on at once
    page.wait_for_function("nnviz3d.tour.index === 1", timeout=10_000)
    assert page.inner_text("#tour-caption") == stops[1]["caption"]
    page.evaluate("nnviz3d.nextTourStop()")
    assert page.evaluate("nnviz3d.tour.caption") == stops[2]["caption"]
    page.evaluate("nnviz3d.nextTourStop()")
    page.wait_for_function("!nnviz3d.tour.playing", timeout=10_000)  # ends after the last
    assert page.evaluate("nnviz3d.tour.visited") == 4
    assert page.evaluate("nnviz3d.camera().target") == pytest.approx(stops[3]["target"], abs=1e-3)
    assert page.is_hidden("#tour-caption")
    assert page.errors == []


def test_the_tour_in_vr_moves_the_world_to_each_viewpoint_and_fades(page, quick_tour):
    handle, recipe = quick_tour
    stops = recipe.tour
    enter_vr(page, handle.url)
    page.wait_for_function("nnviz3d.tour.count === 4")
    head = page.evaluate("nnviz3d.xr.head")
    page.evaluate("nnviz3d.playTour()")
    page.wait_for_function("nnviz3d.xr.fade > 0.5", timeout=10_000)  # fading out...
    for i, stop in enumerate(stops[:3]):
        if i == 2:
            page.evaluate("nnviz3d.nextTourStop()")  # skip ahead: the same fade, the next stop
        # ...then the viewpoint is where the head is, with the caption in front of it
        page.wait_for_function(
            f"nnviz3d.tour.index === {i} && nnviz3d.xr.caption === "
            f"{stop['caption']!r} && nnviz3d.xr.fade === 0",
            timeout=15_000,
        )
        eye = page.evaluate(f"nnviz3d.xrPoint({stop['position']})")
        assert eye == pytest.approx(head, abs=1e-3)
        # the target is straight ahead (the head looks down -z) and below or level
        at = page.evaluate(f"nnviz3d.xrPoint({stop['target']})")
        assert abs(at[0] - head[0]) < 1e-3 and at[2] < head[2]
    assert page.evaluate("nnviz3d.xr.head") == pytest.approx(head, abs=1e-3)  # never the head
    page.evaluate("nnviz3d.stopTour()")
    assert page.evaluate("nnviz3d.tour") == {
        "playing": False,
        "index": 2,
        "count": 4,
        "caption": "",
        "visited": 3,
    }
    assert page.evaluate("nnviz3d.xr.presenting")
    wait_frames(page)
    assert page.errors == []


def test_replay_offers_the_automatic_tour_and_shows_each_alarm_at_its_step(page, tmp_path):
    run = write_run(tmp_path / "r.nnv3d")
    handle = serve_replay(RunReader(run), open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.tour.count >= 3 && nnviz3d.timeline !== null")
        page.evaluate("nnviz3d.playTour(1)")
        assert page.evaluate("nnviz3d.tour.caption").startswith("Health alarm: layer 'block.conv2'")
        page.wait_for_function("nnviz3d.step === 3", timeout=10_000)
        page.wait_for_function("nnviz3d.badges.includes('block.conv2')", timeout=10_000)
        assert page.errors == []
    finally:
        handle.close()
