"""A scene recipe in a real browser: settings applied, bookmarks fly the camera, and the view
saved as a recipe loads back."""

from pathlib import Path

import pytest

from nnviz3d.recipe import load_recipe
from nnviz3d.viewer import view
from tests.browser.conftest import wait_ready
from tests.conftest import zoo_graph

SCENES = Path(__file__).resolve().parents[2] / "scenes"


def test_recipe_settings_bookmarks_and_save_view(page, tmp_path):
    recipe = load_recipe(SCENES / "digits_cnn.toml")
    handle = view(
        graph=zoo_graph("digits_cnn"), recipe=recipe, open_browser=False, quiet=True, port=0
    )
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.recipe !== null")
        assert page.evaluate("document.title") == "nnviz3d · Digits CNN"
        assert page.evaluate("nnviz3d.colorBy") == "kind"
        options = page.locator("#bookmarks option").all_inner_texts()
        assert options[1:] == ["overview", "residual block"]
        # the recipe's camera bookmark is where the view starts
        cam = page.evaluate("nnviz3d.camera()")
        assert cam["target"] == pytest.approx([0.0, 0.9, 9.0], abs=1e-6)
        page.select_option("#bookmarks", "residual block")
        page.wait_for_function(  # until the flight has landed, not while it passes by
            "nnviz3d.camera().target.every((v, i) => Math.abs(v - [0, 0.6, 6.9][i]) < 1e-6)",
            timeout=10_000,
        )
        # Save view writes a recipe that loads back and keeps the camera
        text = page.evaluate("nnviz3d.recipeText()")
        saved = tmp_path / "saved.toml"
        saved.write_text(text)
        back = load_recipe(saved)
        assert back.model == recipe.model and back.view["camera"] == "saved"
        mark = next(b for b in back.bookmarks if b["name"] == "saved")
        assert mark["target"] == pytest.approx([0.0, 0.6, 6.9], abs=1e-3)
        assert {b["name"] for b in back.bookmarks} == {"saved", "overview", "residual block"}
        # a jump in the middle of a flight ends the flight: the camera stays where it jumped
        # (a recipe arriving while the default framing flew was overwritten by that flight)
        page.evaluate("nnviz3d.goToBookmark('overview'); nnviz3d.lookAt([1, 2, 3], [0, 0, 5])")
        assert page.evaluate("nnviz3d.flying") is False
        page.wait_for_timeout(700)  # longer than a flight (600 ms)
        assert page.evaluate("nnviz3d.camera()")["target"] == pytest.approx([1, 2, 3], abs=1e-6)
        assert page.errors == []
    finally:
        handle.close()
