"""AR mode (immersive-ar) in headless Chromium with an emulated Meta Quest 3 (the npm package iwer)
standing in a room captured on a real Quest 3 (office_small from @iwer/sem, the emulator's
synthetic environment module: floor, walls, a 1.6 x 0.75 m table with a screen on it and the
room's scanned mesh). What is real: the WebXR session (iwer's implementation of the API), its
hit-test sources and results (iwer ray-casts the controller's and the head's rays against the
captured room), its anchors, and the viewer's frame drawn into the page's canvas over the room.
What stands in for hardware: the room is a capture, and the controllers are moved by the test.
Assertions read window.nnviz3d (and the canvas's alpha), not the picture."""

import math
from pathlib import Path

import pytest

from nnviz3d.recipe import load_recipe
from nnviz3d.viewer import view
from tests.browser.conftest import serve, wait_ready
from tests.browser.xr_helpers import (
    aim,
    allocations_per_frame,
    enter_ar,
    press,
    press_menu,
    wait_frames,
)
from tests.conftest import zoo_graph


@pytest.fixture(scope="module")
def digits_server():
    srv, _ = serve("digits_cnn")
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def tour_server():
    """The shipped digits CNN recipe and its tour (stops of several seconds)."""
    recipe = load_recipe(Path(__file__).resolve().parents[2] / "scenes" / "digits_cnn.toml")
    handle = view(
        graph=zoo_graph("digits_cnn"), recipe=recipe, open_browser=False, quiet=True, port=0
    )
    yield handle, recipe
    handle.close()


def on_table(table, u: float, v: float) -> list:
    """A point on the table's top, ``u`` and ``v`` (0..1) across its x and z."""
    lo, hi = table["min"], table["max"]
    return [lo[0] + u * (hi[0] - lo[0]), table["centre"][1], lo[2] + v * (hi[2] - lo[2])]


def point_at(page, target, frm=(0.3, 1.2, -0.05)) -> dict:
    """Aim the right controller at ``target`` and wait for the reticle there."""
    aim(page, "right", list(frm), target)
    page.wait_for_function(
        "(() => { const a = nnviz3d.xr.ar; return a && a.reticle && a.source === 'controller' && "
        f"Math.hypot(...a.reticlePoint.map((c, k) => c - {list(target)}[k])) < 0.03; }})()",
        timeout=30_000,
    )
    return page.evaluate("nnviz3d.xr.ar")


def test_enter_ar_is_transparent_and_the_trigger_places_the_model_on_the_table(page, digits_server):
    table = enter_ar(page, digits_server.url)
    xr = page.evaluate("nnviz3d.xr")
    assert xr["mode"] == "immersive-ar" and xr["referenceSpace"] == "local-floor"
    assert page.inner_text("#btn-ar") == "Exit AR"
    assert xr["ar"]["placed"] is False
    # the captured table's top is at a table's height, ahead of the viewer
    assert 0.7 < table["centre"][1] < 0.8 and table["centre"][2] < -0.4
    # nothing is drawn but the reticle and the pointers: the passthrough shows everywhere else
    before = page.evaluate("nnviz3d.xrAlpha()")
    assert before["transparent"] > 0.95, before
    # the controller's ray meets the table: the reticle lies on its top, where the ray meets it
    target = on_table(table, 0.75, 0.4)
    ar = point_at(page, target)
    assert ar["reticlePoint"][1] == pytest.approx(table["centre"][1], abs=0.01)
    # following the hit-tests allocates nothing in the viewer's loop (the results are the API's)
    alloc = allocations_per_frame(page)
    print("\nbytes allocated per AR frame, reticle shown:", {k: round(v) for k, v in alloc.items()})
    assert alloc["loop"] < 32, alloc
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.xr.ar.placed", timeout=10_000)
    ar = page.evaluate("nnviz3d.xr.ar")
    fp = ar["footprint"]
    print(f"\nAR placement: {ar}")
    # its base on the table, its footprint centred on the reticle, a table top's size
    assert ar["placedAt"] == pytest.approx(target, abs=0.03)
    assert fp["base"] == pytest.approx(ar["placedAt"][1], abs=1e-4)
    assert fp["centre"] == pytest.approx(ar["placedAt"], abs=1e-4)
    assert 0.5 < fp["length"] <= 0.6 + 1e-6 and fp["width"] <= fp["length"]
    assert not ar["reticle"] and ar["placements"] == 1
    # the model's box stands on the table top (the blocks' lowest point at its height)
    box = page.evaluate("nnviz3d.xrLayout().model")
    assert box["min"][1] == pytest.approx(table["centre"][1], abs=0.01)
    page.wait_for_function("nnviz3d.xr.ar.anchored", timeout=10_000)  # iwer grants anchors
    wait_frames(page, 2)
    after = page.evaluate("nnviz3d.xrAlpha()")
    assert after["opaque"] > 0.002 and after["transparent"] > 0.8, after
    assert page.errors == []


