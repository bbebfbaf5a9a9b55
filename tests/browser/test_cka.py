"""The layer-similarity panel in a real browser, on a replay of a real run (the digits CNN on
scikit-learn's digits, PCA embeddings so it is quick): the matrix of the probed layers at each
step sought, hover naming both layers and the value, a click selecting the pair's blocks, the
3D map of the layers, the model framed beside the panel; recorded CKA frames with wrong sizes
or NaN are refused without breaking the viewer."""

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from nnviz3d.protocol.cka_frame import CKA_KEY, check_cka
from nnviz3d.protocol.codec import encode_frame
from nnviz3d.record import RunReader
from nnviz3d.record.run_file import EMBEDDING
from nnviz3d.replay import serve_replay
from tests.browser.conftest import wait_ready
from tests.browser.recorded import PCA_RUN_STEPS

STEPS = PCA_RUN_STEPS


@pytest.fixture
def recording(pca_recording):
    """The shared recorded run (tests/browser/recorded.py), CKA every 5 steps and at the end."""
    return pca_recording


def cka_steps(path) -> list[int]:
    with RunReader(path) as reader:
        return sorted({s for _, s, layer in reader.embedding_index() if layer == CKA_KEY})


@pytest.fixture
def replay(recording):
    handle = serve_replay(RunReader(recording), open_browser=False, quiet=True, port=0)
    yield handle
    handle.close()


def test_panel_follows_the_timeline_hover_and_pair(page, replay, recording, tmp_path):
    steps = cka_steps(recording)
    assert steps[0] == 0 and steps[-1] == STEPS - 1
    page.goto(replay.url)
    wait_ready(page)
    page.wait_for_function("nnviz3d.cka.shown", timeout=30_000)
    cka = page.evaluate("nnviz3d.cka")
    assert cka["step"] == STEPS - 1 and not cka["cross"] and cka["refused"] is None
    assert cka["layers"][:3] == ["stem.0", "stem.1", "stem.2"] and len(cka["layers"]) == 14
    assert cka["mapPoints"] == 14
    assert page.evaluate("nnviz3d.ckaValue(3, 3)") == pytest.approx(1.0, abs=1e-5)
    # the panel covers no block: the model is framed beside it
    rect = cka["rect"]
    page.wait_for_function("!nnviz3d.flying")
    for layer in cka["layers"]:
        b = page.evaluate(f"nnviz3d.rectOf({layer!r})")
        assert b["x"] >= rect["right"] or b["y"] >= rect["bottom"], (layer, b, rect)
    # hover a cell: both names and the value
    box = page.locator("#cka canvas.matrix").bounding_box()
    n = len(cka["layers"])
    page.mouse.move(box["x"] + (9.5 / n) * box["width"], box["y"] + (3.5 / n) * box["height"])
    page.wait_for_function("nnviz3d.cka.hover !== null")
    hover = page.evaluate("nnviz3d.cka.hover")
    assert hover["a"] == cka["layers"][3] and hover["b"] == cka["layers"][9]
    assert hover["value"] == pytest.approx(page.evaluate("nnviz3d.ckaValue(3, 9)"))
    text = page.inner_text("#cka p.hover")
    assert cka["layers"][3] in text and cka["layers"][9] in text and f"{hover['value']:.3f}" in text
    # a click selects the pair: the row's block is selected, both are boxed
    page.mouse.click(box["x"] + (9.5 / n) * box["width"], box["y"] + (3.5 / n) * box["height"])
    page.wait_for_function("nnviz3d.cka.pair !== null")
    assert page.evaluate("nnviz3d.cka.pair") == [cka["layers"][3], cka["layers"][9]]
    assert page.evaluate("nnviz3d.selected") == "/model/block/conv1"
    # the health panel shares the corner: while it shows, the CKA panel stands below it
    page.evaluate(
        "(() => { const h = document.getElementById('health'); h.textContent = 'alarm '.repeat(40);"
        " h.hidden = false; })()"
    )
    page.wait_for_function(
        "nnviz3d.cka.rect.top >= document.getElementById('health').getBoundingClientRect().bottom"
    )
    page.evaluate("document.getElementById('health').hidden = true")
    page.wait_for_function(f"nnviz3d.cka.rect.top === {rect['top']}")
    # seeking shows the matrix at or before the step sought
    page.evaluate("nnviz3d.seek(7)")
    page.wait_for_function(f"nnviz3d.cka.step === {max(s for s in steps if s <= 7)}")
    assert page.errors == []


