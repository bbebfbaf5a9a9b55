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


def test_summary_and_graph_round_trip(tmp_path):
    graph = zoo_graph("digits_cnn")
    w = RunWriter(tmp_path / "r.nnv3d", graph)
    for step in range(5):
        w.append(step, ["weight"] if step % 2 == 0 else [], "train", {"loss": 1.0 / (step + 1)},
                 bytes([step]) * 100)
    w.close()
    r = RunReader(tmp_path / "r.nnv3d")
    s = r.summary()
    assert {k: s[k] for k in ("format_version", "model", "steps", "frames", "first_step",
                              "last_step")} == {"format_version": FORMAT_VERSION,
                                                "model": "DigitsCNN", "steps": 5, "frames": 5,
                                                "first_step": 0, "last_step": 4}
    assert s["bytes"] == (tmp_path / "r.nnv3d").stat().st_size
    assert r.graph().to_json() == graph.to_json()
    assert [d for _, _, _, d in r.frames()] == [bytes([i]) * 100 for i in range(5)]
    assert r.at_step(3) == [bytes([2]) * 100]  # newest weight frame at or before step 3
    assert [row[0] for row in r.scalar_rows()] == [0, 1, 2, 3, 4]


def test_refuses_to_overwrite(tmp_path):
    RunWriter(tmp_path / "r.nnv3d", zoo_graph("digits_cnn")).close()
    with pytest.raises(FileExistsError):
        RunWriter(tmp_path / "r.nnv3d", zoo_graph("digits_cnn"))


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b"hello, not a database at all" * 10), "not an nnviz3d run"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE x(a)").connection.commit(),
     "damaged run file"),
])
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
        w.append(i, ["weight"], "train", {}, os.urandom(4000))
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
    w.append(0, [], "train", {"loss": 1.0}, b"x")
    w.close()
    out = subprocess.run([sys.executable, "-m", "nnviz3d", "replay", str(p), "--summary",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) >= {"format_version", "model", "steps", "frames", "first_step",
                        "last_step", "bytes"}
    bad = subprocess.run([sys.executable, "-m", "nnviz3d", "replay", str(tmp_path / "x.nnv3d"),
                          "--summary"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such run file" in bad.stderr
    assert "Traceback" not in bad.stderr
