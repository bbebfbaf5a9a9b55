"""Scene recipes: a small TOML file saying which model to show and how.

Reference (every key optional except ``model``)::

    title = "Digits CNN"                   # shown in the page title
    model = "nnviz3d.zoo:digits_cnn"       # a model file in the recipe's folder, a model of
                                           # nnviz3d.zoo, or (trusted recipes only) a SPEC
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

    [[tour]]                               # a guided tour: stops shown one after another
    bookmark = "overview"                  # the viewpoint: a bookmark's name, or
    # position = [8.0, 6.0, -8.0]          #   a position and a target, as for bookmarks
    # target = [0.0, 0.5, 4.0]
    caption = "Start here"                 # optional (default: the bookmark's caption)
    seconds = 6.0                          # how long to stay (default 5; more than 0)
    step = 120                             # optional: show this training step (recordings)

On the desktop the camera flies from stop to stop; in VR the world moves instead, fading to
black between stops. ``nnviz3d tour RUN.nnv3d`` writes a tour of a recorded run (nnviz3d/tour.py).

``nnviz3d view RECIPE.toml`` opens it; the viewer's *Save view* button writes one. A bad recipe
gets one sentence naming the file, the key and what was wrong.

**Recipes come from strangers; a SPEC is code.** A ``model`` written as ``file.py:callable`` or
``package.module:callable`` imports and runs Python code, so a recipe naming one is refused
unless its reader says it trusts the recipe (``load_recipe(path, trust=True)``, the command
line's ``--trust-recipe``). Without trust a recipe may name a model file (opened by the same
never-unpickling readers as any model file) or one of the models shipped in ``nnviz3d.zoo``,
and every path it gives must lie inside the recipe's own folder (no ``..``, no absolute paths,
no symbolic links leading out).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

COLOR_BY = ("kind", "weight_norm", "grad_norm", "update_ratio", "act_mean", "act_std", "act_zero")
NUMBER = (int, float)
TOP = {"title": str, "model": str, "depth": int, "view": dict, "bookmarks": list, "tour": list}
VIEW = {"color_by": str, "weights": bool, "flow": bool, "camera": str}
BOOKMARK = {"name": str, "position": list, "target": list, "caption": str}
TOUR_STOP = {
    "bookmark": str,
    "position": list,
    "target": list,
    "caption": str,
    "seconds": NUMBER,
    "step": int,
}
TOUR_SECONDS = 5.0
"""How long a tour stop stays when its ``seconds`` is not given."""


TRUST_FLAG = "--trust-recipe"
"""The command-line option that lets a recipe run code and read files outside its folder."""


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
    tour: list[dict] = field(default_factory=list)
    """Stops resolved to ``{"position", "target", "caption", "seconds"[, "bookmark", "step"]}``."""

    def client_view(self) -> dict:
        """What the viewer applies: the view settings, bookmarks and tour."""
        return {
            "title": self.title,
            "model": self.model,
            **self.view,
            "bookmarks": self.bookmarks,
            "tour": self.tour,
        }


def load_recipe(path: str | Path, *, trust: bool = False) -> Recipe:
    """Read and check a recipe. ``trust=False`` (the default) refuses a ``model`` that would run
    code (a SPEC other than ``nnviz3d.zoo``'s models) or name a file outside the recipe's
    folder; ``trust=True`` allows both (see the module docstring)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"{path}: no such recipe file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: not valid TOML ({exc})") from None
    _check(path, "", data, TOP)
    if "model" not in data:
        raise RecipeError(
            f"{path}: missing key 'model' (a SPEC like 'package.module:callable' or a model file)"
        )
    view = data.get("view", {})
    _check(path, "view.", view, VIEW)
    if "color_by" in view and view["color_by"] not in COLOR_BY:
        raise RecipeError(
            f"{path}: view.color_by must be one of {', '.join(COLOR_BY)}; got {view['color_by']!r}"
        )
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
            b[key] = _point(path, where + key, b[key])
    names = [b["name"] for b in bookmarks]
    if "camera" in view and view["camera"] not in names:
        raise RecipeError(
            f"{path}: view.camera names no bookmark ({view['camera']!r}; "
            f"bookmarks: {', '.join(names) or 'none'})"
        )
    tour = [_tour_stop(path, i, stop, bookmarks) for i, stop in enumerate(data.get("tour", []))]
    depth = data.get("depth")
    if depth is not None and depth < 0:
        raise RecipeError(f"{path}: depth must be 0 or more; got {depth}")
    return Recipe(
        path=path,
        model=_resolve_model(path, data["model"], trust),
        title=data.get("title", ""),
        depth=depth,
        view=view,
        bookmarks=bookmarks,
        tour=tour,
    )


def _point(path: Path, where: str, v: list) -> list[float]:
    if len(v) != 3 or not all(
        isinstance(x, NUMBER) and not isinstance(x, bool) and math.isfinite(x) for x in v
    ):
        raise RecipeError(f"{path}: {where} must be 3 numbers [x, y, z], all finite; got {v!r}")
    return [float(x) for x in v]