def test_screenshots_of_the_default_view(page, replay, tmp_path):
    """At 1280x800 and 1920x1080 (NNVIZ3D_SHOTS=DIR keeps them, to look at)."""
    page.goto(replay.url)
    wait_ready(page)
    page.wait_for_function("nnviz3d.cka.shown", timeout=30_000)
    for w, h in ((1280, 800), (1920, 1080)):
        page.set_viewport_size({"width": w, "height": h})
        page.wait_for_timeout(300)
        page.wait_for_function("!nnviz3d.flying")
        page.evaluate("nnviz3d.render()")
        shot = Path(os.environ.get("NNVIZ3D_SHOTS", tmp_path)) / f"cka-{w}x{h}.png"
        page.screenshot(path=str(shot))
        cka = page.evaluate("nnviz3d.cka")
        assert cka["shown"] and cka["mapPoints"] == 14 and cka["mapLabels"] >= 5
    page.set_viewport_size({"width": 1280, "height": 800})


def hostile_copy(recording, tmp_path, frames: list[tuple[int, bytes]]):
    path = tmp_path / "hostile.nnv3d"
    shutil.copy(recording, path)
    db = sqlite3.connect(path)
    for step, data in frames:
        db.execute(
            "INSERT INTO frames(step, kinds, split, scalars, data) VALUES (?, ?, ?, ?, ?)",
            (step, EMBEDDING, "train", json.dumps({}), data),
        )
    db.commit()
    db.close()
    return path


def bad_frame(step: int, matrix: np.ndarray, layers: list[str]) -> bytes:
    header = {
        "type": "overlays",
        "channel": "cka",
        "step": step,
        "layer": CKA_KEY,
        "method": "cka",
        "layers": layers,
        "undefined": [],
        "cross": False,
    }
    return encode_frame(header, {"matrix": matrix.astype(np.float32)})


def test_refuses_recorded_frames_with_wrong_sizes_or_nan(page, recording, tmp_path):
    nan = np.eye(3)
    nan[0, 1] = np.nan
    wrong = bad_frame(50, np.eye(5), ["a", "b", "c"])  # 5 x 5 for 3 names
    with_nan = bad_frame(12, nan, ["a", "b", "c"])
    for data in (wrong, with_nan):
        with pytest.raises(ValueError):
            check_cka(data)
    path = hostile_copy(recording, tmp_path, [(12, with_nan), (50, wrong)])
    handle = serve_replay(RunReader(path), open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.cka.refusedCount >= 1", timeout=30_000)
        cka = page.evaluate("nnviz3d.cka")
        assert "matrix is 5 x 5, not 3 x 3" in cka["refused"] and not cka["shown"]
        page.evaluate("nnviz3d.seek(13)")  # the NaN one (newer than the run's at step 10)
        page.wait_for_function("nnviz3d.cka.refusedCount >= 2", timeout=30_000)
        assert "NaN" in page.evaluate("nnviz3d.cka.refused")
        page.evaluate(f"nnviz3d.seek({STEPS - 1})")  # a good one still shows
        page.wait_for_function(f"nnviz3d.cka.step === {STEPS - 1} && nnviz3d.cka.shown")
        assert page.evaluate("nnviz3d.cka.refused") is None
        assert page.evaluate("nnviz3d.ready") and page.errors == []
    finally:
        handle.close()


def test_compare_of_two_runs_shows_the_cross_matrix(page, recording, tmp_path):
    """The run against itself: the cross matrix (A's layers x B's) is the run's own final
    matrix, diagonal 1; no 3D map for a cross matrix."""
    from nnviz3d.compare import serve_compare

    b = tmp_path / "b.nnv3d"
    shutil.copy(recording, b)
    handle = serve_compare(str(recording), str(b), open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.cka.shown && nnviz3d.cka.cross", timeout=30_000)
        cka = page.evaluate("nnviz3d.cka")
        assert cka["layers"] == cka["columns"] and len(cka["layers"]) == 14
        assert cka["mapPoints"] == 0 and f"step {STEPS - 1}" in cka["note"]
        assert page.evaluate("nnviz3d.ckaValue(5, 5)") == pytest.approx(1.0, abs=2e-3)
        assert page.evaluate("nnviz3d.ckaPick(2, 9)")
        assert page.evaluate("nnviz3d.selected") == "/model/stem/2"
        assert page.errors == []
    finally:
        handle.close()
