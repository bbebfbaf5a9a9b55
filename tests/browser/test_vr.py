"""VR mode in headless Chromium with an emulated Meta Quest 3 (the npm package iwer, loaded by the
viewer when the URL says ?xr-emulate=quest3): the session presents and renders, the controller
ray picks blocks and presses the wrist menu, grabbing moves and scales the model root, teleport
and smooth locomotion move the world, and the frame loop stays within the draw-call bound without
allocating in the viewer's code. The model lies on a table beside the viewer, input at the left;
the info panel (a table of rows), the loss chart and the wrist menu stay clear of the head and of
each other. Assertions read window.nnviz3d, not pixels."""

import math

import pytest

from tests.browser.conftest import serve, wait_ready
from tests.browser.xr_helpers import (
    XR_FPS,
    aim,
    allocations_per_frame,
    enter_vr,
    press,
    press_menu,
    wait_frames,
)

DRAW_CALL_BOUND = 200  # the viewer's bound (tests/browser/test_viewer.py)


@pytest.fixture(scope="module")
def digits_server():
    srv, _ = serve("digits_cnn")
    yield srv
    srv.close()


def in_box(p, box, margin=0.0) -> bool:
    """Whether point ``p`` is inside ``box`` ({min, max}) grown by ``margin``."""
    return all(box["min"][k] - margin <= p[k] <= box["max"][k] + margin for k in range(3))


def disjoint(a, b) -> bool:
    return any(a["max"][k] < b["min"][k] or b["max"][k] < a["min"][k] for k in range(3))


FRAME_RATE = """() => new Promise((resolve) => {
  const f0 = nnviz3d.xr.frames, t0 = performance.now();
  let ticks = 0;
  const tick = () => {
    ticks++;
    if (performance.now() - t0 < 1500) requestAnimationFrame(tick);
    else resolve({ frames: nnviz3d.xr.frames - f0, ticks, seconds: (performance.now() - t0) / 1000 });
  };
  requestAnimationFrame(tick);
})"""
"""Over 1.5 s: the XR loop's runs and the page's animation frames (the emulated headset's frames
come on those)."""

HEAD_MARGIN = 0.25
"""Metres between the head and anything placed around it."""


def assert_clear_of_head(layout):
    """Nothing shown (panel, caption, chart, wrist menu, the model) is at the head."""
    head = layout["head"]
    for name in ("panel", "caption", "chart", "menu", "model"):
        if layout[name] is not None:
            assert not in_box(head, layout[name], HEAD_MARGIN), (name, layout[name], head)


def assert_on_a_table(layout):
    """The model lies on a table beside the viewer: its first and last blocks ahead, the first
    to the left of the last, across the gaze; its floor at table height; a table's size."""
    first, last = layout["firstInHead"], layout["lastInHead"]
    assert first[2] < -0.3 and last[2] < -0.3  # ahead (the head's frame: -z ahead)
    assert first[0] < -0.5 < 0.5 < last[0]  # left to right, across the view
    assert abs(first[2] - last[2]) < 0.3  # beside the viewer, not running away from them
    box = layout["model"]
    assert 0.75 <= box["min"][1] <= 0.9 and box["max"][1] < layout["head"][1] - 0.4
    longest = max(box["max"][0] - box["min"][0], box["max"][2] - box["min"][2])
    assert 1.4 <= longest <= 2.0
    # centred on the gaze, about an arm's length ahead
    assert abs((first[0] + last[0]) / 2) < 0.1 and -0.9 < (first[2] + last[2]) / 2 < -0.45
    assert_clear_of_head(layout)


def turn(angle: float) -> float:
    """``angle`` in (-pi, pi]."""
    return math.atan2(math.sin(angle), math.cos(angle))


def rotate_about(p, pivot, angle):
    """``p`` turned by ``angle`` about the vertical through ``pivot`` (three.js's sense)."""
    x, z = p[0] - pivot[0], p[2] - pivot[2]
    c, s = math.cos(angle), math.sin(angle)
    return [pivot[0] + c * x + s * z, p[1], pivot[2] - s * x + c * z]


