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

from .layout.auto_view import depth_argument

log = logging.getLogger("nnviz3d")
USAGE, FAILED, INTERRUPTED = 2, 1, 130
"""Exit statuses: a wrong command line, a command that could not be carried out, Ctrl-C."""


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
            return _fail(str(exc).removeprefix("nnviz3d: "))

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
    _trust_option(v)
    _serving_options(v)
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
    _access_options(d)
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
    _serving_options(r)
    ls = sub.add_parser(
        "landscape",
        help="the loss surface around a model's weights",
        description="Evaluate the loss on a 2-D plane through the weights "
        "(Li et al. 2018) and write it as .npz.",
    )
    ls.add_argument(
        "spec",
        metavar="SPEC",
        nargs="?",
        help="package.module:callable or path/to/file.py:callable returning "
        "(model, loss_fn) or a dict with model, loss_fn and optional snapshots",
    )
    ls.add_argument(
        "--demo",
        action="store_true",
        help="train the digits CNN for 150 steps and use its trajectory",
    )
    ls.add_argument("--steps", type=int, default=21, help="grid points per axis (default 21)")
    ls.add_argument(
        "--span",
        type=float,
        default=None,
        help="grid from -SPAN to SPAN (default 1, or fitted to the trajectory)",
    )
    ls.add_argument("--seed", type=int, default=0, help="seed of the random directions")
    ls.add_argument(
        "-o", "--output", default=None, help="output file (default runs/MODEL-landscape-TIME.npz)"
    )
    ls.add_argument("--json", action="store_true", help="print one JSON document")
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
    _serving_options(c)
    _export_parser(sub)
    _tour_parser(sub)
    from .render import command as render

    render.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "render":
        return render.run(args)
    if args.command == "tour":
        return _tour(args)
    if args.command == "export":
        return _export(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "landscape":
        return _landscape(args)
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


def _graph_of(args, strategies=None):
    """The captured graph of ``args.spec``, or an exit status after a one-line error."""
    from .capture import CaptureError, capture_graph
    from .capture.spec import SpecError, SpecFormatError, load_spec

    if isinstance(args.depth, int) and args.depth < 1:
        return _usage(f"--depth must be 1 or more, got {args.depth}")
    if _is_model_file(args.spec):
        from .capture.formats import ModelFileError, open_model_file

        try:
            return open_model_file(args.spec)
        except ModelFileError as exc:
            return _fail(str(exc))
    try:
        model, example_inputs = load_spec(args.spec)
        args.model = model
        return capture_graph(model, example_inputs, strategies=strategies)
    except SpecFormatError as exc:
        return _usage(str(exc))
    except (SpecError, CaptureError, TypeError, ValueError) as exc:
        return _fail(str(exc))


def _weights_of(args):
    """A model file's weights by module (None for a SPEC: view() takes the model's own), or
    an exit status after a one-line error."""
    if not _is_model_file(args.spec):
        return None
    from .capture.formats import ModelFileError
    from .capture.weight_frame import file_weights

    try:
        return file_weights(args.spec)
    except ModelFileError as exc:
        return _fail(str(exc))


def _serving_options(p: argparse.ArgumentParser) -> None:
    """--host, --port, --no-browser, --depth and --allow-host, shared by the commands that
    serve a scene."""
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a host name the server answers to besides this machine's own "
        "(localhost, its addresses), e.g. a reverse proxy's; repeatable; * for "
        "any. Other names are refused (DNS rebinding); or set "
        "NNVIZ3D_ALLOW_HOSTS=a,b",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default 8765; a port in use is replaced by a free one)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL, open nothing")
    p.add_argument(
        "--depth",
        type=depth_argument,
        default=None,
        help="'auto' (default: repeated layers stacked, groups opened while about "
        "a hundred blocks show), 'all' (everything open) or N (groups at depth "
        "N and deeper closed)",
    )
    _access_options(p)


def _access_options(p: argparse.ArgumentParser) -> None:
    """--token, --tls, --certfile, --keyfile: serving beyond this machine (a headset)."""
    p.add_argument(
        "--token",
        default=None,
        help="access token every request must carry (default: none on 127.0.0.1, "
        "generated and printed in the URL for any other --host; or set "
        "NNVIZ3D_TOKEN)",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS (WebXR on a headset needs it): a self-signed certificate "
        "made on first use in ~/.nnviz3d/tls, unless --certfile is given",
    )
    p.add_argument("--certfile", default=None, help="PEM certificate for --tls")
    p.add_argument("--keyfile", default=None, help="PEM private key of --certfile")


