"""Driving the viewer's XR modes (VR and AR) in headless Chromium with an emulated Meta Quest 3
(the npm package iwer, loaded by the viewer when the URL says ?xr-emulate=quest3): entering a
session, moving and pressing the controllers, counting frames, and what the frame loop allocates.
Used by tests/browser/test_vr.py, test_ar.py, test_tour.py and test_chart.py.

The page is small while in XR (:data:`XR_VIEWPORT`): SwiftShader draws every XR frame (and, in AR,
the room) on the CPU, 2-3x faster at 640x400 than at 1280x800. The XR assertions are in metres
(reference space), frame counts and texts, not pixels; the aspect is the 1280x800 default's, so
the desktop view framed before entering (and restored after leaving) is framed alike."""

from tests.browser.conftest import wait_ready

XR_VIEWPORT = {"width": 640, "height": 400}
"""The page's size for XR tests (the 1280x800 default's aspect)."""
XR_FPS = 15
"""The emulated session's frame rate (?xr-fps=): SwiftShader draws a stereo frame on the CPU as
often as it is asked, and the tests count frames and poses, not smoothness."""

THROTTLED = {"updateLabels", "refresh", "refreshPanel", "set", "sync"}
"""XR loop methods (web/src/xr/) that run every few frames or on change, not every frame."""
VIEWER_CHUNKS = ("/assets/index-", "/assets/ar-")
"""The viewer's own bundles: the main one and AR mode's (loaded when AR starts)."""


def frames(page) -> int:
    return page.evaluate("nnviz3d.xr.frames")


# One round trip per wait: while the emulated headset renders, the page's main thread is busy
# with XR frames and each evaluate waits for one (~0.1-0.2 s under SwiftShader on two cores).
_WAIT_FRAMES = """async ([steps, timeout]) => {
  const deadline = performance.now() + timeout;
  const frames = (n) => new Promise((resolve, reject) => {
    const until = nnviz3d.xr.frames + n;
    const tick = () => {
      if (nnviz3d.xr.frames >= until) resolve();
      else if (performance.now() > deadline) reject(new Error(`XR frame ${until} not rendered`));
      else requestAnimationFrame(tick);
    };
    tick();
  });
  for (const [call, args, n] of steps) {
    if (call) nnviz3d.xrEmulator()[call](...args);
    await frames(n);
  }
}"""


def _run_frames(page, steps, timeout=20_000):
    """For each ``(call, args, n)`` of ``steps``: call the emulator's ``call`` (aim, press,
    stick; or nothing when None) with ``args``, then let the XR loop render ``n`` more frames;
    all in one evaluate."""
    page.evaluate(_WAIT_FRAMES, [steps, timeout])


def wait_frames(page, n=3):
    """Let the XR loop render ``n`` more frames (controller changes apply on the next one)."""
    _run_frames(page, [(None, [], n)])


def open_emulated(page, url, button: str):
    """Open the viewer at :data:`XR_VIEWPORT` with an emulated Quest 3, ready, with ``button``
    (``#btn-vr`` or ``#btn-ar``) in the toolbar."""
    page.set_viewport_size(XR_VIEWPORT)
    page.goto(url + f"?xr-emulate=quest3&xr-fps={XR_FPS}")
    wait_ready(page)
    page.wait_for_function(f"document.querySelector({button!r})")


def enter_vr(page, url) -> dict:
    """Open the viewer with an emulated Quest 3 and enter VR; returns the desktop camera."""
    open_emulated(page, url, "#btn-vr")
    xr = page.evaluate("nnviz3d.xr")
    assert xr["supported"] and xr["secure"] and xr["emulated"] and not xr["presenting"]
    assert page.inner_text("#btn-vr") == "Enter VR"
    page.wait_for_function("!nnviz3d.flying")  # a framing flight would go on after VR
    camera = page.evaluate("nnviz3d.camera()")
    page.click("#btn-vr")
    page.wait_for_function("nnviz3d.xr.presenting && nnviz3d.xr.frames > 2", timeout=20_000)
    return camera


