"""Scene recipes: a small TOML file saying which model to show and how.

Reference (every key optional except ``model``)::

    title = "Digits CNN"                   # shown in the page title
    model = "nnviz3d.zoo:digits_cnn"       # a SPEC (package.module:callable, file.py:callable)
                                           # or a model file, relative to the recipe
    depth = 2                              # collapse groups below this depth

    [view]
    color_by = "kind"                      # kind, weight_norm, grad_norm, update_ratio,
                                           # act_mean, act_std, act_zero
    weights = true                         # weight maps and bias bars (with training data)
    flow = false                           # gradient-flow particles
    camera = "overview"                    # a bookmark to start at

    [[bookmarks]]                          # named viewpoints, offered in the viewer
    name = "overview"
    position = [8.0, 6.0, -8.0]            # camera position, scene units
    target = [0.0, 0.5, 4.0]               # the point it looks at
    caption = "The whole network"          # optional

``nnviz3d view RECIPE.toml`` opens it; the viewer's *Save view* button writes one. A bad recipe
gets one sentence naming the file, the key and what was wrong.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

COLOR_BY = ("kind", "weight_norm", "grad_norm", "update_ratio", "act_mean", "act_std",
            "act_zero")
TOP = {"title": str, "model": str, "depth": int, "view": dict, "bookmarks": list}
VIEW = {"color_by": str, "weights": bool, "flow": bool, "camera": str}
BOOKMARK = {"name": str, "position": list, "target": list, "caption": str}


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


@dataclass
class Recipe:
    path: Path
    model: str
    """SPEC or absolute path of the model file."""
    title: str = ""
    depth: int | None = None
    view: dict = field(default_factory=dict)
    bookmarks: list[dict] = field(default_factory=list)

    def client_view(self) -> dict:
        """What the viewer applies: the view settings and bookmarks."""
        return {"title": self.title, "model": self.model, **self.view,
                "bookmarks": self.bookmarks}


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: not valid TOML ({exc})") from None
    _check(path, "", data, TOP)
    if "model" not in data:
        raise RecipeError(f"{path}: missing key 'model' (a SPEC like "
                          f"'package.module:callable' or a model file)")
    view = data.get("view", {})
    _check(path, "view.", view, VIEW)
    if "color_by" in view and view["color_by"] not in COLOR_BY:
        raise RecipeError(f"{path}: view.color_by must be one of {', '.join(COLOR_BY)}; got "
                          f"{view['color_by']!r}")
    bookmarks = data.get("bookmarks", [])
    for i, b in enumerate(bookmarks):
        where = f"bookmarks[{i}]."
        if not isinstance(b, dict):
            raise RecipeError(f"{path}: bookmarks[{i}] must be a table ([[bookmarks]])")
        _check(path, where, b, BOOKMARK)
        for key in ("name", "position", "target"):
            if key not in b:
                raise RecipeError(f"{path}: {where}{key} is missing")
        for key in ("position", "target"):
            v = b[key]
            if len(v) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                      for x in v):
                raise RecipeError(f"{path}: {where}{key} must be 3 numbers [x, y, z]; got {v!r}")
            b[key] = [float(x) for x in v]
    names = [b["name"] for b in bookmarks]
    if "camera" in view and view["camera"] not in names:
        raise RecipeError(f"{path}: view.camera names no bookmark ({view['camera']!r}; "
                          f"bookmarks: {', '.join(names) or 'none'})")
    depth = data.get("depth")
    if depth is not None and depth < 0:
        raise RecipeError(f"{path}: depth must be 0 or more; got {depth}")
    return Recipe(path=path, model=_resolve_model(path, data["model"]),
                  title=data.get("title", ""), depth=depth, view=view, bookmarks=bookmarks)


def _check(path: Path, where: str, table: dict, schema: dict) -> None:
    for key, value in table.items():
        if key not in schema:
            raise RecipeError(f"{path}: unknown key '{where}{key}'; known: "
                              f"{', '.join(where + k for k in schema)}")
        want = schema[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise RecipeError(f"{path}: {where}{key} must be {_names[want]}; got "
                              f"{type(value).__name__} {value!r}")


_names = {str: "a string", int: "an integer", bool: "true or false", dict: "a table",
          list: "an array"}


def _resolve_model(path: Path, model: str) -> str:
    """A model file or ``file.py:callable`` relative to the recipe becomes absolute."""
    target, sep, attr = model.rpartition(":")
    if sep and target.endswith(".py"):
        file = (path.parent / target).resolve()
        if not file.is_file():
            raise RecipeError(f"{path}: model file {target} not found (relative to the recipe)")
        return f"{file}:{attr}"
    candidate = path.parent / model
    if not sep:
        if candidate.is_file():
            return str(candidate.resolve())
        if "/" in model or "." in Path(model).suffix:
            raise RecipeError(f"{path}: model file {model} not found (relative to the recipe)")
    return model