def _serving(args) -> dict:
    """view()'s serving keywords from the options; ValueError with one sentence if unusable."""
    if (args.certfile is None) != (args.keyfile is None):
        raise ValueError(
            "--certfile and --keyfile go together: give both, or neither for a "
            "self-signed certificate"
        )
    tls = (args.certfile, args.keyfile) if args.certfile else bool(args.tls)
    serving = {
        "host": args.host,
        "port": args.port,
        "open_browser": not args.no_browser,
        "token": args.token,
        "tls": tls,
    }
    if getattr(args, "allow_host", None):  # (demo's watch() takes NNVIZ3D_ALLOW_HOSTS)
        serving["allow_hosts"] = args.allow_host
    return serving


def _is_model_file(spec: str) -> bool:
    """A SPEC that names an existing file (not ``file.py:callable``) is a model file."""
    from pathlib import Path

    return not spec.endswith(".py") and Path(spec).is_file()


def _inspect(args) -> int:
    graph = _graph_of(args, args.strategy)
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
            return _fail(str(exc))
        args.spec = recipe.model
        if args.depth is None:
            args.depth = recipe.depth
    graph = _graph_of(args)
    if isinstance(graph, int):
        return graph
    weights = _weights_of(args)
    if isinstance(weights, int):
        return weights
    try:
        serving = _serving(args)
        handle = view(
            getattr(args, "model", None),
            graph=graph,
            depth=args.depth,
            recipe=recipe,
            weights=weights,
            **serving,
        )
    except OSError as exc:
        return _fail(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}")
    except ValueError as exc:  # an option's value (--allow-host, --certfile without --keyfile)
        return _usage(str(exc))
    return _serve(handle)


def _demo(args) -> int:
    from .demo import run_demo

    if args.steps is not None and args.steps < 1:
        return _usage(f"--steps must be 1 or more, got {args.steps}")
    try:
        serving = _serving(args)
    except ValueError as exc:
        return _usage(str(exc))
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
        return _fail(str(exc))
    return 0


def _replay(args) -> int:
    from .record import RunFileError, RunReader
    from .record.remote_run import local_copy

    try:
        reader = RunReader(local_copy(args.run))
        summary = reader.summary()
    except RunFileError as exc:
        return _fail(str(exc))
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
        handle = serve_replay(reader, depth=args.depth, **_serving(args))
    except ValueError as exc:
        return _usage(str(exc))
    return _serve(handle)


def _compare(args) -> int:
    from .compare import CompareError, serve_compare
    from .record import RunFileError

    extra = {} if args.tolerance is None else {"tolerance": args.tolerance}
    if args.inputs is not None:
        extra["inputs"] = args.inputs
    try:
        serving = _serving(args)
    except ValueError as exc:
        return _usage(str(exc))
    try:
        from .record.remote_run import local_copy

        handle = serve_compare(
            local_copy(args.run_a), local_copy(args.run_b), depth=args.depth, **extra, **serving
        )
    except (RunFileError, CompareError, ValueError) as exc:
        return _fail(str(exc))
    return _serve(handle)


def _landscape(args) -> int:
    import time
    from pathlib import Path

    from .capture.spec import SpecError, SpecFormatError

    if args.demo == (args.spec is not None):
        return _usage("landscape needs a SPEC or --demo (one of them)")
    if args.spec and args.spec.endswith(".nnv3d"):
        return _usage(
            f"{args.spec} is a recording: recordings hold per-layer statistics, not "
            f"weights, so the loss cannot be evaluated around them. A landscape needs "
            f"the model: pass a SPEC whose callable returns (model, loss_fn)"
        )
    if args.steps < 2:
        return _usage(f"--steps must be 2 or more, got {args.steps}")
    if args.span is not None and not args.span > 0:
        return _usage(f"--span must be positive, got {args.span}")
    from .analysis.landscape import load_landscape_spec, loss_landscape

    spec = "nnviz3d.analysis.landscape:digits_demo" if args.demo else args.spec
    if args.demo:
        log.info("nnviz3d landscape: training DigitsCNN for 150 steps")
    try:
        model, loss_fn, snapshots = load_landscape_spec(spec)
    except SpecFormatError as exc:
        return _usage(str(exc))
    except SpecError as exc:
        return _fail(str(exc))
    from .progress import Progress

    with Progress(args.steps**2, "landscape", unit="point") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = bar.bar.total = total
            bar.update(done - bar.done)

        try:
            result = loss_landscape(
                model,
                loss_fn,
                steps=args.steps,
                span=args.span,
                seed=args.seed,
                progress=progress,
                trajectory=snapshots,
            )
        except Exception as exc:  # noqa: BLE001 - the user's loss_fn or snapshots: one line
            return _fail(f"computing the landscape failed: {type(exc).__name__}: {exc}")
    name = type(model).__name__
    out = Path(args.output or f"runs/{name}-landscape-{time.strftime('%Y%m%d-%H%M%S')}.npz")
    result.save(out)
    doc = {"file": str(out), "model": name, **result.summary()}
    if args.json:
        json.dump(doc, sys.stdout)
        sys.stdout.write("\n")
        return 0
    n, span = doc["steps"], doc["span"]
    low, alpha, beta = result.minimum()
    high = doc["max_loss"] if doc["max_loss"] is not None else float("nan")
    print(f"{name}: {n}x{n} grid over [-{span:.3g}, {span:.3g}]^2, {doc['directions']}")
    print(
        f"  centre loss {result.center_loss:.4g}; min {low:.4g} at (alpha {alpha:.3g}, "
        f"beta {beta:.3g}); max {high:.4g}"
    )
    print(
        f"  {n * n} points in {result.seconds:.2f} s ({1000 * result.seconds_per_point:.2f} "
        f"ms per point), {result.nonfinite} non-finite"
    )
    print(f"  wrote {out}")
    return 0