def _tour_stop(path: Path, i: int, stop, bookmarks: list[dict]) -> dict:
    """One ``[[tour]]`` table, its viewpoint resolved to a position and a target."""
    where = f"tour[{i}]."
    if not isinstance(stop, dict):
        raise RecipeError(f"{path}: tour[{i}] must be a table ([[tour]])")
    _check(path, where, stop, TOUR_STOP)
    seconds = float(stop.get("seconds", TOUR_SECONDS))
    if not 0 < seconds < math.inf:
        raise RecipeError(
            f"{path}: {where}seconds must be more than 0 (and finite); got {stop['seconds']}"
        )
    out = {"caption": stop.get("caption", ""), "seconds": seconds}
    if "step" in stop:
        if stop["step"] < 0:
            raise RecipeError(f"{path}: {where}step must be 0 or more; got {stop['step']}")
        out["step"] = stop["step"]
    if "bookmark" in stop:
        if "position" in stop or "target" in stop:
            raise RecipeError(
                f"{path}: tour[{i}] gives both a bookmark and a position/target; keep one"
            )
        names = [b["name"] for b in bookmarks]
        mark = next((b for b in bookmarks if b["name"] == stop["bookmark"]), None)
        if mark is None:
            raise RecipeError(
                f"{path}: {where}bookmark names no bookmark "
                f"({stop['bookmark']!r}; bookmarks: {', '.join(names) or 'none'})"
            )
        out.update(bookmark=mark["name"], position=mark["position"], target=mark["target"])
        if "caption" not in stop:
            out["caption"] = mark.get("caption", "")
        return out
    if "position" not in stop and "target" not in stop:
        raise RecipeError(
            f"{path}: tour[{i}] needs a viewpoint: bookmark = NAME, or position and target"
        )
    for key in ("position", "target"):
        if key not in stop:
            raise RecipeError(
                f"{path}: {where}{key} is missing (a stop without a bookmark "
                f"needs both position and target)"
            )
        out[key] = _point(path, where + key, stop[key])
    return out


def _check(path: Path, where: str, table: dict, schema: dict) -> None:
    for key, value in table.items():
        if key not in schema:
            raise RecipeError(
                f"{path}: unknown key '{where}{key}'; known: {', '.join(where + k for k in schema)}"
            )
        want = schema[key]
        if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            raise RecipeError(
                f"{path}: {where}{key} must be {_names[want]}; got {type(value).__name__} {value!r}"
            )


_names = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    dict: "a table",
    list: "an array",
    NUMBER: "a number",
}


def _resolve_model(path: Path, model: str, trust: bool) -> str:
    """A model file or ``file.py:callable`` relative to the recipe becomes absolute; without
    ``trust``, code and paths leading out of the recipe's folder are refused."""
    target, sep, attr = model.rpartition(":")
    if sep and (target.endswith(".py") or "/" in target or "\\" in target):
        if not trust:
            raise RecipeError(_untrusted(path, model, "runs the Python file it names"))
        file = _inside(path, target, trust)
        if not file.is_file():
            raise RecipeError(f"{path}: model file {target} not found (relative to the recipe)")
        return f"{file}:{attr}"
    candidate = path.parent / model
    if not sep or candidate.exists():
        file = _inside(path, model, trust)
        if file.is_file():
            return str(file)
        if not sep:
            raise RecipeError(f"{path}: model file {model} not found (relative to the recipe)")
    if not trust and not _zoo_model(model):
        raise RecipeError(_untrusted(path, model, "imports and runs the module it names"))
    return model


def _inside(path: Path, name: str, trust: bool) -> Path:
    """``name`` resolved against the recipe's folder (symbolic links followed); without
    ``trust`` it must stay inside that folder."""
    folder = path.parent.resolve()
    file = (folder / name).resolve()
    if not trust and not file.is_relative_to(folder):
        raise RecipeError(
            f"{path}: model {name!r} lies outside the recipe's folder {folder}; "
            f"copy it next to the recipe, or pass {TRUST_FLAG} if you trust the "
            f"recipe"
        )
    return file


def _untrusted(path: Path, model: str, what: str) -> str:
    return (
        f"{path}: model {model!r} is a SPEC, which {what}; a recipe runs code only when "
        f"you trust its author: pass {TRUST_FLAG} (or load_recipe(..., trust=True)), or "
        f"name a model file or one of nnviz3d.zoo's models instead"
    )


def _zoo_model(spec: str) -> bool:
    """True for ``nnviz3d.zoo:NAME`` naming one of the models the package ships."""
    import inspect

    module, _, name = spec.partition(":")
    if module != "nnviz3d.zoo" or not name.isidentifier() or name.startswith("_"):
        return False
    from . import zoo

    fn = getattr(zoo, name, None)
    return inspect.isfunction(fn) and fn.__module__ == zoo.__name__
