"""Videos of a recorded run drawn by the viewer and encoded by PyAV (nnviz3d/render/drawing.py
write_video): they decode, with the frame count, duration and size asked for; the colours
follow the steps; an orbit turns the camera; a step of the run as a picture."""

import io

import av
import numpy as np
import pytest
from PIL import Image

from nnviz3d.render.browser import Browser, Size
from nnviz3d.render.drawing import draw_picture, write_video
from nnviz3d.render.source import open_source
from tests.test_tour import write_run


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = open_source(str(write_run(tmp_path_factory.mktemp("run") / "r.nnv3d")))
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser(browser_context, served):  # noqa: F811 - tests/render/conftest.py
    b = Browser(Size(640, 360), context=browser_context)
    b.open(served.url)
    yield b
    b.close()


@pytest.fixture(scope="module")
def mp4(browser, served, tmp_path_factory):
    out = tmp_path_factory.mktemp("video") / "run.mp4"
    frames, rendered = write_video(browser, served, out, fps=8, seconds=1)
    return out, frames, rendered


def decode(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        return s.codec_context.name, s.width, s.height, float(c.duration / 1e6), frames


def test_a_run_video_decodes_with_the_frames_duration_and_size_asked_for(served, mp4):
    out, frames, rendered = mp4
    assert served.steps == [0, 1, 2, 3, 4, 5]
    assert frames == 8 and rendered == 6  # six steps over eight frames: two held
    codec, w, h, seconds, pictures = decode(out)
    assert (codec, w, h) == ("h264", 640, 360)
    assert len(pictures) == 8 and seconds == pytest.approx(1.0, abs=0.05)
    assert [p.name for p in out.parent.iterdir()] == ["run.mp4"]  # no part file left


def test_the_frames_follow_the_steps_with_a_caption(mp4):
    pictures = decode(mp4[0])[4]
    first, last = (p.astype(int) for p in (pictures[0], pictures[-1]))
    top = (slice(0, 250), slice(0, 400))  # the model (the chart's marker moves too)
    assert np.abs(first[top] - last[top]).mean() > 1.0  # colours by gradient norm change
    band = first[310:350, 200:440]  # the caption: light text on a dark band, bottom centre
    assert (band.min(axis=-1) > 200).mean() > 0.02 and (band.max(axis=-1) < 40).mean() > 0.3


def test_an_orbit_webm_turns_the_camera(browser, served, tmp_path):
    out = tmp_path / "orbit.webm"
    frames, rendered = write_video(browser, served, out, fps=4, seconds=1, orbit=True)
    assert (frames, rendered) == (4, 4)  # every frame differs: the camera moves
    codec, w, h, seconds, pictures = decode(out)
    assert (codec, w, h, len(pictures)) == ("vp9", 640, 360, 4)
    assert seconds == pytest.approx(1.0, abs=0.05)
    a, b = pictures[0][:250].astype(int), pictures[2][:250].astype(int)
    assert np.abs(a - b).mean() > 5  # half a turn later the model looks otherwise


def test_a_step_of_the_run_as_a_picture_with_its_loss_chart(browser, served):
    png = draw_picture(browser, served, step=3)
    assert browser.page.evaluate("nnviz3d.step") == 3
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    rect = browser.page.evaluate("nnviz3d.chartView.rect")
    assert rect is not None  # the chart panel stays in render mode, drawn into the picture
    x0, y0, x1, y1 = (int(rect[k]) for k in ("left", "top", "right", "bottom"))
    chart = img[y0 + 4 : y1 - 4, x0 + 4 : x1 - 4]
    assert (chart.min(axis=-1) > 180).mean() > 0.002  # its light title and tick numbers
