"""The ``nnviz3d`` command line: inspect, view, demo, replay, compare, landscape, tour, export
and render.

Exit status: 0 done; 1 the command could not be carried out (a model that does not load, a
damaged recording, a port or folder that is not there); 2 the command line is wrong (argparse's
own errors, and options that do not go together); 130 interrupted (Ctrl-C). Messages go to
stderr through the ``nnviz3d`` logger, one line each; results go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys

from .commands import export, landscape, tour
from .commands.common import (
    INTERRUPTED,
    USAGE,
    access_options,
    fail,
    graph_of,
    log,
    serve,
    serving_keywords,
    serving_options,
    trust_option,
    usage,
    weights_of,
)


def _missing_extras_in_one_line(main):
    """A missing optional package (nnviz3d/extras.py) ends the command with its one sentence
    (which extra to install), not a traceback."""
    import functools

    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        from .extras import MissingExtra

        try:
            return main(argv)
        except MissingExtra as exc:
            return fail(str(exc).removeprefix("nnviz3d: "))

    return run


@_missing_extras_in_one_line
def main(argv: list[str] | None = None) -> int:
    with _stderr_logging():
        try:
            return _main(argv)
        except KeyboardInterrupt:
            log.error("nnviz3d: interrupted")
            return INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="nnviz3d", description="See a PyTorch network in 3D.")
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="print nnviz3d's version (and torch's) and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "inspect",
        help="capture a model's topology and print it",
        description="Capture a model's topology and print it as a tree or JSON.",
    )
    p.add_argument(
        "spec",
        metavar="SPEC",
        help="package.module:callable or path/to/file.py:callable returning an "
        "nn.Module or (module, example_inputs), or a model file (safetensors, "
        "state_dict, TorchScript, torch.export .pt2)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument(
        "--depth", type=int, default=None, help="show modules down to this depth (default: all)"
    )
    p.add_argument(
        "--strategy",
        choices=["export", "fx", "hooks"],
        action="append",
        help="capture strategy to try (repeatable; default: export, fx, hooks)",
    )
    v = sub.add_parser(
        "view",
        help="serve a model's 3D scene to the browser",
        description="Capture a model and walk around it in the browser.",
    )
    v.add_argument("spec", metavar="SPEC", help="as for inspect, or a scene recipe (.toml)")
    trust_option(v)
    serving_options(v)
    d = sub.add_parser(
        "demo",
        help="train a small CNN on real digits with the viewer open",
        description="Train the digits CNN on scikit-learn's bundled digits data "
        "set and watch it learn in 3D.",
    )
    d.add_argument("--steps", type=int, default=None, help="training steps (default: 8 epochs)")
    d.add_argument(
        "--no-browser",
        action="store_true",
        help="open no browser and exit when training ends (headless)",
    )
    d.add_argument("--port", type=int, default=None)
    d.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    access_options(d)
    d.add_argument(
        "--every",
        type=int,
        default=1,
        help="probe every N steps (default 1; 0 adapts to a 5%% budget)",
    )
    d.add_argument("--record", default=None, help="run file (default runs/DigitsCNN-TIME.nnv3d)")
    d.add_argument(
        "--delay",
        type=float,
        default=None,
        help="seconds to sleep after each step (default 0.05 with a browser, "
        "0 headless), so people can watch it learn",
    )
    r = sub.add_parser(
        "replay",
        help="explore a recorded run, or summarise it",
        description="Serve a recorded run (.nnv3d) to the viewer, scrubbable.",
    )
    r.add_argument(
        "run",
        metavar="RUN",
        help="a .nnv3d file written by watch/demo, or its fsspec URL (s3://, gs://, file://...)",
    )
    r.add_argument("--summary", action="store_true", help="print a summary instead of serving")
    r.add_argument("--json", action="store_true", help="with --summary: one JSON document")
    serving_options(r)
    landscape.add_parser(sub)
    c = sub.add_parser(
        "compare",
        help="overlay two runs or two models: colours show B minus A",
        description="Show A's network coloured by B minus A: for two recorded "
        "runs, any probe quantity at each step; for two models "
        "(files or SPECs), weight statistics and weight maps. Layers "
        "are matched by path, then by structure.",
    )
    c.add_argument("run_a", metavar="A", help="a .nnv3d recording, a model file or a SPEC")
    c.add_argument("run_b", metavar="B", help="the same kind as A, of the same architecture")
    c.add_argument(
        "--tolerance",
        type=int,
        default=None,
        metavar="STEPS",
        help="two runs: pair each probe of A with B's nearest recorded step at most "
        "this many steps away (default: half the coarser probe interval)",
    )
    c.add_argument(
        "--inputs",
        default=None,
        metavar="FILE",
        help="two models (SPECs): a torch.save'd tensor of probe inputs both take, for the "
        "cross-model CKA of their layers",
    )
    serving_options(c)
    export.add_parser(sub)
    tour.add_parser(sub)
    from .render import command as render

    render.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "render":
        return render.run(args)
    if args.command == "tour":
        return tour.run(args)
    if args.command == "export":
        return export.run(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "landscape":
        return landscape.run(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "inspect":
        return _inspect(args)
    if args.command == "view":
        return _view(args)
    return USAGE


class _Version(argparse.Action):
    """``--version``: "nnviz3d X.Y.Z (torch A.B.C)", read from the installed metadata, so
    torch is not imported for it."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from . import __version__

        try:
            torch = f"torch {version('torch')}"
        except PackageNotFoundError:
            torch = "torch not installed"
        print(f"nnviz3d {__version__} ({torch})")
        parser.exit(0)


