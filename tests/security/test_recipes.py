"""Hostile scene recipes: a recipe from a stranger never runs code or reads files outside its
folder unless its reader says they trust it (``--trust-recipe``)."""

from __future__ import annotations

import os

import pytest

from nnviz3d.cli import main
from nnviz3d.recipe import RecipeError, load_recipe

PAYLOAD = "import pathlib\npathlib.Path({marker!r}).write_text('ran')\ndef build():\n    pass\n"


def plant(tmp_path):
    """A folder with a recipe, the payload module next to it, and a marker that must stay
    absent: the payload writes it when imported."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    marker = tmp_path / "PWNED"
    (folder / "evil.py").write_text(PAYLOAD.format(marker=str(marker)))
    (folder / "evil_pkg_mod.py").write_text(PAYLOAD.format(marker=str(marker)))
    return folder, marker


@pytest.mark.parametrize(
    "model, words",
    [
        ("evil.py:build", "runs the Python file it names"),
        ("./evil.py:build", "runs the Python file it names"),
        ("sub/../evil.py:build", "runs the Python file it names"),
        ("evil_pkg_mod:build", "imports and runs the module it names"),
        ("os:system", "imports and runs the module it names"),
        ("nnviz3d.zoo:torch", "imports and runs the module it names"),  # not a zoo model
        ("nnviz3d.zoo:_tokens", "imports and runs the module it names"),  # private helper
        ("nnviz3d.zoo:DigitsCNN", "imports and runs the module it names"),  # a class, not a builder
        ("nnviz3d.cli:main", "imports and runs the module it names"),
    ],
)
def test_a_recipe_naming_code_is_refused_without_trust(tmp_path, model, words, capsys):
    folder, marker = plant(tmp_path)
    recipe = folder / "scene.toml"
    recipe.write_text(f"model = {model!r}\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe)
    message = str(err.value)
    assert words in message and "--trust-recipe" in message and str(recipe) in message
    assert "\n" not in message
    # the command line refuses it too, before anything is imported, without a traceback
    cwd = os.getcwd()
    os.chdir(folder)  # a module beside the recipe would be importable from here
    try:
        assert main(["view", str(recipe), "--no-browser"]) == 1
        assert main(["export", str(recipe), "-o", str(tmp_path / "x.glb")]) == 1
    finally:
        os.chdir(cwd)
    err_text = capsys.readouterr().err
    assert "--trust-recipe" in err_text and "Traceback" not in err_text
    assert not marker.exists()
    assert not (tmp_path / "x.glb").exists()


@pytest.mark.parametrize(
    "model",
    ["../secret.safetensors", "/etc/passwd", "link.safetensors", "sub/../../secret.safetensors"],
)
def test_recipe_paths_stay_inside_the_recipes_folder(tmp_path, model):
    folder = tmp_path / "recipes"
    folder.mkdir()
    (tmp_path / "secret.safetensors").write_bytes(b"x")
    (folder / "link.safetensors").symlink_to(tmp_path / "secret.safetensors")
    recipe = folder / "scene.toml"
    recipe.write_text(f"model = {model!r}\n")
    with pytest.raises(RecipeError, match="outside the recipe's folder") as err:
        load_recipe(recipe)
    assert "--trust-recipe" in str(err.value)
    # trusted, the path is the user's own business
    if model != "/etc/passwd":
        assert load_recipe(recipe, trust=True).model == str(tmp_path / "secret.safetensors")


def test_trusted_recipes_and_safe_models_load(tmp_path):
    folder, marker = plant(tmp_path)
    (folder / "w.safetensors").write_bytes(b"")
    (folder / "a.toml").write_text('model = "nnviz3d.zoo:digits_cnn"\n')
    (folder / "b.toml").write_text('model = "w.safetensors"\n')
    (folder / "c.toml").write_text('model = "evil.py:build"\n')
    assert load_recipe(folder / "a.toml").model == "nnviz3d.zoo:digits_cnn"
    assert load_recipe(folder / "b.toml").model == str((folder / "w.safetensors").resolve())
    assert load_recipe(folder / "c.toml", trust=True).model == f"{folder / 'evil.py'}:build"
    assert not marker.exists()  # loading a recipe never imports; building the model would
