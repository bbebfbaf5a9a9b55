"""Small real recordings for the tests: probe frames the reader's checks accept."""

from __future__ import annotations

import numpy as np

from nnviz3d.protocol.messages import HIST_BINS, STAT_NAMES
from nnviz3d.protocol.probe_frame import encode_probe
from nnviz3d.record import RunWriter
from tests.conftest import zoo_graph

MODULES = ("stem.0", "head.3")


def probe_frame(
    step: int, kinds=("weight",), scalars=None, modules=MODULES, split="train"
) -> bytes:
    m = len(modules)
    res = {
        "step": step,
        "modules": list(modules),
        "stats": np.full((m, len(STAT_NAMES)), step, np.float32),
        "hist": np.zeros((m, HIST_BINS), np.uint32),
        "range": np.zeros((m, 2), np.float32),
    }
    return encode_probe(step, 0.0, split, scalars or {}, {k: res for k in kinds})


def write_run(path, steps: int = 5, kinds=("weight",)):
    """A digits-CNN recording of ``steps`` steps, each with a loss and a frame of ``kinds``."""
    w = RunWriter(path, zoo_graph("digits_cnn"))
    for step in range(steps):
        scalars = {"loss": 1.0 / (step + 1)}
        w.append(step, list(kinds), "train", scalars, probe_frame(step, kinds, scalars))
    w.close()
    return path
