"""The ``nnviz3d`` command line. This issue ships ``inspect``; view, demo, replay and export
come with the viewer, live-training and export work."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnviz3d", description="See a PyTorch network in 3D.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="capture a model's topology and print it",
                       description="Capture a model's topology and print it as a tree or JSON.")
    p.add_argument("spec", metavar="SPEC",
                   help="package.module:callable or path/to/file.py:callable returning an "
                        "nn.Module or (module, example_inputs)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--depth", type=int, default=None,
                   help="show modules down to this depth (default: all)")
    p.add_argument("--strategy", choices=["export", "fx", "hooks"], action="append",
                   help="capture strategy to try (repeatable; default: export, fx, hooks)")
    args = parser.parse_args(argv)
    if args.command == "inspect":
        return _inspect(args)
    return 2


def _inspect(args) -> int:
    from .capture import CaptureError, capture_graph
    from .spec import SpecError, load_spec

    if args.depth is not None and args.depth < 1:
        return _fail(f"--depth must be 1 or more, got {args.depth}")
    try:
        model, example_inputs = load_spec(args.spec)
        graph = capture_graph(model, example_inputs, strategies=args.strategy)
    except (SpecError, CaptureError, TypeError, ValueError) as exc:
        return _fail(str(exc))
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


def _fail(message: str) -> int:
    print(f"nnviz3d: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
