"""Headless Chromium on a served scene: the viewer in render mode (``?render=1``, web/src/
renderMode.ts) at the picture's size, driven through ``window.nnviz3d`` by Playwright.

Which Chromium: ``--chromium PATH``, else ``NNVIZ3D_CHROMIUM``, else one on the PATH
(chromium, chromium-browser, google-chrome), else the one ``playwright install chromium``
downloaded. WebGL is SwiftShader's software renderer where there is no GPU, so one frame at
3840x2160 takes a while: the page renders on demand, never in a loop.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..extras import require

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--hide-scrollbars",
]
"""Chromium's flags: headless, no network of its own, WebGL through SwiftShader."""

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

READY_MS = 180_000
"""How long the viewer may take to receive and build the scene (a 70B model's: minutes)."""

STEP_MS = 60_000
"""How long a seek may take to show its step."""


class RenderError(RuntimeError):
    """The render could not be made (no Chromium, the viewer failed); one sentence."""


@dataclass(frozen=True)
class Size:
    """A picture's size in pixels, and the page it is rendered from: pictures wider than
    2560 px are rendered at device scale 2 from a page of half the size, so labels and panels
    are as big on the picture as on a 1920x1080 screen."""

    width: int
    height: int

    @property
    def scale(self) -> int:
        return 2 if self.width > 2560 and self.width % 2 == 0 and self.height % 2 == 0 else 1

    @property
    def viewport(self) -> dict:
        return {"width": self.width // self.scale, "height": self.height // self.scale}

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def find_chromium(path: str | None = None) -> str:
    """The Chromium to run; RenderError with how to get one when there is none."""
    given = path or os.environ.get("NNVIZ3D_CHROMIUM")
    if given:
        if not (Path(given).is_file() and os.access(given, os.X_OK)):
            raise RenderError(f"no Chromium at {given}: give the path of a chromium executable")
        return given
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    bundled = _playwright_chromium()
    if bundled:
        return bundled
    raise RenderError(
        "nnviz3d render needs Chromium and found none: install it (apt install chromium, or "
        "python -m playwright install chromium), or give --chromium PATH or set NNVIZ3D_CHROMIUM"
    )


def _playwright_chromium() -> str | None:
    """The Chromium ``playwright install`` put in its cache, if any (no browser is started)."""
    root = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache/ms-playwright")
    for exe in sorted(root.glob("chromium-*/chrome-linux*/chrome"), reverse=True):
        if os.access(exe, os.X_OK):
            return str(exe)
    return None


class Browser:
    """One headless Chromium with a fresh profile and one page at ``size``; ``close()`` ends
    it and removes the profile (also on leaving a ``with`` block). Given a Playwright
    ``context`` already running (a test session's), it opens a page there instead and
    ``close()`` closes only that page."""

    def __init__(self, size: Size, chromium: str | None = None, *, context=None) -> None:
        self.size = size
        self.errors: list[str] = []
        self._cdp = None
        self._playwright = self.profile = None
        if context is not None:
            self.context = context
            self.page = context.new_page()
            self.resize(size)
        else:
            self._launch(size, chromium)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _launch(self, size: Size, chromium: str | None) -> None:
        sync_api = require("render", "playwright.sync_api", "nnviz3d render needs")
        executable = find_chromium(chromium)
        self.profile = tempfile.mkdtemp(prefix="nnviz3d-render-")
        self._playwright = sync_api.sync_playwright().start()
        try:
            self.context = self._playwright.chromium.launch_persistent_context(
                self.profile,
                executable_path=executable,
                headless=True,
                args=ARGS,
                viewport=size.viewport,
                device_scale_factor=size.scale,
                # waits are functions run in the page: the server's CSP forbids eval
                bypass_csp=True,
            )
        except Exception as exc:
            self._stop()
            raise RenderError(
                f"Chromium ({executable}) did not start: {_first_line(exc)}"
            ) from None
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def resize(self, size: Size) -> None:
        """Draw at another size from now on (the page keeps its scene; the next ``open``
        frames it anew)."""
        if self._cdp is None:  # its overrides hold while it is attached
            self._cdp = self.context.new_cdp_session(self.page)
        self._cdp.send(
            "Emulation.setDeviceMetricsOverride",
            {**size.viewport, "deviceScaleFactor": size.scale, "mobile": False},
        )
        self.size = size

    def open(self, url: str, *, background: str = "default", chart: bool = True) -> None:
        """Open the viewer at ``url`` in render mode and wait until it shows the scene.
        ``background``: "default", "transparent" or a colour "#rrggbb"; ``chart``: keep the
        loss chart panel (drawn into the captures that ask for it)."""
        background = background.lstrip("#")  # (a "#" would start the URL's fragment)
        query = "render=1" + ("" if background == "default" else f"&background={background}")
        query += "" if chart else "&chart=0"
        self.page.goto(url + ("&" if "?" in url else "?") + query)
        try:
            self.page.wait_for_function(
                "() => window.nnviz3d && (window.nnviz3d.ready || window.nnviz3d.error)",
                timeout=READY_MS,
            )
        except Exception as exc:
            raise RenderError(f"the viewer did not show the scene: {_first_line(exc)}") from None
        error = self.page.evaluate("nnviz3d.error")
        if error:
            raise RenderError(f"the viewer failed: {error}")
        self.wait_still()

    def wait_still(self) -> None:
        """Wait until the camera stops flying (a default framing, a bookmark) and every label
        is laid out."""
        self.page.wait_for_function("() => nnviz3d.settled()", timeout=STEP_MS, polling=100)

    def seek(self, step: int) -> None:
        """Show recorded ``step`` and wait until its probe data is applied."""
        self.page.evaluate("(s) => nnviz3d.seek(s)", step)
        try:
            self.page.wait_for_function("(s) => nnviz3d.step === s", arg=step, timeout=STEP_MS)
        except Exception as exc:
            raise RenderError(f"the viewer did not show step {step}: {_first_line(exc)}") from None

    def frame(self, step=None, camera=None, *, caption: str = "", chart: bool = False) -> bytes:
        """One video frame as JPEG bytes, in one call into the page: show recorded ``step``
        (None: as it is), put the camera at ``(position, target)`` (None: where it is), wait
        until the labels are laid out, draw and capture with ``caption`` (and the chart)."""
        opts = {"caption": caption, "chart": chart, "type": "image/jpeg", "quality": 0.92}
        try:
            url = self.page.evaluate(FRAME_JS, [step, camera, opts, STEP_MS])
        except Exception as exc:
            raise RenderError(f"the viewer did not draw the frame: {_first_line(exc)}") from None
        return _decoded(url)

    def capture(self, *, caption: str = "", chart: bool = False, jpeg: bool = False) -> bytes:
        """Render now and return the canvas as PNG (or JPEG) bytes at the full size."""
        opts = {"caption": caption, "chart": chart}
        if jpeg:
            opts.update(type="image/jpeg", quality=0.92)
        return _decoded(self.page.evaluate("(o) => nnviz3d.capture(o)", opts))

    def close(self) -> None:
        if self._playwright is None:  # a page in someone else's browser
            self.page.close()
            return
        try:
            self.context.close()
        finally:
            self._stop()

    def _stop(self) -> None:
        try:
            self._playwright.stop()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


FRAME_JS = """async ([step, camera, opts, limit]) => {
  const until = (ok, what) => new Promise((done, fail) => {
    const t0 = performance.now();
    const poll = () => ok() ? done() : performance.now() - t0 > limit
      ? fail(new Error(`timed out waiting for ${what}`)) : setTimeout(poll, 10);
    poll();
  });
  if (step !== null && nnviz3d.step !== step) {
    nnviz3d.seek(step);
    await until(() => nnviz3d.step === step, `step ${step}`);
  }
  if (camera !== null) {
    const [p, t] = camera;
    nnviz3d.lookAt(t, [p[0] - t[0], p[1] - t[1], p[2] - t[2]]);
  }
  await until(() => nnviz3d.settled(), "the labels");
  return nnviz3d.capture(opts);
}"""
"""A video frame in the page: seek, place the camera, wait for the labels, capture."""


def _decoded(url: str) -> bytes:
    head, _, data = url.partition(",")
    if not head.endswith(";base64") or not data:
        raise RenderError("the viewer returned no picture (is the canvas empty?)")
    return base64.b64decode(data)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
