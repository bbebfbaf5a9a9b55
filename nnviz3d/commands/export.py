"""``nnviz3d export``: the scene the viewer shows, or a recorded run, as a glTF binary (.glb)."""

from __future__ import annotations

from ..layout.auto_view import depth_argument
from .common import fail, graph_of, is_model_file, trust_option, usage


def add_parser(sub) -> None:
    e = sub.add_parser(
        "export",
        help="write the 3D scene as a glTF binary (.glb)",
        description="Write the scene the viewer shows as GLB: a model's topology "
        "and weight maps, or a recorded run at one step or animated "
        "through training.",
    )
    e.add_argument(
        "spec",
        metavar="SPEC_OR_RUN",
        help="a .nnv3d recording, a model file, a SPEC as for inspect, or a scene recipe (.toml)",
    )
    e.add_argument("-o", "--output", required=True, help="the .glb file to write")
    trust_option(e)
    when = e.add_mutually_exclusive_group()
    when.add_argument(
        "--step",
        type=int,
        default=None,
        help="with a recording: the step to show (default: the last)",
    )
    when.add_argument(
        "--animate",
        action="store_true",
        help="with a recording: animate the colours through every step",
    )
    e.add_argument(
        "--depth",
        type=depth_argument,
        default=None,
        help="'auto' (default, as the viewer opens), 'all' or N (groups at depth N "
        "and deeper closed)",
    )
    from ..recipe import COLOR_BY

    e.add_argument(
        "--color-by",
        default=None,
        choices=COLOR_BY,
        help="what block colours show, as the viewer's Colour menu (default: kind; "
        "grad_norm when animating)",
    )
    e.add_argument(
        "--seconds-per-step",
        type=float,
        default=0.25,
        help="animation time per recorded step (default 0.25)",
    )
    e.add_argument(
        "--no-labels",
        dest="labels",
        action="store_false",
        help="leave out the text labels (their names stay in the nodes' extras)",
    )


def run(args) -> int:
    from pathlib import Path

    from ..export import ExportError, export_gltf
    from ..export.gltf import EXPORT_STAGES
    from ..export.sources import source_of
    from ..record.run_file import is_run_file

    if isinstance(args.depth, int) and args.depth < 1:
        return usage(f"--depth must be 1 or more, got {args.depth}")
    folder = Path(args.output).parent
    if not folder.is_dir():
        return fail(
            f"cannot write {args.output}: there is no folder {folder}; create it or "
            f"choose another output path"
        )
    if args.spec.endswith(".toml"):  # a scene recipe: its model at its depth
        from ..recipe import RecipeError, load_recipe

        try:
            recipe = load_recipe(args.spec, trust=args.trust_recipe)
        except RecipeError as exc:
            return fail(str(exc))
        args.spec = recipe.model
        args.depth = recipe.depth if args.depth is None else args.depth
    source = args.spec
    if not is_run_file(args.spec):
        if args.step is not None or args.animate:
            return usage(f"--step and --animate need a recording (.nnv3d), got {args.spec}")
        graph = graph_of(args)
        if isinstance(graph, int):
            return graph
        model_file = args.spec if is_model_file(args.spec) else None
        try:
            source = source_of(graph, getattr(args, "model", None), model_file)
        except ExportError as exc:
            return fail(str(exc))
    from ..progress import Progress

    try:
        with Progress(len(EXPORT_STAGES), "export", unit="stage", delay=2.0) as bar:
            res = export_gltf(
                source,
                args.output,
                step=args.step,
                animate=args.animate,
                depth=args.depth,
                color_by=args.color_by,
                seconds_per_step=args.seconds_per_step,
                labels=args.labels,
                progress=lambda stage: bar.update(1, stage=stage),
            )
    except ExportError as exc:
        return fail(str(exc))
    what = (
        f", animation {res.duration:.2f} s over {len(res.steps)} steps"
        if res.animations
        else f", step {res.step}"
        if res.step is not None
        else ""
    )
    print(
        f"wrote {res.path}: {res.nodes} nodes, {res.meshes} meshes, {res.labels} labels, "
        f"{res.bytes:,} bytes in {res.seconds:.2f} s{what}"
    )
    return 0