@contextlib.contextmanager
def _stderr_logging():
    """While the command runs, the ``nnviz3d`` logger writes its messages (INFO and up) to
    stderr as they are, once each; afterwards (main() called in-process) it is as before."""
    from . import log as messages

    logger = logging.getLogger("nnviz3d")
    if messages.has_stderr_handler():
        yield  # main() within main(), or after a library call set it up
        return
    handler = messages.StderrHandler()
    level = logger.level
    logger.addHandler(handler)
    if level == logging.NOTSET or level > logging.INFO:
        # the command's level: not marked as the library's, so a view(quiet=True) inside a
        # command (render, compare) keeps it (nnviz3d/log.py use_stderr)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _inspect(args) -> int:
    graph = graph_of(args, args.strategy)
    if isinstance(graph, int):
        return graph
    if args.json:
        doc = graph.to_json()
        if args.depth is not None:
            doc["nodes"] = [n for n in doc["nodes"] if n["depth"] <= args.depth]
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        from .tree_text import render_tree

        sys.stdout.write(render_tree(graph, args.depth))
    return 0


def _view(args) -> int:
    from .viewer import view

    recipe = None
    if args.spec.endswith(".toml"):
        from .recipe import RecipeError, load_recipe

        try:
            recipe = load_recipe(args.spec, trust=args.trust_recipe)
        except RecipeError as exc:
            return fail(str(exc))
        args.spec = recipe.model
        if args.depth is None:
            args.depth = recipe.depth
    graph = graph_of(args)
    if isinstance(graph, int):
        return graph
    weights = weights_of(args)
    if isinstance(weights, int):
        return weights
    try:
        serving = serving_keywords(args)
        handle = view(
            getattr(args, "model", None),
            graph=graph,
            depth=args.depth,
            recipe=recipe,
            weights=weights,
            **serving,
        )
    except OSError as exc:
        return fail(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}")
    except ValueError as exc:  # an option's value (--allow-host, --certfile without --keyfile)
        return usage(str(exc))
    return serve(handle)


def _demo(args) -> int:
    from .demo import run_demo

    if args.steps is not None and args.steps < 1:
        return usage(f"--steps must be 1 or more, got {args.steps}")
    try:
        serving = serving_keywords(args)
    except ValueError as exc:
        return usage(str(exc))
    try:
        delay = args.delay if args.delay is not None else (0.0 if args.no_browser else 0.05)
        run_demo(
            steps=args.steps,
            record=args.record or True,
            keep_serving=not args.no_browser,
            every=args.every or None,
            step_delay=delay,
            **serving,
        )
    except (FileExistsError, ValueError) as exc:
        return fail(str(exc))
    return 0


def _replay(args) -> int:
    from .record import RunFileError, RunReader
    from .record.remote_run import local_copy

    try:
        reader = RunReader(local_copy(args.run))
        summary = reader.summary()
    except RunFileError as exc:
        return fail(str(exc))
    if args.summary:
        if args.json:
            json.dump(summary, sys.stdout)
            sys.stdout.write("\n")
        else:
            print(
                f"{args.run}: {summary['model']}, {summary['frames']} frames over "
                f"{summary['steps']} steps ({summary['first_step']}..{summary['last_step']}), "
                f"{summary['bytes']:,} bytes, format {summary['format_version']}"
            )
        return 0
    from .replay import serve_replay

    try:
        handle = serve_replay(reader, depth=args.depth, **serving_keywords(args))
    except ValueError as exc:
        return usage(str(exc))
    return serve(handle)


def _compare(args) -> int:
    from .compare import CompareError, serve_compare
    from .record import RunFileError

    extra = {} if args.tolerance is None else {"tolerance": args.tolerance}
    if args.inputs is not None:
        extra["inputs"] = args.inputs
    try:
        serving = serving_keywords(args)
    except ValueError as exc:
        return usage(str(exc))
    try:
        from .record.remote_run import local_copy

        handle = serve_compare(
            local_copy(args.run_a), local_copy(args.run_b), depth=args.depth, **extra, **serving
        )
    except (RunFileError, CompareError, ValueError) as exc:
        return fail(str(exc))
    return serve(handle)


if __name__ == "__main__":
    sys.exit(main())