def test_after_placing_the_menu_panel_grab_and_replace_work(page, digits_server):
    table = enter_ar(page, digits_server.url)
    point_at(page, on_table(table, 0.75, 0.4))
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.xr.ar.placed", timeout=10_000)
    # the trigger on a block now picks it: the info panel shows it, as in VR
    at = page.evaluate("nnviz3d.xrPoint('block.conv1')")
    aim(page, "right", [at[0], at[1] + 0.3, at[2] + 0.4], at)
    wait_frames(page)
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.vrPanel.startsWith('block.conv1')", timeout=10_000)
    assert page.evaluate("nnviz3d.selected") == "/model/block/conv1"
    # the wrist menu rides on the left controller and says AR
    aim(page, "left", [-0.2, 1.1, -0.35], [-0.2, 1.1, -1.35])
    wait_frames(page, 35)  # the menu's labels refresh every 30 frames
    menu = page.evaluate("nnviz3d.xr.menu")
    assert "Re-place" in menu and "Exit AR" in menu
    press_menu(page, "colour")
    assert page.evaluate("nnviz3d.colorBy") == "weight_norm"
    # grabbing carries the model off the anchor's spot and it stays where it was put
    start = page.evaluate("nnviz3d.modelRoot")
    aim(page, "right", [0.3, 1.0, -0.3], [0.3, 1.0, -1.3])
    wait_frames(page)
    page.evaluate("nnviz3d.xrEmulator().press('right', 'squeeze', 1)")
    page.wait_for_function("nnviz3d.xr.grabbing === 1", timeout=10_000)
    aim(page, "right", [0.2, 1.0, -0.3], [0.2, 1.0, -1.3])
    wait_frames(page)
    page.evaluate("nnviz3d.xrEmulator().press('right', 'squeeze', 0)")
    page.wait_for_function("nnviz3d.xr.grabbing === 0", timeout=10_000)
    wait_frames(page, 3)
    moved = page.evaluate("nnviz3d.modelRoot")
    delta = [moved["position"][k] - start["position"][k] for k in range(3)]
    assert delta == pytest.approx([-0.1, 0, 0], abs=1e-3)
    # the room is real: the sticks (teleport, snap turn, walking in VR) leave the model where it is
    page.evaluate(
        "nnviz3d.xrEmulator().stick('right', 0.9, -0.9); nnviz3d.xrEmulator().stick('left', 0, -1)"
    )
    wait_frames(page, 4)
    page.evaluate(
        "nnviz3d.xrEmulator().stick('right', 0, 0); nnviz3d.xrEmulator().stick('left', 0, 0)"
    )
    wait_frames(page, 2)
    assert page.evaluate("nnviz3d.modelRoot") == moved
    assert page.evaluate("nnviz3d.xr.teleports") == 0
    # Re-place takes the model off the table; the trigger puts it down at the new reticle
    press_menu(page, "recentre")
    page.wait_for_function("!nnviz3d.xr.ar.placed", timeout=10_000)
    # this time by gaze (a phone's screen centre, a headset without controllers): both rays
    # point at the ceiling, the head looks 50 degrees down at the table
    aim(page, "right", [0.3, 1.2, -0.2], [0.3, 2.2, -0.2])
    aim(page, "left", [-0.3, 1.2, -0.2], [-0.3, 2.2, -0.2])
    page.evaluate(
        "(() => { const d = nnviz3d.xrEmulator().device; d.position.set(0.55, 1.6, 0);"
        f"d.quaternion.set({-math.sin(math.radians(25))}, 0, 0, {math.cos(math.radians(25))}); }})()"
    )
    down = (1.6 - table["centre"][1]) / math.tan(math.radians(50))
    target = [0.55, table["centre"][1], -down]
    page.wait_for_function("nnviz3d.xr.ar.source === 'gaze'", timeout=20_000)
    ar = page.evaluate("nnviz3d.xr.ar")
    assert ar["reticle"] and ar["reticlePoint"] == pytest.approx(target, abs=0.03)
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.xr.ar.placements === 2", timeout=10_000)
    fp = page.evaluate("nnviz3d.xr.ar.footprint")
    assert fp["centre"] == pytest.approx(target, abs=0.03)
    # Exit AR from the menu: the desktop is back, opaque, the model at identity
    at = page.evaluate("nnviz3d.xrMenuPoint('exit')")
    aim(page, "right", [at[0] + 0.25, at[1] + 0.15, at[2] + 0.25], at)
    wait_frames(page)
    page.evaluate("nnviz3d.xrEmulator().press('right', 'trigger', 1)")
    page.wait_for_function("!nnviz3d.xr.presenting", timeout=10_000)
    assert page.evaluate("nnviz3d.modelRoot") == {"position": [0, 0, 0], "yaw": 0, "scale": 1}
    assert page.inner_text("#btn-ar") == "Enter AR"
    page.evaluate("nnviz3d.render()")
    assert page.evaluate("nnviz3d.xrAlpha()")["opaque"] == 1
    assert page.errors == []


