"""The viewer's glTF button downloads the view it shows (step and colours) as a GLB that the
Khronos validator accepts, with the colours on screen, byte for byte what `nnviz3d export`
writes for the same view."""

import pytest

from nnviz3d.export import export_gltf
from nnviz3d.record import RunReader
from nnviz3d.replay import serve_replay
from tests.browser.conftest import wait_ready
from tests.export.conftest import digits_run, glb_json, validate  # noqa: F401 - fixture


def test_export_button_downloads_the_shown_step_as_valid_glb(page, tmp_path, digits_run):  # noqa: F811
    handle = serve_replay(RunReader(digits_run), port=0, open_browser=False, quiet=True)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.evaluate("nnviz3d.seek(4)")
        page.wait_for_function("nnviz3d.step === 4", timeout=20_000)
        page.evaluate("nnviz3d.setColorBy('grad_norm')")
        page.wait_for_function("nnviz3d.colorBy === 'grad_norm'")
        with page.expect_download(timeout=30_000) as info:
            page.click("#btn-gltf")
        download = info.value
        assert download.suggested_filename == "DigitsCNN.glb"
        path = tmp_path / "download.glb"
        download.save_as(path)
        (report,) = validate(path)
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0
        tree = glb_json(path.read_bytes())
        assert tree["scenes"][0]["extras"]["step"] == 4
        assert tree["scenes"][0]["extras"]["color_by"] == "grad_norm"
        # the colours are the viewer's own: each block's material is its colour on screen
        blocks = [n for n in tree["nodes"] if n.get("extras", {}).get("type") == "block"]
        on_screen = page.evaluate(
            "(mods) => mods.map((m) => nnviz3d.blockColor(m))",
            [n["extras"]["module"] for n in blocks],
        )
        for node, rgb in zip(blocks, on_screen):
            mesh = tree["meshes"][node["mesh"]]
            mat = tree["materials"][mesh["primitives"][0]["material"]]
            assert mat["pbrMetallicRoughness"]["baseColorFactor"][:3] == pytest.approx(
                rgb, abs=1e-6
            ), node["name"]
        assert len({tuple(c) for c in on_screen}) > 3
        same = export_gltf(digits_run, step=4, color_by="grad_norm").data
        assert path.read_bytes() == same
        assert page.errors == []
    finally:
        handle.close()
