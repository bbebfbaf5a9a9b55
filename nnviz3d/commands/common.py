"""What the command line's commands share (nnviz3d/cli.py and the modules beside this one): exit
statuses, one-line errors, loading a SPEC or model file, and the serving options."""

from __future__ import annotations

import argparse
import logging

from ..layout.auto_view import depth_argument

log = logging.getLogger("nnviz3d")
USAGE, FAILED, INTERRUPTED = 2, 1, 130
"""Exit statuses: a wrong command line, a command that could not be carried out, Ctrl-C."""


def fail(message: str) -> int:
    """Say why the command could not be carried out, in one line; exit status 1."""
    log.error("nnviz3d: error: %s", message)
    return FAILED


def usage(message: str) -> int:
    """Say what is wrong with the command line, in one line; exit status 2 (as argparse)."""
    log.error("nnviz3d: error: %s", message)
    return USAGE


def graph_of(args, strategies=None):
    """The captured graph of ``args.spec``, or an exit status after a one-line error."""
    from ..capture import CaptureError, capture_graph
    from ..capture.spec import SpecError, SpecFormatError, load_spec

    if isinstance(args.depth, int) and args.depth < 1:
        return usage(f"--depth must be 1 or more, got {args.depth}")
    if is_model_file(args.spec):
        from ..capture.formats import ModelFileError, open_model_file

        try:
            return open_model_file(args.spec)
        except ModelFileError as exc:
            return fail(str(exc))
    try:
        model, example_inputs = load_spec(args.spec)
        args.model = model
        return capture_graph(model, example_inputs, strategies=strategies)
    except SpecFormatError as exc:
        return usage(str(exc))
    except (SpecError, CaptureError, TypeError, ValueError) as exc:
        return fail(str(exc))


def weights_of(args):
    """A model file's weights by module (None for a SPEC: view() takes the model's own), or
    an exit status after a one-line error."""
    if not is_model_file(args.spec):
        return None
    from ..capture.formats import ModelFileError
    from ..capture.weight_frame import file_weights

    try:
        return file_weights(args.spec)
    except ModelFileError as exc:
        return fail(str(exc))


def is_model_file(spec: str) -> bool:
    """A SPEC that names an existing file (not ``file.py:callable``) is a model file."""
    from pathlib import Path

    return not spec.endswith(".py") and Path(spec).is_file()


def serving_options(p: argparse.ArgumentParser) -> None:
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
    access_options(p)


def access_options(p: argparse.ArgumentParser) -> None:
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


def serving_keywords(args) -> dict:
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


def trust_option(parser) -> None:
    parser.add_argument(
        "--trust-recipe",
        action="store_true",
        help="let a scene recipe run the Python code its model SPEC names and "
        "read files outside its folder (off: only model files beside the "
        "recipe and nnviz3d.zoo's models)",
    )


def serve(handle) -> int:
    """Serve until Ctrl-C (main() then exits with status 130)."""
    from ..server.serving import serve_until_interrupted

    serve_until_interrupted(handle)
    return 0