def test_without_ar_the_button_says_why(page, digits_server):
    page.goto(digits_server.url)  # headless Chromium: WebXR, but no AR device
    wait_ready(page)
    page.wait_for_function("document.getElementById('btn-ar')")
    xr = page.evaluate("nnviz3d.xr")
    assert not xr["arSupported"] and "immersive-ar is not supported" in xr["arMessage"]
    assert page.inner_text("#btn-ar") == "AR unavailable"
    page.click("#btn-ar")
    assert "AR is not (immersive-ar is not supported)" in page.inner_text("#vr-message")


def test_a_tour_in_ar_brings_each_viewpoint_to_the_head_and_re_place_ends_it(page, tour_server):
    handle, recipe = tour_server
    stop = recipe.tour[0]
    table = enter_ar(page, handle.url)
    page.wait_for_function("nnviz3d.tour.count === 4")
    point_at(page, on_table(table, 0.75, 0.4))
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.xr.ar.placed", timeout=10_000)
    placed = page.evaluate("nnviz3d.modelRoot")
    head = page.evaluate("nnviz3d.xr.head")
    # as in VR: the model (at its table-top scale) moves so the stop's viewpoint is at the head
    page.evaluate("nnviz3d.playTour()")
    page.wait_for_function(
        f"nnviz3d.tour.index === 0 && nnviz3d.xr.caption === {stop['caption']!r} && "
        "nnviz3d.xr.fade === 0",
        timeout=15_000,
    )
    assert page.evaluate(f"nnviz3d.xrPoint({stop['position']})") == pytest.approx(head, abs=1e-3)
    assert page.evaluate("nnviz3d.modelRoot")["scale"] == pytest.approx(placed["scale"])
    page.evaluate("nnviz3d.stopTour()")
    # Re-place, then the trigger: back on the table
    aim(page, "left", [-0.2, 1.1, -0.35], [-0.2, 1.1, -1.35])
    wait_frames(page)
    press_menu(page, "recentre")
    page.wait_for_function("!nnviz3d.xr.ar.placed", timeout=10_000)
    point_at(page, on_table(table, 0.75, 0.4))
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.xr.ar.placements === 2", timeout=10_000)
    assert page.evaluate("nnviz3d.modelRoot")["position"] == pytest.approx(
        placed["position"], abs=0.03
    )
    assert page.errors == []
