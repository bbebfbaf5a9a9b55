"""Scene recipes: the shipped ones are valid, bad ones get one clear sentence, and the viewer
applies a recipe's settings and bookmarks."""

import importlib
from pathlib import Path

import pytest

from nnviz3d.recipe import RecipeError, load_recipe

SCENES = Path(__file__).resolve().parents[1] / "scenes"


@pytest.mark.parametrize("path", sorted(SCENES.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_recipes_are_valid_and_name_real_models(path):
    recipe = load_recipe(path)
    module, _, attr = recipe.model.rpartition(":")
    assert callable(getattr(importlib.import_module(module), attr))
    names = [b["name"] for b in recipe.bookmarks]
    assert names and all(len(b["position"]) == 3 for b in recipe.bookmarks)
    assert recipe.view.get("camera") in (None, *names)


def test_the_four_promised_recipes_are_shipped():
    assert {p.stem for p in SCENES.glob("*.toml")} >= {"digits_cnn", "gpt2", "vit", "llama_7b"}


@pytest.mark.parametrize(
    "text,message",
    [
        ('model = "nnviz3d.zoo:gpt2"\ncolour = "kind"\n', "unknown key 'colour'"),
        (
            'model = "nnviz3d.zoo:gpt2"\n[view]\nweights = "yes"\n',
            "view.weights must be true or false",
        ),
        (
            'model = "nnviz3d.zoo:gpt2"\n[view]\ncolor_by = "rainbow"\n',
            "view.color_by must be one of",
        ),
        ('title = "x"\n', "missing key 'model'"),
        ('model = "missing.safetensors"\n', "model file missing.safetensors not found"),
        ('model = "nope.py:build"\n', "is a SPEC, which runs the Python file it names"),
        ('model = "nnviz3d.zoo:gpt2"\ndepth = 1.5\n', "depth must be an integer"),
        (
            'model = "nnviz3d.zoo:gpt2"\n[[bookmarks]]\nname = "x"\nposition = [1, 2]\ntarget = [0, 0, 0]\n',
            "bookmarks[0].position must be 3 numbers",
        ),
        (
            'model = "nnviz3d.zoo:gpt2"\n[view]\ncamera = "nowhere"\n',
            "view.camera names no bookmark",
        ),
        ('model = "nnviz3d.zoo:gpt2"\nthis is not toml\n', "not valid TOML"),
    ],
)
def test_bad_recipes_get_one_clear_sentence(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_model_files_and_py_specs_resolve_relative_to_the_recipe(tmp_path):
    (tmp_path / "net.py").write_text("def build():\n    pass\n")
    (tmp_path / "w.safetensors").write_bytes(b"")
    (tmp_path / "a.toml").write_text('model = "net.py:build"\n')
    (tmp_path / "b.toml").write_text('model = "w.safetensors"\n')
    assert (
        load_recipe(tmp_path / "a.toml", trust=True).model
        == f"{tmp_path.resolve() / 'net.py'}:build"
    )
    assert load_recipe(tmp_path / "b.toml").model == str(tmp_path.resolve() / "w.safetensors")


def test_cli_view_refuses_a_bad_recipe_with_exit_1(tmp_path, capsys):
    from nnviz3d.cli import main

    path = tmp_path / "bad.toml"
    path.write_text('model = "nnviz3d.zoo:digits_cnn"\n[view]\ncolor_by = "rainbow"\n')
    assert main(["view", str(path), "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "view.color_by must be one of" in err and "Traceback" not in err


MARK = '[[bookmarks]]\nname = "top"\nposition = [0, 9, 0]\ntarget = [0, 0, 1]\ncaption = "From above"\n'


def test_tour_stops_resolve_bookmarks_and_explicit_viewpoints(tmp_path):
    path = tmp_path / "tour.toml"
    path.write_text(
        'model = "nnviz3d.zoo:gpt2"\n' + MARK + '[[tour]]\nbookmark = "top"\n'
        '[[tour]]\nposition = [1, 2, 3]\ntarget = [4, 5, 6]\ncaption = "Here"\n'
        'seconds = 2\n[[tour]]\nbookmark = "top"\ncaption = "Again"\nseconds = 0.5\n'
    )
    recipe = load_recipe(path)
    assert recipe.tour == [
        {
            "bookmark": "top",
            "position": [0.0, 9.0, 0.0],
            "target": [0.0, 0.0, 1.0],
            "caption": "From above",
            "seconds": 5.0,
        },
        {"position": [1.0, 2.0, 3.0], "target": [4.0, 5.0, 6.0], "caption": "Here", "seconds": 2.0},
        {
            "bookmark": "top",
            "position": [0.0, 9.0, 0.0],
            "target": [0.0, 0.0, 1.0],
            "caption": "Again",
            "seconds": 0.5,
        },
    ]
    assert recipe.client_view()["tour"] == recipe.tour


@pytest.mark.parametrize(
    "stop,message",
    [
        (
            'bookmark = "nowhere"\n',
            "tour[0].bookmark names no bookmark ('nowhere'; bookmarks: top)",
        ),
        ('caption = "x"\n', "tour[0] needs a viewpoint: bookmark = NAME, or position and target"),
        ("position = [1, 2, 3]\n", "tour[0].target is missing"),
        (
            'bookmark = "top"\nposition = [1, 2, 3]\n',
            "tour[0] gives both a bookmark and a position",
        ),
        ('bookmark = "top"\nseconds = 0\n', "tour[0].seconds must be more than 0"),
        ('bookmark = "top"\nseconds = "5"\n', "tour[0].seconds must be a number; got str '5'"),
        ('bookmark = "top"\nseconds = true\n', "tour[0].seconds must be a number"),
        ("position = [1, 2]\ntarget = [0, 0, 0]\n", "tour[0].position must be 3 numbers"),
        ('bookmark = "top"\nwait = 3\n', "unknown key 'tour[0].wait'"),
    ],
)
def test_bad_tour_stops_get_one_clear_sentence(tmp_path, stop, message):
    path = tmp_path / "bad.toml"
    path.write_text('model = "nnviz3d.zoo:gpt2"\n' + MARK + "[[tour]]\n" + stop)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_a_tour_that_is_not_a_list_of_tables_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('model = "nnviz3d.zoo:gpt2"\ntour = ["overview"]\n')
    with pytest.raises(RecipeError, match=r"tour\[0\] must be a table \(\[\[tour\]\]\)"):
        load_recipe(path)


@pytest.mark.parametrize("name", ["digits_cnn", "gpt2"])
def test_shipped_tours_have_captions_and_stay_in_the_scene(name):
    from nnviz3d.layout import layout_graph
    from tests.conftest import zoo_graph

    recipe = load_recipe(SCENES / f"{name}.toml")
    assert len(recipe.tour) >= 3
    lo, hi = layout_graph(
        zoo_graph("digits_cnn" if name == "digits_cnn" else "gpt2"), recipe.depth
    ).bounds()
    for stop in recipe.tour:
        assert stop["caption"] and stop["seconds"] > 0
        # every stop looks at a point inside the model's bounds (not at empty space)
        assert all(lo[k] - 0.5 <= stop["target"][k] <= hi[k] + 0.5 for k in range(3)), stop