def test_enter_vr_presents_and_the_trigger_on_a_block_opens_its_panel(page, digits_server):
    enter_vr(page, digits_server.url)
    xr = page.evaluate("nnviz3d.xr")
    assert xr["mode"] == "immersive-vr" and xr["referenceSpace"] == "local-floor"
    assert page.inner_text("#btn-vr") == "Exit VR"
    wait_frames(page, 5)  # frames keep coming
    # one run of the loop per headset frame, at the emulated headset's rate (?xr-fps=): three's
    # window loop, restarted by setAnimationLoop, once ran and drew every frame a second time
    rate = page.evaluate(FRAME_RATE)
    assert rate["ticks"] / 2 <= rate["frames"] <= rate["ticks"] + 1, rate
    assert rate["ticks"] <= rate["seconds"] * XR_FPS * 1.2, rate
    # the model stands on a table in front of the viewer, scaled down to a table's size
    root = page.evaluate("nnviz3d.modelRoot")
    assert 0.05 < root["scale"] < 1 and root["position"][2] < -0.5
    bottom = page.evaluate("nnviz3d.xrPoint('input:x')")[1] - 0.45 / 2 * root["scale"]
    assert bottom == pytest.approx(page.evaluate("nnviz3d.xrLayout().tableHeight"), abs=0.02)
    target = "block.conv1"
    at = page.evaluate(f"nnviz3d.xrPoint({target!r})")
    # from the viewer's side, level with the block: the ray crosses this block only
    aim(page, "right", [at[0], at[1], at[2] + 0.5], at)
    wait_frames(page)
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.vrPanel.length > 0", timeout=10_000)
    assert page.evaluate("nnviz3d.selected") == "/model/block/conv1"
    panel = page.evaluate("nnviz3d.vrPanel")
    lines = panel.split("\n")
    assert lines[0] == target and "kind: Conv2d" in panel and "own params: 2.3K (2,320)" in panel
    # the same content as the desktop info panel
    assert page.inner_text("#info h2") == target
    assert page.inner_text("#info td[data-field='output shapes']") in panel
    # pointing at empty space and pressing clears it
    aim(page, "right", [0.3, 1.4, 0], [2.3, 1.6, 0])
    wait_frames(page)
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.vrPanel === '' && nnviz3d.selected === null", timeout=10_000)
    assert page.evaluate("nnviz3d.xr.picks") == 2
    assert page.errors == []


