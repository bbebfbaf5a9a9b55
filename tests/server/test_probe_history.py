"""What the server keeps of past probe frames for the ridges and scatter."""

import time

import numpy as np
import torch

from nnviz3d.capture.probes import Probes
from nnviz3d.protocol.overlay_frame import decode_overlays
from nnviz3d.protocol.probe_frame import encode_probe
from nnviz3d.server.probe_history import ProbeHistory


def frame(model, probes, step, matrices=True):
    w = {k: v.numpy() if hasattr(v, "numpy") else v for k, v in probes.weights().items()}
    w["step"] = step
    mats = [{**m, "data": m["data"].numpy()} for m in probes.matrices()] if matrices else []
    return encode_probe(step, time.time(), "train", {}, {"weight": w}, mats)


def test_series_stay_bounded_and_span_the_run():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    probes = Probes(model)
    history = ProbeHistory(limit=16)
    for step in range(100):
        history.add(frame(model, probes, step, matrices=step % 10 == 0))
    s = history.series[("weight", "0")]
    assert len(s.steps) <= 16 and s.steps[0] == 0 and s.steps[-1] >= 100 - s.stride
    assert s.steps == sorted(s.steps)
    assert history.matrices["0"][0] == 90  # the newest matrix


def test_detail_overlays_are_ridges_and_a_scatter_built_off_a_snapshot():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    probes = Probes(model)
    history = ProbeHistory()
    for step in range(4):
        history.add(frame(model, probes, step))
    snap = history.snapshot("2")
    history.add(frame(model, probes, 4))  # arrives while a worker builds from the snapshot
    header, overlays = decode_overlays(history.build_detail("2", snap, 3))
    assert header["module"] == "2" and header["channel"] == "detail"
    kinds = {o.name: o for o in overlays}
    assert set(kinds) == {"weight_hist", "weight_pca"}
    ridge = kinds["weight_hist"]
    assert ridge.arrays["steps"].tolist() == [0, 1, 2, 3]
    # every row counts the layer's 18 parameters (15 weights and 3 biases)
    np.testing.assert_allclose(ridge.arrays["values"].sum(axis=1), 18, rtol=1e-5)
    assert kinds["weight_pca"].arrays["positions"].shape == (3, 3)
