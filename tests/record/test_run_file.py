import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from nnviz3d.record import FORMAT_VERSION, RunFileError, RunReader, RunWriter
from tests.conftest import zoo_graph
from tests.record.frames import probe_frame, write_run


def test_summary_and_graph_round_trip(tmp_path):
    graph = zoo_graph("digits_cnn")
    w = RunWriter(tmp_path / "r.nnv3d", graph)
    frames = []
    for step in range(5):
        kinds = ["weight"] if step % 2 == 0 else []
        scalars = {"loss": 1.0 / (step + 1)}
        frames.append(probe_frame(step, kinds, scalars))
        w.append(step, kinds, "train", scalars, frames[-1])
    w.close()
    r = RunReader(tmp_path / "r.nnv3d")
    s = r.summary()
    assert {
        k: s[k] for k in ("format_version", "model", "steps", "frames", "first_step", "last_step")
    } == {
        "format_version": FORMAT_VERSION,
        "model": "DigitsCNN",
        "steps": 5,
        "frames": 5,
        "first_step": 0,
        "last_step": 4,
    }
    assert s["bytes"] == (tmp_path / "r.nnv3d").stat().st_size
    assert r.graph().to_json() == graph.to_json()
    assert [d for _, _, _, d in r.frames()] == frames
    assert r.at_step(3) == [frames[2]]  # newest weight frame at or before step 3
    assert [row[0] for row in r.scalar_rows()] == [0, 1, 2, 3, 4]


def test_refuses_to_overwrite(tmp_path):
    RunWriter(tmp_path / "r.nnv3d", zoo_graph("digits_cnn")).close()
    with pytest.raises(FileExistsError):
        RunWriter(tmp_path / "r.nnv3d", zoo_graph("digits_cnn"))


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: p.write_bytes(b"hello, not a database at all" * 10), "not an nnviz3d run"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE x(a)").connection.commit(),
            "damaged run file",
        ),
    ],
)
def test_foreign_files_get_a_clear_error(tmp_path, make, message):
    p = tmp_path / "bad.nnv3d"
    make(p)
    with pytest.raises(RunFileError, match=message):
        RunReader(p)