def test_grab_moves_the_model_root_and_two_hands_scale_it(page, digits_server):
    enter_vr(page, digits_server.url)
    start = page.evaluate("nnviz3d.modelRoot")
    aim(page, "right", [0.3, 1.2, -0.3], [0.3, 1.2, -1.3])
    wait_frames(page)
    page.evaluate("nnviz3d.xrEmulator().press('right', 'squeeze', 1)")
    page.wait_for_function("nnviz3d.xr.grabbing === 1", timeout=10_000)
    aim(page, "right", [0.6, 1.0, -0.1], [0.6, 1.0, -1.1])  # same direction, moved (0.3, -0.2, 0.2)
    wait_frames(page)
    moved = page.evaluate("nnviz3d.modelRoot")
    delta = [moved["position"][k] - start["position"][k] for k in range(3)]
    assert delta == pytest.approx([0.3, -0.2, 0.2], abs=1e-3)
    assert moved["scale"] == pytest.approx(start["scale"]) and turn(
        moved["yaw"] - start["yaw"]
    ) == pytest.approx(0)
    # turning the controller a quarter turn turns the model with it, about the hand
    aim(page, "right", [0.6, 1.0, -0.1], [-0.4, 1.0, -0.1])
    wait_frames(page)
    turned = page.evaluate("nnviz3d.modelRoot")
    assert turn(turned["yaw"] - start["yaw"]) == pytest.approx(math.pi / 2, abs=1e-3)
    page.evaluate("nnviz3d.xrEmulator().press('right', 'squeeze', 0)")
    page.wait_for_function("nnviz3d.xr.grabbing === 0", timeout=10_000)
    # both hands: pulling them twice as far apart doubles the scale
    before = page.evaluate("nnviz3d.modelRoot")
    aim(page, "left", [-0.2, 1.2, -0.4], [-0.2, 1.2, -1.4])
    aim(page, "right", [0.2, 1.2, -0.4], [0.2, 1.2, -1.4])
    wait_frames(page)
    page.evaluate(
        "nnviz3d.xrEmulator().press('left', 'squeeze', 1);"
        "nnviz3d.xrEmulator().press('right', 'squeeze', 1)"
    )
    page.wait_for_function("nnviz3d.xr.grabbing === 2", timeout=10_000)
    aim(page, "left", [-0.4, 1.2, -0.4], [-0.4, 1.2, -1.4])
    aim(page, "right", [0.4, 1.2, -0.4], [0.4, 1.2, -1.4])
    wait_frames(page)
    scaled = page.evaluate("nnviz3d.modelRoot")
    assert scaled["scale"] == pytest.approx(2 * before["scale"], rel=1e-3)
    assert turn(scaled["yaw"] - before["yaw"]) == pytest.approx(0, abs=1e-3)
    assert page.evaluate("nnviz3d.xr.grabs") == 2  # one hand, then both together
    assert page.errors == []


def test_teleport_arc_and_smooth_locomotion_move_the_world_not_the_head(page, digits_server):
    camera = enter_vr(page, digits_server.url)
    start = page.evaluate("nnviz3d.modelRoot")["position"]
    head = page.evaluate("nnviz3d.xr.head")
    # push the right stick forward: the arc from the controller lands on the floor ahead
    aim(page, "right", [0.2, 1.2, -0.2], [0.2, 1.0, -1.2])
    page.evaluate("nnviz3d.xrEmulator().stick('right', 0, -1)")
    page.wait_for_function("nnviz3d.xr.aiming !== null", timeout=10_000)
    land = page.evaluate("nnviz3d.xr.aiming")
    assert land[1] == 0 and land[2] < -1.0 and abs(land[0] - 0.2) < 1e-3
    page.evaluate("nnviz3d.xrEmulator().stick('right', 0, 0)")
    page.wait_for_function("nnviz3d.xr.teleports === 1", timeout=10_000)
    after = page.evaluate("nnviz3d.modelRoot")["position"]
    # the world moved by head - landing point, on the floor plane; the head stayed
    assert after[0] - start[0] == pytest.approx(head[0] - land[0], abs=1e-3)
    assert after[2] - start[2] == pytest.approx(head[2] - land[2], abs=1e-3)
    assert after[1] == pytest.approx(start[1])
    assert page.evaluate("nnviz3d.xr.head") == pytest.approx(head, abs=1e-3)
    # left stick forward walks forward (-z): the world comes towards the viewer (+z)
    page.evaluate("nnviz3d.xrEmulator().stick('left', 0, -1)")
    wait_frames(page, 4)
    page.evaluate("nnviz3d.xrEmulator().stick('left', 0, 0)")
    walked = page.evaluate("nnviz3d.modelRoot")["position"]
    assert walked[2] > after[2] + 0.01 and walked[0] == pytest.approx(after[0], abs=1e-2)
    # a flick of the right stick to the right turns the viewer 30 degrees right, once: the
    # world turns left about the head (every point's bearing from the head turns left)
    root = page.evaluate("nnviz3d.modelRoot")
    ahead = page.evaluate("nnviz3d.xrPoint('output:0')")
    page.evaluate("nnviz3d.xrEmulator().stick('right', 1, 0)")
    wait_frames(page, 4)
    page.evaluate("nnviz3d.xrEmulator().stick('right', 0, 0)")
    wait_frames(page)
    turned = page.evaluate("nnviz3d.modelRoot")
    assert turn(turned["yaw"] - root["yaw"]) == pytest.approx(math.pi / 6, abs=1e-4)
    now = page.evaluate("nnviz3d.xrPoint('output:0')")
    assert now == pytest.approx(rotate_about(ahead, head, math.pi / 6), abs=1e-3)

    def bearing(p):  # three.js heading from the head; larger is further left
        return math.atan2(p[0] - head[0], p[2] - head[2])

    assert turn(bearing(now) - bearing(ahead)) == pytest.approx(math.pi / 6, abs=1e-3)
    assert page.evaluate("nnviz3d.xr.head") == pytest.approx(head, abs=1e-3)
    # leaving VR puts the desktop back as it was: model root at identity, camera where it was
    page.evaluate("nnviz3d.exitVR()")
    page.wait_for_function("!nnviz3d.xr.presenting")
    assert page.evaluate("nnviz3d.modelRoot") == {"position": [0, 0, 0], "yaw": 0, "scale": 1}
    assert page.evaluate("nnviz3d.camera()") == camera
    assert page.inner_text("#btn-vr") == "Enter VR"
    page.evaluate("nnviz3d.render()")
    assert 0 < page.evaluate("nnviz3d.drawCalls") <= DRAW_CALL_BOUND
    assert page.errors == []