def enter_ar(page, url) -> dict:
    """Open the viewer with an emulated Quest 3 and enter AR; returns the room's table plane."""
    open_emulated(page, url, "#btn-ar")
    xr = page.evaluate("nnviz3d.xr")
    assert xr["arSupported"] and xr["arMessage"] == "" and not xr["presenting"]
    assert page.inner_text("#btn-ar") == "Enter AR"
    page.click("#btn-ar")
    page.wait_for_function("nnviz3d.xr.presenting && nnviz3d.xr.frames > 2", timeout=30_000)
    tables = [p for p in page.evaluate("nnviz3d.xrEmulator().planes()") if p["label"] == "table"]
    assert len(tables) == 1, page.evaluate("nnviz3d.xrEmulator().planes()")
    return tables[0]


def aim(page, hand, frm, to):
    """Put the ``hand`` controller at ``frm`` pointing at ``to`` (reference-space metres)."""
    page.evaluate(f"nnviz3d.xrEmulator().aim({hand!r}, {list(frm)}, {list(to)})")


def press(page, hand, button):
    """Press and release a button, one frame each, as a person does."""
    _run_frames(page, [("press", [hand, button, 1], 2), ("press", [hand, button, 0], 2)])


def press_menu(page, item: str, offset=(0.25, 0.15, 0.25)):
    """Point the right controller at the wrist menu's ``item`` from ``offset`` away and pull
    the trigger (the menu rides on the left controller: aim that one first)."""
    at = page.evaluate(f"nnviz3d.xrMenuPoint({item!r})")
    frm = [at[k] + offset[k] for k in range(3)]
    # aim, let it apply (as wait_frames), then press as press() does
    _run_frames(
        page,
        [
            ("aim", ["right", frm, at], 3),
            ("press", ["right", "trigger", 1], 2),
            ("press", ["right", "trigger", 0], 2),
        ],
    )


def allocations_per_frame(page, n_frames=60, windows=2) -> dict:
    """Bytes allocated per XR frame, from V8's sampling heap profiler, by who allocated them:
    ``loop`` (the viewer's XR frame loop outside rendering), ``throttled`` (its work done every
    few frames or on change: labels, menu texts, the info panel), ``render`` (three.js drawing),
    ``emulator`` (iwer, absent on a real headset) and ``native``. The least of ``windows``
    windows of ``n_frames`` frames each: what every frame allocates shows in all of them, a
    one-off (V8 tiering a function up, a first hit-test result) only in one. One window of a
    loop that allocates 0-7 bytes a frame once read 37 under load."""
    runs = [_allocations_in_window(page, n_frames) for _ in range(windows)]
    return {k: min(r[k] for r in runs) for k in runs[0]}


def _allocations_in_window(page, n_frames) -> dict:
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")
    cdp.send("HeapProfiler.collectGarbage")
    f0 = frames(page)
    cdp.send("HeapProfiler.startSampling", {"samplingInterval": 128})
    page.wait_for_function(f"nnviz3d.xr.frames >= {f0 + n_frames}", timeout=60_000)
    profile = cdp.send("HeapProfiler.stopSampling")["profile"]
    n = frames(page) - f0
    cdp.detach()
    stacks = {}

    def walk(node, stack):
        stack = stack + [node["callFrame"]]
        stacks[node["id"]] = stack
        for child in node.get("children", []):
            walk(child, stack)

    walk(profile["head"], [])
    out = {
        "loop": 0.0,
        "throttled": 0.0,
        "render": 0.0,
        "emulator": 0.0,
        "native": 0.0,
        "other": 0.0,
    }
    for sample in profile["samples"]:
        stack = stacks[sample["nodeId"]]
        names = [c["functionName"] for c in stack]
        owner = next((c["url"] for c in reversed(stack) if c["url"]), "")
        if not owner:
            kind = "native"
        elif not any(chunk in owner for chunk in VIEWER_CHUNKS):
            kind = "emulator"
        elif any(name.endswith("render") for name in names):
            kind = "render"
        elif "frame" in names:  # XrMode.frame, the session's loop
            kind = "throttled" if THROTTLED & set(names) else "loop"
        else:
            kind = "other"
        out[kind] += sample["size"] / n
    out["frames"] = n
    return out
