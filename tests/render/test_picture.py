"""Pictures drawn by the viewer in headless Chromium (nnviz3d/render/drawing.py): the size
asked for, a transparent or solid background, the model's blocks where the viewer projects
them and in their own colours."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnviz3d.render.browser import Browser, Size
from nnviz3d.render.drawing import draw_picture
from nnviz3d.render.source import open_source

RECIPE = Path(__file__).parents[2] / "scenes" / "digits_cnn.toml"


@pytest.fixture(scope="module")
def served():
    s = open_source(str(RECIPE))
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser(browser_context):  # noqa: F811 - tests/render/conftest.py
    b = Browser(Size(640, 360), context=browser_context)
    yield b
    b.close()


@pytest.fixture(scope="module")
def transparent(browser, served):
    """The recipe's default view at 640x360 on a transparent background, and where the viewer
    puts each block (centre, CSS px) and its colour (linear RGB)."""
    browser.resize(Size(640, 360))
    browser.open(served.url, background="transparent")
    png = draw_picture(browser, served)
    blocks = browser.page.evaluate(
        "nnviz3d.paths().map((p) => [p, nnviz3d.project(p), nnviz3d.blockColor(p)])"
    )
    return png, blocks


def pixels(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def srgb(linear) -> np.ndarray:
    c = np.asarray(linear, dtype=float)
    return 255 * np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def test_transparent_picture_has_the_size_and_shows_the_model_on_nothing(transparent):
    img = pixels(transparent[0])
    assert img.shape == (360, 640, 4)
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        assert img[y, x, 3] == 0, img[y, x]
    opaque = img[..., 3] == 255
    assert 0.05 < opaque.mean() < 0.8, opaque.mean()  # the model, not a blank or full frame
    assert len(np.unique(img[opaque][:, :3], axis=0)) > 200  # shaded blocks, labels, edges


def test_pictures_keep_full_quality_even_in_software(browser, transparent):
    """The interactive viewer skips multisampling and halves the glyph fields on a software
    rasteriser (SwiftShader here); render mode's pictures and videos keep both."""
    assert browser.page.evaluate("nnviz3d.antialias") is True
    assert browser.page.evaluate("nnviz3d.glyphSize") == 64


def test_blocks_are_drawn_in_their_colours_where_the_viewer_projects_them(transparent):
    png, blocks = transparent
    img = pixels(png)
    palette = {tuple(np.round(srgb(c)).astype(int)) for _, _, c in blocks}
    assert len(palette) >= 5
    hits, seen = [], 0
    for path, at, color in blocks:
        x, y = int(at["x"]), int(at["y"])
        if not (0 <= x < 640 and 0 <= y < 360):
            continue
        seen += 1
        patch = img[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2]
        assert (patch[..., 3] == 255).all(), f"{path}: nothing drawn at its centre ({x}, {y})"
        hits.append(nearest(palette, patch) == tuple(np.round(srgb(color)).astype(int)))
    # a block may hide behind another or under a label: most are seen in their own colour
    assert seen >= 12 and sum(hits) >= 0.6 * seen, (sum(hits), seen)


def test_a_block_seen_from_its_side_has_its_colour_at_its_centre(browser, served, transparent):
    path = "/model/block/conv1"
    box = next(b for b in browser.page.evaluate("nnviz3d.blockBoxes") if b["path"] == path)
    centre = [(a + b) / 2 for a, b in zip(box["min"], box["max"])]
    browser.page.evaluate("([c]) => nnviz3d.lookAt(c, [-6, 1.5, -1])", [centre])
    img = pixels(draw_picture(browser, served))
    at = browser.page.evaluate("(p) => nnviz3d.project(p)", path)
    x, y = int(at["x"]), int(at["y"])
    assert abs(x - 320) <= 2 and abs(y - 180) <= 2  # the camera looks at it
    color = tuple(np.round(srgb(browser.page.evaluate("(p) => nnviz3d.blockColor(p)", path))))
    palette = {
        tuple(np.round(srgb(c)))
        for c in browser.page.evaluate("Object.values(nnviz3d.blockColors)")
    }
    patch = img[y - 3 : y + 4, x - 3 : x + 4]
    assert (patch[..., 3] == 255).all()
    assert nearest(palette, patch) == color
    drawn = np.median(patch[..., :3].reshape(-1, 3), axis=0)
    assert unit(drawn) @ unit(color) > 0.99, (drawn, color)  # shaded, same hue


def unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / max(1e-9, float(np.linalg.norm(v)))


def nearest(palette, patch) -> tuple:
    """The palette colour whose direction in RGB is closest to the patch's median: shading
    darkens a face, its hue stays."""
    drawn = unit(np.median(patch[..., :3].reshape(-1, 3), axis=0))
    return max(palette, key=lambda p: unit(p) @ drawn)


def test_a_bookmark_puts_the_camera_where_the_recipe_says(browser, served, transparent):
    draw_picture(browser, served, camera="residual block")
    cam = browser.page.evaluate("nnviz3d.camera()")
    mark = served.bookmarks["residual block"]
    assert np.allclose(cam["position"], mark["position"], atol=1e-3)
    assert np.allclose(cam["target"], mark["target"], atol=1e-3)


def test_a_solid_background_at_device_scale_two(browser, served):
    """Pictures wider than 2560 px come from a half-size page at device scale 2: the whole
    canvas, the background colour everywhere the model is not."""
    size = Size(2600, 400)
    assert size.scale == 2 and size.viewport == {"width": 1300, "height": 200}
    browser.resize(size)
    browser.open(served.url, background="#ffffff")
    img = pixels(draw_picture(browser, served))
    assert img.shape == (400, 2600, 4)
    assert (img[0, 0] == [255, 255, 255, 255]).all() and (img[-1, -1] == 255).all()
    assert (img[..., 3] == 255).all()
    assert (img[..., :3] < 200).any(axis=-1).mean() > 0.02  # blocks, not just a white frame


def test_a_recipe_tour_becomes_a_guided_video(browser, served, tmp_path):
    import av

    from nnviz3d.render.drawing import write_video

    browser.resize(Size(320, 180))
    browser.open(served.url)
    out = tmp_path / "tour.mp4"
    frames, rendered = write_video(browser, served, out, fps=2, seconds=7)
    assert frames == 14 and rendered < frames  # the stops' holds are drawn once each
    with av.open(str(out)) as c:
        pictures = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(pictures) == 14 and pictures[0].shape == (180, 320, 3)
    cam = browser.page.evaluate("nnviz3d.camera()")  # the last stop's viewpoint
    assert np.allclose(cam["position"], served.tour[-1]["position"], atol=1e-3)