def test_a_health_badge_is_pickable_and_the_panel_lists_the_alarm(page, tmp_path):
    from nnviz3d.layout import layout_graph
    from nnviz3d.record import RunReader
    from nnviz3d.replay import serve_replay
    from tests.conftest import zoo_graph
    from tests.test_tour import write_run

    handle = serve_replay(
        RunReader(write_run(tmp_path / "r.nnv3d")), open_browser=False, quiet=True, port=0
    )
    try:
        enter_vr(page, handle.url)
        page.wait_for_function("nnviz3d.timeline !== null && nnviz3d.step !== null")
        # the wrist menu's step bar scrubs the timeline: its middle is step 3 of 0..5
        aim(page, "left", [-0.2, 1.1, -0.35], [-0.2, 1.1, -1.35])
        wait_frames(page)
        press_menu(page, "scrub")
        page.wait_for_function("nnviz3d.step === 3", timeout=10_000)
        page.wait_for_function("nnviz3d.badgeCount === 1", timeout=10_000)
        page.wait_for_function("nnviz3d.xr.menu.includes('step 3')", timeout=10_000)
        # the badge floats above the block's corner (healthMarks.ts)
        layout = layout_graph(zoo_graph("digits_cnn"))
        i = layout.index("block.conv2")
        (x, y, z), (sx, sy, sz) = layout.centers[i].tolist(), layout.sizes[i].tolist()
        badge = page.evaluate(f"nnviz3d.xrPoint({[x + sx / 2, y + sy / 2 + 0.18, z - sz / 2]})")
        aim(page, "left", [-0.5, 0.9, 0.1], [-1.5, 0.9, 0.1])  # the menu out of the way
        aim(page, "right", [badge[0], badge[1] + 0.3, badge[2] + 0.4], badge)
        wait_frames(page)
        press(page, "right", "trigger")
        page.wait_for_function("nnviz3d.selected === '/model/block/conv2'", timeout=10_000)
        page.wait_for_function("nnviz3d.vrPanel.includes('health alarm')", timeout=10_000)
        panel = page.evaluate("nnviz3d.vrPanel")
        assert panel.startswith("block.conv2\n")
        assert "health alarm: layer 'block.conv2': exploding gradients at step 3" in panel
        assert page.errors == []
    finally:
        handle.close()


