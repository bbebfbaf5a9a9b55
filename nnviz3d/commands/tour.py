"""``nnviz3d tour``: write an automatic tour of a recording as a scene recipe's stops."""

from __future__ import annotations

from ..layout.auto_view import depth_argument
from .common import fail, usage


def add_parser(sub) -> None:
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


def run(args) -> int:
    from ..record import RunFileError
    from ..tour import write_tour

    if args.changes < 0:
        return usage(f"--changes must be 0 or more, got {args.changes}")
    try:
        stops = write_tour(
            args.run, args.output, depth=args.depth, model=args.model, changes=args.changes
        )
    except RunFileError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {args.output}: {exc.strerror or exc}")
    print(f"{args.output}: {len(stops)} stops")
    return 0
