"""What ``nnviz3d render`` shows, served on 127.0.0.1 at a free port, as the viewer would:
a SPEC or model FILE (its topology and weights), a RUN (.nnv3d recording, every step
seekable) or a RECIPE (.toml: its model, view settings, bookmarks and tour)."""

from __future__ import annotations

from dataclasses import dataclass, field


class SourceError(Exception):
    """The source cannot be opened; ``status`` is the exit status (1 run-time, 2 usage)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Served:
    """A served scene and what the render needs to know of it."""

    handle: object
    """The view handle (``url``, ``close()``)."""
    title: str
    run: bool = False
    """A recording: its steps can be seeked."""
    steps: list[int] = field(default_factory=list)
    """The recorded steps holding probe data, ascending (a RUN's)."""
    losses: dict[int, float] = field(default_factory=dict)
    """The train loss at each step that recorded one (a RUN's)."""
    bookmarks: dict[str, dict] = field(default_factory=dict)
    """A recipe's bookmarks by name: {position, target, caption}."""
    tour: list[dict] = field(default_factory=list)
    """A recipe's tour stops: {position, target, caption, seconds, step?}."""
    camera: str | None = None
    """The recipe's starting bookmark."""

    @property
    def url(self) -> str:
        return self.handle.url

    def close(self) -> None:
        self.handle.close()


def open_source(spec: str, *, depth=None, trust_recipe: bool = False) -> Served:
    """Serve ``spec``; SourceError with one sentence when it cannot be opened."""
    from ..record.run_file import is_run_file

    if spec.endswith(".nnv3d") or is_run_file(spec):
        return _open_run(spec, depth)
    recipe = None
    if spec.endswith(".toml"):
        from ..recipe import RecipeError, load_recipe

        try:
            recipe = load_recipe(spec, trust=trust_recipe)
        except RecipeError as exc:
            raise SourceError(str(exc)) from None
        spec, depth = recipe.model, recipe.depth if depth is None else depth
    return _open_model(spec, depth, recipe)


def _open_run(path: str, depth) -> Served:
    from ..record import RunFileError, RunReader
    from ..record.remote_run import local_copy
    from ..replay import serve_replay

    try:
        reader = RunReader(local_copy(path))
        steps, losses = set(), {}
        for _, step, kinds, _ in reader.frames():
            if kinds:
                steps.add(step)
        for step, split, scalars in reader.scalar_rows():
            loss = scalars.get("loss")
            if split == "train" and isinstance(loss, int | float):
                losses[step] = float(loss)
    except RunFileError as exc:
        raise SourceError(str(exc)) from None
    handle = serve_replay(reader, depth=depth, quiet=True, open_browser=False, port=0)
    return Served(
        handle, f"{reader.model} · {reader.path.name}", True, sorted(steps), losses=losses
    )


def _open_model(spec: str, depth, recipe) -> Served:
    from argparse import Namespace

    from ..commands.common import graph_of, weights_of
    from ..viewer import view

    args = Namespace(spec=spec, depth=depth)
    graph = graph_of(args)  # says what is wrong itself and returns the exit status
    if isinstance(graph, int):
        raise SourceError("", graph)
    weights = weights_of(args)
    if isinstance(weights, int):
        raise SourceError("", weights)
    handle = view(
        getattr(args, "model", None),
        graph=graph,
        depth=depth,
        recipe=recipe,
        weights=weights,
        open_browser=False,
        quiet=True,
        port=0,
    )
    served = Served(handle, recipe.title if recipe and recipe.title else str(graph.model))
    if recipe is not None:
        served.bookmarks = {b["name"]: b for b in recipe.bookmarks}
        served.tour = list(recipe.tour)
        served.camera = recipe.view.get("camera")
    return served