def _tour_parser(sub) -> None:
    t = sub.add_parser(
        "tour",
        help="write a guided tour of a recorded run (alarms, changes)",
        description="Write an automatic tour of a recording as a scene "
        "recipe's [[tour]] stops: the layers that raised health "
        "alarms, then those whose statistics changed most.",
    )
    t.add_argument("run", metavar="RUN", help="a .nnv3d recording")
    t.add_argument("-o", "--output", required=True, help="the .toml file to write")
    t.add_argument(
        "--model",
        default=None,
        help="the model's SPEC, written as the recipe's model (else left to fill)",
    )
    t.add_argument(
        "--depth",
        type=depth_argument,
        default=None,
        help="the depth the tour's viewpoints are laid out for ('auto', the default, 'all' or N)",
    )
    t.add_argument(
        "--changes", type=int, default=4, help="how many most-changed layers to visit (default 4)"
    )


def _tour(args) -> int:
    from .record import RunFileError
    from .tour import write_tour

    if args.changes < 0:
        return _usage(f"--changes must be 0 or more, got {args.changes}")
    try:
        stops = write_tour(
            args.run, args.output, depth=args.depth, model=args.model, changes=args.changes
        )
    except RunFileError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    print(f"{args.output}: {len(stops)} stops")
    return 0


def _export_parser(sub) -> None:
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
    _trust_option(e)
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
    from .recipe import COLOR_BY

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


def _export(args) -> int:
    from pathlib import Path

    from .export import ExportError, export_gltf
    from .export.gltf import EXPORT_STAGES
    from .export.sources import source_of
    from .record.run_file import is_run_file

    if isinstance(args.depth, int) and args.depth < 1:
        return _usage(f"--depth must be 1 or more, got {args.depth}")
    folder = Path(args.output).parent
    if not folder.is_dir():
        return _fail(
            f"cannot write {args.output}: there is no folder {folder}; create it or "
            f"choose another output path"
        )
    if args.spec.endswith(".toml"):  # a scene recipe: its model at its depth
        from .recipe import RecipeError, load_recipe

        try:
            recipe = load_recipe(args.spec, trust=args.trust_recipe)
        except RecipeError as exc:
            return _fail(str(exc))
        args.spec = recipe.model
        args.depth = recipe.depth if args.depth is None else args.depth
    source = args.spec
    if not is_run_file(args.spec):
        if args.step is not None or args.animate:
            return _usage(f"--step and --animate need a recording (.nnv3d), got {args.spec}")
        graph = _graph_of(args)
        if isinstance(graph, int):
            return graph
        model_file = args.spec if _is_model_file(args.spec) else None
        try:
            source = source_of(graph, getattr(args, "model", None), model_file)
        except ExportError as exc:
            return _fail(str(exc))
    from .progress import Progress

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
        return _fail(str(exc))
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


def _serve(handle) -> int:
    """Serve until Ctrl-C (main() then exits with status 130)."""
    from .server.serving import serve_until_interrupted

    serve_until_interrupted(handle)
    return 0


def _trust_option(parser) -> None:
    parser.add_argument(
        "--trust-recipe",
        action="store_true",
        help="let a scene recipe run the Python code its model SPEC names and "
        "read files outside its folder (off: only model files beside the "
        "recipe and nnviz3d.zoo's models)",
    )


def _fail(message: str) -> int:
    """Say why the command could not be carried out, in one line; exit status 1."""
    log.error("nnviz3d: error: %s", message)
    return FAILED


def _usage(message: str) -> int:
    """Say what is wrong with the command line, in one line; exit status 2 (as argparse)."""
    log.error("nnviz3d: error: %s", message)
    return USAGE


if __name__ == "__main__":
    sys.exit(main())
