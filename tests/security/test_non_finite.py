"""A run whose loss turns NaN keeps the viewer going: frames with NaN/Inf numbers decode in the
browser (their JSON headers carry no bare NaN), the page follows every step after the NaN, and
the chart, the timeline, the info panel, the health panel and the block colours say "NaN" in red
without a page error. Old recordings, written with bare NaN in their headers, still replay."""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest
import torch

import nnviz3d
from nnviz3d.protocol import codec
from nnviz3d.record import RunReader
from nnviz3d.record.run_file import RunWriter
from nnviz3d.replay import serve_replay
from tests.security.conftest import wait_ready

NAN_AT = 3
"""The step whose loss is the first NaN (a weight is set to NaN before it)."""
STEPS = 8


def tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def train(model, w, steps=STEPS, nan_at=NAN_AT):
    """SGD steps under ``w``; before step ``nan_at`` a weight becomes NaN, so the loss (and
    every gradient and weight after it) is NaN from there on. The learning-rate metric is
    infinite throughout (a metric may be any float)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for step in range(steps):
        if step == nan_at:
            with torch.no_grad():
                model[0].weight[0, 0] = float("nan")
        loss = torch.nn.functional.cross_entropy(
            model(torch.randn(16, 8)), torch.randint(0, 2, (16,))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item(), lr=float("inf"))
        losses.append(loss.item())
    assert np.isnan(losses[nan_at]) and np.isfinite(losses[nan_at - 1])
    return losses


def check_page_after_nan(page, console_errors, last_step):
    page.wait_for_function(f"nnviz3d.step === {last_step}", timeout=60_000)
    # the chart: the newest loss is NaN, written in red on the chart; the lr metric is Inf
    page.wait_for_function(
        "nnviz3d.chart.latest && nnviz3d.chart.latest.value === 'NaN'", timeout=20_000
    )
    chart = page.evaluate("nnviz3d.chart")
    assert chart["latest"]["step"] == last_step and chart["nonfinite"] >= 1
    # the timeline readout: "loss NaN" in red
    readout = page.locator("#tl-step .nonfinite")
    assert readout.inner_text() == "NaN"
    assert readout.evaluate("e => getComputedStyle(e).color") == "rgb(255, 74, 74)"
    # the health panel lists the NaN alarm of the layer, its kind in red
    page.wait_for_function(
        "nnviz3d.alarms.some(a => a.alarm === 'nan' && a.module === '0')", timeout=20_000
    )
    assert page.locator("#health li[data-alarm='nan'][data-module='0'] b.nonfinite").count() == 1
    # the info panel of the layer says NaN/Inf in red, with its NaN count
    page.evaluate("nnviz3d.select('0')")
    page.wait_for_selector("#info .probe-title .nonfinite", timeout=10_000)
    assert page.locator("#info .probe-title .nonfinite").inner_text() == "NaN/Inf"
    assert int(page.locator("#info td[data-stat='weight.nan']").inner_text()) > 0
    # colours: the NaN layer is "invalid" red; the scale's ends stay finite numbers
    page.evaluate("nnviz3d.setColorBy('weight_norm')")
    page.wait_for_function("nnviz3d.colorBy === 'weight_norm'")
    red = page.evaluate("nnviz3d.blockColor('0')")
    assert red[0] > 0.9 and red[1] < 0.1 and red[2] < 0.1
    assert "NaN/Inf" in page.locator("#legend-scale").inner_text()
    for end in page.locator("#legend-scale [data-scale]").all_inner_texts():
        assert end not in ("NaN", "Inf", "−Inf")
    page.evaluate("nnviz3d.setColorBy('kind')")
    assert page.errors == []
    assert console_errors == []


def test_a_nan_loss_does_not_stop_the_live_viewer(page, console_errors, tmp_path):
    model = tiny_model()
    w = nnviz3d.watch(
        model,
        torch.randn(1, 8),
        record=tmp_path / "nan.nnv3d",
        open_browser=False,
        port=0,
        every=1,
        quiet=True,
    )
    try:
        page.goto(w.url)
        wait_ready(page)
        train(model, w)
        check_page_after_nan(page, console_errors, STEPS - 1)
        # seeking back before the NaN and forward past it works too
        page.evaluate(f"nnviz3d.seek({NAN_AT - 1})")
        page.wait_for_function(
            f"nnviz3d.step === {NAN_AT - 1} && nnviz3d.live === false", timeout=20_000
        )
        page.evaluate(f"nnviz3d.seek({NAN_AT + 1})")
        page.wait_for_function(f"nnviz3d.step === {NAN_AT + 1}", timeout=20_000)
        page.evaluate("nnviz3d.follow()")
        page.wait_for_function(f"nnviz3d.live && nnviz3d.step === {STEPS - 1}", timeout=20_000)
        page.click("#btn-reset")  # the whole scene, chart included
        page.wait_for_timeout(800)
        shot = page.screenshot(path=str(tmp_path / "nan_view.png"))
        if os.environ.get("NNVIZ3D_NAN_SCREENSHOT"):  # to look at it: a path to write it to
            pathlib.Path(os.environ["NNVIZ3D_NAN_SCREENSHOT"]).write_bytes(shot)
        assert page.errors == [] and console_errors == []
    finally:
        w.close()
        w.close_viewer()


def legacy_frames(monkeypatch, path):
    """Re-encode every frame of the recording at ``path`` as nnviz3d wrote them before the
    ``nonfinite`` map: bare NaN/Infinity tokens in the header JSON."""
    reader = RunReader(path)
    rows = [(step, kinds, data) for _, step, kinds, data in reader.frames()]
    scalars = reader.scalar_rows()
    graph = reader.graph()
    reader.close()
    with monkeypatch.context() as m:
        m.setattr(codec, "json_safe", lambda obj: dict(obj))
        m.setattr(codec, "_dumps", lambda obj: json.dumps(obj, separators=(",", ":")))
        out = [
            (step, kinds, codec.encode_frame(*_header_and_arrays(data)))
            for step, kinds, data in rows
        ]
    return graph, out, scalars


def _header_and_arrays(data):
    header, arrays = codec.decode_frame(data)
    header = {k: v for k, v in header.items() if k != "arrays"}
    return header, {k: np.array(v) for k, v in arrays.items()}


def test_an_old_recording_with_bare_nan_headers_still_replays(
    page, console_errors, tmp_path, monkeypatch
):
    model = tiny_model()
    w = nnviz3d.watch(
        model, torch.randn(1, 8), record=tmp_path / "new.nnv3d", serve=False, every=1, quiet=True
    )
    try:
        train(model, w)
    finally:
        w.close()
    graph, frames, scalars = legacy_frames(monkeypatch, tmp_path / "new.nnv3d")
    bare = [data for _, _, data in frames if b"NaN" in data[:4096]]
    assert bare, "the legacy encoder should write bare NaN tokens"
    with pytest.raises(ValueError):  # what a browser's JSON.parse says about such a header
        raw = bare[0]
        json.loads(raw[12 : 12 + int.from_bytes(raw[8:12], "little")], parse_constant=_refuse)
    old = tmp_path / "old.nnv3d"
    writer = RunWriter(old, graph)
    by_step = {s: d for s, _, d in scalars}
    for step, kinds, data in frames:
        writer.append(step, kinds, "train", by_step.get(step, {}), data)
    writer.close()
    handle = serve_replay(RunReader(old), open_browser=False, quiet=True, port=0)
    try:
        page.goto(handle.url)
        wait_ready(page)
        page.evaluate(f"nnviz3d.seek({STEPS - 1})")
        check_page_after_nan(page, console_errors, STEPS - 1)
    finally:
        handle.close()


def _refuse(token):
    raise ValueError(f"bare {token} is not JSON")


def test_a_gltf_export_of_a_nan_run_validates_and_names_its_nan_values(tmp_path):
    from nnviz3d.export import export_gltf
    from tests.export.conftest import glb_json, validate

    model = tiny_model()
    path = tmp_path / "nan.nnv3d"
    w = nnviz3d.watch(model, torch.randn(1, 8), record=path, serve=False, every=1, quiet=True)
    try:
        train(model, w)
    finally:
        w.close()
    outs = {
        "step": export_gltf(path, tmp_path / "step.glb", step=STEPS - 1, color_by="grad_norm"),
        "animated": export_gltf(path, tmp_path / "anim.glb", animate=True),
        "model": export_gltf(model, tmp_path / "model.glb", example_inputs=torch.randn(1, 8)),
    }
    for report in validate(*(r.path for r in outs.values())):
        assert report["issues"]["numErrors"] == 0, report["issues"]["messages"]
        assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"]
    tree = glb_json(outs["step"].data)
    raw = outs["step"].data
    assert b"NaN" not in raw[: 20 + int.from_bytes(raw[12:16], "little")].replace(b'"NaN"', b"")
    extras = next(n["extras"] for n in tree["nodes"] if n.get("name") == "/model/0")
    # the weight update ratio of the NaN layer is NaN: null in JSON, named in "nonfinite"
    assert extras["stats"]["weight"]["update_ratio"] is None
    assert extras["nonfinite"]["/stats/weight/update_ratio"] == "NaN"
    assert extras["stats"]["weight"]["nan"] > 0
