"""``nnviz3d landscape``: the loss surface on a 2-D plane through a model's weights, written as
.npz."""

from __future__ import annotations

import json
import sys

from .common import fail, log, usage


def add_parser(sub) -> None:
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


def run(args) -> int:
    import time
    from pathlib import Path

    from ..capture.spec import SpecError, SpecFormatError

    if args.demo == (args.spec is not None):
        return usage("landscape needs a SPEC or --demo (one of them)")
    if args.spec and args.spec.endswith(".nnv3d"):
        return usage(
            f"{args.spec} is a recording: recordings hold per-layer statistics, not "
            f"weights, so the loss cannot be evaluated around them. A landscape needs "
            f"the model: pass a SPEC whose callable returns (model, loss_fn)"
        )
    if args.steps < 2:
        return usage(f"--steps must be 2 or more, got {args.steps}")
    if args.span is not None and not args.span > 0:
        return usage(f"--span must be positive, got {args.span}")
    from ..analysis.landscape import load_landscape_spec, loss_landscape

    spec = "nnviz3d.analysis.landscape:digits_demo" if args.demo else args.spec
    if args.demo:
        log.info("nnviz3d landscape: training DigitsCNN for 150 steps")
    try:
        model, loss_fn, snapshots = load_landscape_spec(spec)
    except SpecFormatError as exc:
        return usage(str(exc))
    except SpecError as exc:
        return fail(str(exc))
    from ..progress import Progress

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
            return fail(f"computing the landscape failed: {type(exc).__name__}: {exc}")
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