def test_the_wrist_menu_changes_the_colours_and_expands_the_selection(page):
    srv, _ = serve("digits_cnn", depth=1)
    try:
        enter_vr(page, srv.url)
        page.wait_for_function("nnviz3d.xrMenuPoint('colour') !== null")
        # the menu rides on the left controller; the right one points at its buttons
        aim(page, "left", [-0.2, 1.1, -0.35], [-0.2, 1.1, -1.35])
        wait_frames(page)
        assert page.evaluate("nnviz3d.colorBy") == "kind"
        press_menu(page, "colour")
        assert page.evaluate("nnviz3d.colorBy") == "weight_norm"
        assert page.evaluate("nnviz3d.xr.picks") == 0  # a menu press picks nothing in the scene
        # select the collapsed residual block with the ray, then expand it from the menu
        block = page.evaluate("nnviz3d.xrPoint('block')")
        aim(page, "right", [block[0], block[1], block[2] + 1.5], block)  # from the viewer's side
        wait_frames(page)
        press(page, "right", "trigger")
        page.wait_for_function("nnviz3d.selected === '/model/block'", timeout=10_000)
        page.wait_for_function("nnviz3d.xr.menu.includes('Expand block')", timeout=10_000)
        count = page.evaluate("nnviz3d.nodeCount")
        press_menu(page, "expand")
        page.wait_for_function(f"nnviz3d.nodeCount > {count}", timeout=20_000)
        assert page.evaluate("nnviz3d.xr.presenting")
        assert page.errors == []
    finally:
        srv.close()


def test_without_a_headset_or_a_secure_context_the_button_says_why(page, digits_server):
    page.goto(digits_server.url)  # no emulation: headless Chromium has WebXR but no headset
    wait_ready(page)
    page.wait_for_function("document.getElementById('btn-vr')")
    xr = page.evaluate("nnviz3d.xr")
    assert not xr["supported"] and xr["secure"]
    assert page.inner_text("#btn-vr") == "VR unavailable"
    page.click("#btn-vr")
    assert "no VR headset" in page.inner_text("#vr-message")
    page.goto(digits_server.url + "?xr-emulate=quest9")
    page.wait_for_function("document.getElementById('btn-vr')")
    assert page.evaluate("nnviz3d.xr.message") == (
        'The headset emulator did not start: xr-emulate: unknown headset "quest9"; one of '
        "quest3, quest2, questpro"
    )
    # the same viewer over plain http on a LAN address is not a secure context
    page.route(
        "http://nnviz3d-lan.test/**",
        lambda route: route.fulfill(
            response=page.request.fetch(
                route.request.url.replace("http://nnviz3d-lan.test", digits_server.url.rstrip("/"))
            )
        ),
    )
    page.goto("http://nnviz3d-lan.test/")
    page.wait_for_function("document.getElementById('btn-vr')")
    xr = page.evaluate("nnviz3d.xr")
    assert not xr["secure"] and not xr["supported"]
    assert "VR needs a secure context" in xr["message"] and "--tls" in xr["message"]


def test_gpt2_in_vr_stays_within_the_draw_call_bound_and_the_loop_does_not_allocate(page):
    srv, _ = serve("gpt2", depth=3)
    try:
        enter_vr(page, srv.url)
        aim(page, "left", [-0.2, 1.1, -0.35], [-0.2, 1.1, -1.35])  # the wrist menu in view
        aim(page, "right", [0.2, 1.2, -0.3], [0.2, 0.8, -2.0])  # its ray is tested every frame
        wait_frames(page, 10)
        xr = page.evaluate("nnviz3d.xr")
        desktop = page.evaluate("nnviz3d.drawCalls")
        print(
            f"\nGPT-2 (depth 3): {desktop} draw calls on the desktop, {xr['drawCalls']} per XR frame"
        )
        assert 0 < xr["drawCalls"] <= DRAW_CALL_BOUND
        alloc = allocations_per_frame(page)
        print("bytes allocated per XR frame:", {k: round(v) for k, v in alloc.items()})
        # one Vector3 a frame would be ~50 B; the sampling profiler's unit is 128 B
        assert alloc["loop"] < 32 and alloc["throttled"] < 400, alloc
        assert page.errors == []
    finally:
        srv.close()