def test_newer_format_is_refused(tmp_path):
    p = tmp_path / "new.nnv3d"
    RunWriter(p, zoo_graph("digits_cnn")).close()
    db = sqlite3.connect(p)
    db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(FORMAT_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(RunFileError, match="newer than this nnviz3d"):
        RunReader(p)


def test_truncated_file_is_damaged_not_a_crash(tmp_path):
    p = tmp_path / "t.nnv3d"
    w = RunWriter(p, zoo_graph("digits_cnn"))
    for i in range(50):
        w.append(i, ["weight"], "train", {}, probe_frame(i) + os.urandom(4000))
    w.close()
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(RunFileError):
        RunReader(p).summary()


def test_killed_process_leaves_a_file_that_replays_to_its_last_commit(tmp_path):
    path = tmp_path / "killed.nnv3d"
    script = textwrap.dedent(f"""
        import torch, nnviz3d, sys
        from nnviz3d import zoo
        m, x = zoo.digits_cnn()
        opt = torch.optim.SGD(m.parameters(), 0.01)
        w = nnviz3d.watch(m, x, record={str(path)!r}, serve=False, every=1)
        for i in range(100000):
            opt.zero_grad(); m(torch.randn(8, 1, 8, 8)).sum().backward(); opt.step()
            w.step(loss=float(i))
            if i == 30:
                print("running", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:  # (health alarms may be printed before)
        if line.strip() == "running":
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    r = RunReader(path)
    s = r.summary()
    assert s["frames"] >= 30 and s["last_step"] >= 29
    steps = [step for _, step, _, _ in r.frames()]
    assert steps == sorted(steps) and steps[0] == 0
    from nnviz3d.protocol.probe_frame import decode_probe

    for _, _, _, data in r.frames():
        decode_probe(data)  # every committed frame is whole


def test_replay_summary_cli(tmp_path):
    p = tmp_path / "s.nnv3d"
    w = RunWriter(p, zoo_graph("digits_cnn"))
    w.append(0, [], "train", {"loss": 1.0}, probe_frame(0, [], {"loss": 1.0}))
    w.close()
    out = subprocess.run(
        [sys.executable, "-m", "nnviz3d", "replay", str(p), "--summary", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {
        "format_version",
        "model",
        "steps",
        "frames",
        "first_step",
        "last_step",
        "bytes",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "nnviz3d", "replay", str(tmp_path / "x.nnv3d"), "--summary"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "no such run file" in bad.stderr
    assert "Traceback" not in bad.stderr


NAMES = ["run#1", "run?x", "a%20b", "with space", "naïve-日本", "a&b;c", "-lead", "%", "x?mode=rw#"]


@pytest.mark.parametrize("name", NAMES)
def test_any_file_name_records_and_replays_read_only(tmp_path, name):
    """The reader's file: URI quotes every character (# starts a fragment, ? a query, %20 is
    an escape), so the name opens that file and no other."""
    prefix = name.split("#")[0].split("?")[0].split("%")[0] or "x"
    if prefix != name:
        write_run(tmp_path / f"{prefix}.nnv3d", steps=2)  # what a raw URI opened instead
    path = tmp_path / f"{name}.nnv3d"
    write_run(path, steps=5)
    before = sorted(os.listdir(tmp_path))
    data = path.read_bytes()
    with RunReader(path) as r:
        assert r.summary()["frames"] == 5
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            r.db.execute("DELETE FROM frames")
    assert path.read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == before  # no stray file made by a misread name


def test_a_leading_dash_or_file_prefix_is_a_plain_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("-x.nnv3d", "file:y.nnv3d"):
        write_run(name, steps=3)
        assert (tmp_path / name).is_file()
        assert RunReader(name).summary()["frames"] == 3


def test_writer_claims_the_name_and_ignores_stale_side_files(tmp_path):
    """A deleted run's -wal left beside a new one of the same name is not replayed into it."""
    old = write_run(tmp_path / "r.nnv3d", steps=3)
    w = RunWriter(tmp_path / "keep.nnv3d", zoo_graph("digits_cnn"))  # holds a WAL open
    w.append(0, ["weight"], "train", {}, probe_frame(0))
    w.commit()
    os.replace(tmp_path / "keep.nnv3d-wal", tmp_path / "r.nnv3d-wal")
    old.unlink()
    write_run(tmp_path / "r.nnv3d", steps=2)
    assert RunReader(tmp_path / "r.nnv3d").summary()["frames"] == 2
    w.db.close()


def test_a_directory_or_a_file_in_the_way_is_named(tmp_path):
    (tmp_path / "d.nnv3d").mkdir()
    with pytest.raises(FileExistsError, match="is a directory"):
        RunWriter(tmp_path / "d.nnv3d", zoo_graph("digits_cnn"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        RunWriter(tmp_path / "f" / "r.nnv3d", zoo_graph("digits_cnn"))
    assert sorted(os.listdir(tmp_path)) == ["d.nnv3d", "f"]


def test_the_main_file_alone_opens_once_the_graph_is_written(tmp_path):
    """A run killed before its first checkpoint lived entirely in the -wal: the main file,
    copied alone, was 'damaged'. The writer checkpoints right after the graph."""
    w = RunWriter(tmp_path / "r.nnv3d", zoo_graph("digits_cnn"))
    w.append(0, ["weight"], "train", {}, probe_frame(0))
    w.commit()
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "r.nnv3d").write_bytes((tmp_path / "r.nnv3d").read_bytes())
    with RunReader(copy / "r.nnv3d") as r:
        assert r.graph().model == "DigitsCNN"
    w.close()
