"""Build time and object count of the Jupyter preview (nnviz3d/export/notebook.py).

    python bench/notebook_widget.py

For each model: the graph is captured once, then the widget (scene + merged geometry + the
pythreejs objects) is built 5 times; median seconds, pythreejs objects created, blocks.
Outside a kernel the widgets have no front end, so this is the Python side's cost: what the
notebook waits for before the comm messages go out (one per object).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings


def pythreejs_objects() -> int:
    from ipywidgets import Widget

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sum(type(w).__module__.startswith("pythreejs") for w in Widget.widgets.values())


def main() -> int:
    from nnviz3d import zoo
    from nnviz3d.capture import capture_graph
    from nnviz3d.export.notebook import scene_widget

    cases = [("digits_cnn", None), ("gpt2", None), ("gpt2", 3), ("llama_7b_meta", None)]
    graphs = {}
    print(f"{'model':<16}{'depth':>6}{'blocks':>8}{'objects':>9}{'median s':>10}")
    for name, depth in cases:
        if name not in graphs:
            graphs[name] = capture_graph(*getattr(zoo, name)())
        times, objects, blocks = [], 0, 0
        for _ in range(5):
            before = pythreejs_objects()
            t0 = time.perf_counter()
            w = scene_widget(graphs[name], depth=depth)
            times.append(time.perf_counter() - t0)
            objects, blocks = pythreejs_objects() - before, len(w.modules)
        print(f"{name:<16}{depth!s:>6}{blocks:>8}{objects:>9}{statistics.median(times):>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