def test_an_embedding_point_is_pickable_in_vr(page):
    import torch

    import nnviz3d
    from nnviz3d.data.digits import load_digits_tensors
    from nnviz3d.zoo import DigitsCNN

    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = DigitsCNN()
    w = nnviz3d.watch(
        model,
        x[:1],
        record=False,
        open_browser=False,
        port=0,
        every=1,
        quiet=True,
        inputs=xv[:80],
        labels=yv[:80],
        embed=["head.2"],
        embed_every=10,
        embed_method="pca",
    )
    try:
        for _ in range(2):
            loss = torch.nn.functional.cross_entropy(model(x[:32]), y[:32])
            loss.backward()
            w.step(loss=loss.item())
        enter_vr(page, w.url)
        page.wait_for_function("nnviz3d.embeddings.some(e => e.layer === 'head.2')", timeout=60_000)
        point = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")  # reference space in VR
        aim(page, "right", [point[0] + 0.3, point[1] + 0.25, point[2] + 0.3], point)
        wait_frames(page)
        press(page, "right", "trigger")
        page.wait_for_function(
            "nnviz3d.vrPanel.startsWith('head.2 embedding (pca')", timeout=10_000
        )
        panel = page.evaluate("nnviz3d.vrPanel")
        assert " · input " in panel and " · label " in panel
        assert page.errors == []
    finally:
        w.close()


@pytest.mark.parametrize("name, depth", [("gpt2", 3), ("digits_cnn", None)])
def test_the_model_lies_on_a_table_beside_the_viewer_input_at_the_left(page, name, depth):
    srv, _ = serve(name, depth=depth)
    try:
        enter_vr(page, srv.url)
        layout = page.evaluate("nnviz3d.xrLayout()")
        print(
            f"\n{name}: first {layout['firstInHead']}, last {layout['lastInHead']}, "
            f"model {layout['model']}, scale {page.evaluate('nnviz3d.modelRoot')['scale']:.4f}"
        )
        assert layout["head"] == pytest.approx([0, 1.6, 0], abs=1e-3)
        assert_on_a_table(layout)
        # turn the head a quarter left, walk half a metre and re-centre from the wrist menu: the
        # model is placed again beside the viewer, in the new head frame
        page.evaluate("""(() => { const d = nnviz3d.xrEmulator().device;
            d.position.set(0.5, 1.6, 0.2); d.quaternion.set(0, Math.SQRT1_2, 0, Math.SQRT1_2); })()""")
        wait_frames(page)
        assert page.evaluate("nnviz3d.xrLayout().head") == pytest.approx([0.5, 1.6, 0.2], abs=1e-3)
        aim(page, "left", [-0.2, 1.1, 0.55], [-1.2, 1.1, 0.55])  # held ahead (-x) in the new frame
        wait_frames(page)
        press_menu(page, "recentre", offset=(-0.25, 0.15, -0.25))
        layout = page.evaluate("nnviz3d.xrLayout()")
        assert layout["headYaw"] == pytest.approx(-math.pi / 2, abs=1e-3)
        assert_on_a_table(layout)
        # the model's forward axis (+z) to the viewer's right, which now is -z
        assert turn(page.evaluate("nnviz3d.modelRoot")["yaw"] - math.pi) == pytest.approx(
            0, abs=1e-3
        )
        assert page.errors == []
    finally:
        srv.close()


