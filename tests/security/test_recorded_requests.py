"""Hostile recorded requests: the ``requests`` table of a recording (Grad-CAM, feature
visualisation and landscape answers recorded during the run) is untrusted like the rest.
Lying sizes, wrong kinds and arguments are one RunFileError naming the file; a name with
markup is kept as text (the viewer writes it with textContent) and never changes the answer."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from nnviz3d.protocol.overlay_frame import encode_overlays
from nnviz3d.record import RunFileError, RunReader
from nnviz3d.record.recorded_requests import RecordedRequests
from nnviz3d.scene.overlay import Overlay
from tests.record.frames import probe_frame, write_run

MARKUP = '<img src=x onerror="alert(1)">'


def answer(kind="feature", step=2, module=MARKUP) -> bytes:
    grid = Overlay(
        "grid",
        module,
        "feature",
        {"values": np.zeros((4, 4), np.float32)},
        {"colormap": "viridis", "stops": [], "lo": 0, "hi": 1, "units": "", "missing": ""},
    )
    return encode_overlays(kind, step, [grid], module=module, unit=1)


def recording(tmp_path, *rows):
    path = write_run(tmp_path / "run.nnv3d")
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO requests(step, kind, args, data) VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return path


def read_all(path):
    with RunReader(path) as reader:
        return [reader.request_frame(r) for r in reader.requests()]


def test_markup_in_a_recorded_name_is_text(tmp_path):
    data = answer()
    path = recording(tmp_path, (2, "feature", json.dumps([MARKUP, 1]), data))
    assert read_all(path) == [data]
    with RunReader(path) as reader:
        replay = RecordedRequests(lambda: RunReader(path), reader.requests())
    got = {}
    replay.request("feature", (MARKUP, 2), lambda d, e: got.update(d=d, e=e))
    assert got["d"] is None and MARKUP[:20] in got["e"]  # said as text, clipped, not run


@pytest.mark.parametrize(
    "row, said",
    [
        ((2, "feature", json.dumps([MARKUP, 1]), answer()[:-40]), "does not decode"),  # lying size
        ((2, "feature", json.dumps([MARKUP, 1]), answer(step=3)), "says step 3"),
        ((2, "landscape", json.dumps([21]), answer()), "not landscape overlays"),
        (
            (2, "feature", json.dumps([MARKUP, 1]), probe_frame(2, ("weight",), {})),
            "not feature overlays",
        ),
    ],
)
def test_lying_recorded_answers_are_refused(tmp_path, row, said):
    path = recording(tmp_path, row)
    with pytest.raises(RunFileError) as err:
        read_all(path)
    assert str(path) in str(err.value) and said in str(err.value)


@pytest.mark.parametrize(
    "row, said",
    [
        ((2, "shell", "[]", b"x"), "request kind 'shell'"),
        ((2, "feature", "not json", b"x"), "not JSON"),
        ((2, "feature", json.dumps(["a" * 600, 1]), b"x"), "longer than 512"),
        ((2, "inspect", json.dumps([1, "grad_cam"]), b"x"), "not index, method, target"),
        ((2, "inspect", json.dumps([True, "grad_cam", 1]), b"x"), "not index, method, target"),
        ((2, "landscape", json.dumps([21]), "text"), "not bytes"),
        ((-4, "landscape", json.dumps([21]), b"x"), "step -4"),
        ((2, "landscape", "[" * 2000 + "]" * 2000, b"x"), "not JSON text of at most 1024"),
    ],
)
def test_lying_recorded_requests_are_refused(tmp_path, row, said):
    path = recording(tmp_path, row)
    with pytest.raises(RunFileError) as err:
        read_all(path)
    assert str(path) in str(err.value) and said in str(err.value)


def test_a_recording_without_the_table_still_replays(tmp_path):
    """Recordings made before requests were recorded have no ``requests`` table."""
    path = write_run(tmp_path / "old.nnv3d")
    db = sqlite3.connect(path)
    db.execute("DROP TABLE requests")
    db.commit()
    db.close()
    with RunReader(path) as reader:
        assert reader.requests() == [] and reader.summary()["frames"] == 5


def test_a_requests_table_of_other_columns_is_refused(tmp_path):
    path = write_run(tmp_path / "odd.nnv3d")
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE requests; CREATE TABLE requests(seq INTEGER, sql TEXT);")
    db.commit()
    db.close()
    with pytest.raises(RunFileError, match="requests table has columns"):
        RunReader(path)


@pytest.mark.parametrize("count", ["-1", "0", "1e9", "<b>8</b>", "99999999"])
def test_a_lying_count_of_inputs_is_refused(tmp_path, count):
    path = write_run(tmp_path / "count.nnv3d")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO meta VALUES ('probe_inputs', ?)", (count,))
    db.commit()
    db.close()
    with RunReader(path) as reader, pytest.raises(RunFileError, match="probe_inputs"):
        reader.probe_inputs()