def test_the_info_panel_is_a_table_of_rows_clear_of_the_wrist_menu_and_the_head(
    page, digits_server
):
    enter_vr(page, digits_server.url)
    aim(page, "left", [-0.2, 1.1, -0.35], [-0.2, 1.1, -1.35])  # the wrist menu in view
    at = page.evaluate("nnviz3d.xrPoint('block.conv2')")
    aim(page, "right", [at[0], at[1], at[2] + 0.5], at)
    wait_frames(page)
    press(page, "right", "trigger")
    page.wait_for_function("nnviz3d.xrLayout().panel !== null", timeout=10_000)
    layout = page.evaluate("nnviz3d.xrLayout()")
    assert layout["menu"] is not None and disjoint(layout["panel"], layout["menu"])
    assert_clear_of_head(layout)
    # key/value rows: keys in one column, values beside them on the same line, as on the desktop
    cells = layout["panelCells"]
    rows = {}
    for c in cells:
        rows.setdefault(round(c["y"], 4), {})[c["column"]] = c
    assert len(rows) >= 8
    kind = next(r for r in rows.values() if r[0]["text"] == "kind")
    assert kind[1]["text"] == "Conv2d" and kind[1]["x"] > kind[0]["x"] + 0.05
    assert {r[1]["x"] for r in rows.values() if 1 in r} == {kind[1]["x"]}  # one value column
    # the panel is to the right, at about eye level, facing the viewer
    panel = layout["panel"]
    assert panel["min"][0] > 0.1 and panel["max"][1] > layout["head"][1] - 0.1
    # the hand that holds the menu moves into the panel: the panel steps aside
    mid = [(panel["min"][k] + panel["max"][k]) / 2 for k in range(3)]
    aim(page, "left", [mid[0], mid[1] - 0.1, mid[2] + 0.06], [mid[0], mid[1] + 0.9, mid[2] - 1])
    wait_frames(page, 35)  # it is checked every 30 frames
    layout = page.evaluate("nnviz3d.xrLayout()")
    assert disjoint(layout["panel"], layout["menu"]), layout
    assert_clear_of_head(layout)
    # names are text, clamped to their column
    page.evaluate("""(() => { const tr = document.createElement('tr');
        const th = document.createElement('th'); th.textContent = 'tied';
        const td = document.createElement('td'); td.textContent = '<b>x</b>' + 'w'.repeat(500);
        tr.append(th, td); document.querySelector('#info table').append(tr); })()""")
    page.wait_for_function(
        "nnviz3d.xrLayout().panelCells.some(c => c.text.startsWith('<b>'))", timeout=10_000
    )
    cell = next(
        c for c in page.evaluate("nnviz3d.xrLayout().panelCells") if c["text"].startswith("<b>")
    )
    assert cell["shown"].startswith("<b>x</b>w") and cell["shown"].endswith("…")
    assert len(cell["shown"]) < 80
    assert page.errors == []


def test_the_loss_chart_stands_behind_the_model_and_the_panel_draws_histograms(page, tmp_path):
    from nnviz3d.record import RunReader
    from nnviz3d.replay import serve_replay
    from tests.test_tour import write_run

    handle = serve_replay(
        RunReader(write_run(tmp_path / "r.nnv3d")), open_browser=False, quiet=True, port=0
    )
    try:
        enter_vr(page, handle.url)
        page.wait_for_function("nnviz3d.xrLayout().chart !== null", timeout=20_000)
        layout = page.evaluate("nnviz3d.xrLayout()")
        assert_on_a_table(layout)
        chart, model = layout["chart"], layout["model"]
        # behind the model (further from the viewer), above its table, not over the model
        assert chart["max"][2] < model["min"][2] + 1e-3 and chart["min"][1] >= model["max"][1]
        assert disjoint(chart, model) and chart["max"][1] - chart["min"][1] == pytest.approx(0.4)
        page.evaluate("nnviz3d.select('block.conv2')")
        page.wait_for_function("nnviz3d.xrLayout().panelHistograms >= 3", timeout=10_000)
        layout = page.evaluate("nnviz3d.xrLayout()")
        assert disjoint(layout["panel"], chart) and disjoint(layout["panel"], model)
        assert_clear_of_head(layout)
        assert "training · step" in page.evaluate("nnviz3d.vrPanel")
        # leaving VR puts the chart back beside the model for the desktop
        page.evaluate("nnviz3d.exitVR()")
        page.wait_for_function("!nnviz3d.xr.presenting")
        assert page.evaluate("nnviz3d.xrLayout().chart") is None
        assert page.errors == []
    finally:
        handle.close()
