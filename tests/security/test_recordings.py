"""Hostile recordings: a ``.nnv3d`` file from a stranger is untrusted input. Each of this
corpus (built here, programmatically) is refused within seconds with one sentence naming the
file, through the Python API and through ``nnviz3d replay --summary``: no hang, no traceback,
no error that leaves the reader guessing which file."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from nnviz3d.cli import main
from nnviz3d.protocol.codec import PREFIX
from nnviz3d.record import RunFileError, RunReader, run_file, run_reader
from tests.record.frames import probe_frame, write_run

SECONDS = 5.0


def edit(sql: str, *params):
    """A recipe: a valid recording, then ``sql`` run on it (a hostile editor's work)."""

    def make(path):
        write_run(path)
        db = sqlite3.connect(path)
        if params:
            db.execute(sql, params)
        else:
            db.executescript(sql)
        db.commit()
        db.close()

    return make


def meta(key: str, value):
    return edit("UPDATE meta SET value = ? WHERE key = ?", value, key)


def graph(change):
    def make(path):
        write_run(path)
        db = sqlite3.connect(path)
        g = json.loads(db.execute("SELECT value FROM meta WHERE key = 'graph'").fetchone()[0])
        change(g)
        db.execute("UPDATE meta SET value = ? WHERE key = 'graph'", (json.dumps(g),))
        db.commit()
        db.close()

    return make


def frame(data: bytes, kinds: str = "weight", step: int = 2):
    return edit("UPDATE frames SET data = ?, kinds = ? WHERE step = ?", data, kinds, step)


def with_header(header) -> bytes:
    raw = json.dumps(header).encode()
    return PREFIX.pack(b"NV3D", 1, 0, len(raw)) + raw


INFINITE = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)"
GOOD = probe_frame(2)

CORPUS = {
    # schemas that are not tables, or not ours
    "infinite frames view": edit(f"""DROP TABLE frames; CREATE VIEW frames AS {INFINITE}
        SELECT n AS seq, 0 AS step, 'weight' AS kinds, 'train' AS split, '{{}}' AS scalars,
        x'00' AS data FROM c;"""),
    "infinite meta view": edit(f"""ALTER TABLE meta RENAME TO m0; CREATE VIEW meta AS
        SELECT * FROM m0 UNION ALL SELECT * FROM (
        {INFINITE} SELECT 'k' || n AS key, 'v' AS value FROM c);"""),
    "trigger": edit("CREATE TRIGGER t AFTER INSERT ON frames BEGIN DELETE FROM meta; END;"),
    "virtual frames table": edit("""DROP TABLE frames; CREATE VIRTUAL TABLE frames USING
        fts5(seq, step, kinds, split, scalars, data);"""),
    "generated column": edit("""DROP TABLE frames; CREATE TABLE frames(seq INTEGER PRIMARY
        KEY, step INTEGER, kinds TEXT, split TEXT, scalars TEXT,
        data BLOB AS (zeroblob(100000000)));"""),
    "missing frames table": edit("DROP TABLE frames;"),
    "wrong columns": edit("ALTER TABLE frames ADD COLUMN extra;"),
    "a thousand tables": edit("".join(f"CREATE TABLE t{i}(a);" for i in range(300))),
    "a hundred meta rows": edit(
        "".join(f"INSERT INTO meta VALUES ('k{i}', 'v');" for i in range(100))
    ),
    # meta
    "no magic": edit("DELETE FROM meta WHERE key = 'magic';"),
    "megabyte magic": meta("magic", "x" * 1_000_000),
    "format_version not a number": meta("format_version", "one"),
    "format_version fraction": meta("format_version", "1.5"),
    "format_version huge": meta("format_version", "9" * 40),
    "format_version zero": meta("format_version", "0"),
    "newer format": meta("format_version", "2"),
    "meta value a blob": edit("UPDATE meta SET value = x'00ff' WHERE key = 'model';"),
    # graph
    "graph not JSON": meta("graph", "{nope"),
    "graph deeply nested": meta("graph", "[" * 100_000 + "]" * 100_000),
    "graph a list": meta("graph", "[]"),
    "no graph": edit("DELETE FROM meta WHERE key = 'graph';"),
    "unknown node field": graph(lambda g: g["nodes"][1].update(evil=1)),
    "node field of a wrong type": graph(lambda g: g["nodes"][1].update(params="many")),
    "node without a path": graph(lambda g: g["nodes"][1].pop("path")),
    "edge to no node": graph(lambda g: g["edges"][0].update(dst="nowhere")),
    "duplicate nodes": graph(lambda g: g["nodes"].append(g["nodes"][1])),
    "huge shape": graph(lambda g: g["nodes"][1].update(output_shapes=[[1] * 100_000])),
    # rows
    "frames numbered by text": edit("""DROP TABLE frames; CREATE TABLE frames(seq, step,
        kinds, split, scalars, data); INSERT INTO frames VALUES ('a', 0, '', 'train', '{}',
        x'00'), (1, 1, '', 'train', '{}', x'00');"""),
    "step as text": edit("UPDATE frames SET step = 'x' WHERE step = 2;"),
    "negative step": edit("UPDATE frames SET step = -5 WHERE step = 2;"),
    "step past int32": edit("UPDATE frames SET step = 1 << 40 WHERE step = 2;"),
    "unknown kind": edit("UPDATE frames SET kinds = 'weight,evil' WHERE step = 2;"),
    "kinds a number": edit("UPDATE frames SET kinds = 7 WHERE step = 2;"),
    "split unknown": edit("UPDATE frames SET split = 'test' WHERE step = 2;"),
    "scalars not JSON": edit("UPDATE frames SET scalars = '{' WHERE step = 2;"),
    "scalars a list": edit("UPDATE frames SET scalars = '[1, 2]' WHERE step = 2;"),
    "scalar a string": edit("""UPDATE frames SET scalars = '{"loss": "abc"}' WHERE step = 2;"""),
    "scalars deeply nested": edit(
        "UPDATE frames SET scalars = ? WHERE step = 2", "[" * 100_000 + "]" * 100_000
    ),
    "scalars 2 MB": edit(
        "UPDATE frames SET scalars = ? WHERE step = 2",
        json.dumps({"loss": 1.0, "pad": "x" * 2_000_000}),
    ),
    "two thousand metric names": edit(
        "UPDATE frames SET scalars = ? WHERE step = 2",
        json.dumps({f"m{i}": 1.0 for i in range(2000)}),
    ),
    "frame as text": edit("UPDATE frames SET data = 'text' WHERE step = 2;"),
    # frames
    "garbage frame": frame(os.urandom(3000)),
    "empty frame": frame(b""),
    "frame header not JSON": frame(with_header(None)[:12] + b"{not json" + b" " * 7),
    "frame header a list": frame(with_header([1, 2])),
    "frame header claims 4 GB": frame(PREFIX.pack(b"NV3D", 1, 0, 0xFFFFFFFF) + b"{}"),
    "frame array past its end": frame(
        with_header(
            {
                "type": "probe",
                "arrays": [
                    {
                        "name": "a",
                        "dtype": "f4",
                        "shape": [1 << 40],
                        "offset": 16,
                        "nbytes": 4 << 40,
                    }
                ],
            }
        )
    ),
    "frame array of negative size": frame(
        with_header(
            {
                "type": "probe",
                "arrays": [
                    {"name": "a", "dtype": "f4", "shape": [-1, 4], "offset": 16, "nbytes": -16}
                ],
            }
        )
    ),
    "frame of another step": frame(probe_frame(3)),
    "frame kinds differ from the row": frame(GOOD, kinds="grad"),
    "frame missing its arrays": frame(
        with_header(
            {
                "type": "probe",
                "step": 2,
                "split": "train",
                "scalars": {},
                "kinds": {"weight": {"step": 2, "modules": ["a"]}},
                "matrices": [],
                "alarms": [],
            }
        )
    ),
    "frame module list not strings": frame(
        with_header(
            {
                "type": "probe",
                "step": 2,
                "split": "train",
                "scalars": {},
                "kinds": {"weight": {"step": 2, "modules": [1]}},
            }
        )
    ),
    "frame of type scene": frame(with_header({"type": "scene"})),
    "embedding row with a probe frame": frame(GOOD, kinds="embedding"),
    # files that are not recordings
    "empty file": lambda p: p.write_bytes(b""),
    "zip renamed": lambda p: zipfile.ZipFile(p, "w").writestr("a.txt", "hello"),
    "text file": lambda p: p.write_text("hello, not a database at all\n" * 10),
    "SQLite magic then garbage": lambda p: p.write_bytes(run_file.SQLITE_MAGIC + os.urandom(8192)),
    "header claims more pages": lambda p: _claims_more(write_run(p)),
    "header page size 3": lambda p: _page_size(write_run(p), 3),
    "a directory": lambda p: p.mkdir(),
    "a symlink loop": lambda p: os.symlink(p, p),
}
if hasattr(os, "mkfifo"):
    CORPUS["a FIFO"] = lambda p: os.mkfifo(p)


def _claims_more(path) -> None:
    data = bytearray(path.read_bytes())
    data[28:32] = (1 << 20).to_bytes(4, "big")  # a million pages, in a file of a few
    path.write_bytes(bytes(data))


def _page_size(path, size: int) -> None:
    data = bytearray(path.read_bytes())
    data[16:18] = size.to_bytes(2, "big")
    path.write_bytes(bytes(data))


def read_everything(path) -> None:
    r = RunReader(path)
    try:
        r.summary()
        r.graph()
        for _ in r.frames():
            pass
        r.scalar_rows()
        r.at_step(10)
    finally:
        r.close()


def refused_in_time(path) -> tuple[str, float]:
    """The Python API's refusal, on a thread so that a hang fails the test instead of
    hanging it (the thread is left behind, a daemon)."""
    out: list = []

    def run():
        try:
            read_everything(path)
            out.append(None)
        except BaseException as exc:  # noqa: BLE001 - the test looks at what it was
            out.append(exc)

    start = time.monotonic()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(SECONDS * 2)
    took = time.monotonic() - start
    assert out, f"{path.name}: still reading after {took:.0f} s"
    assert isinstance(out[0], RunFileError), repr(out[0])
    return str(out[0]), took


def one_sentence_naming(message: str, path) -> None:
    assert str(path) in message, message
    assert "\n" not in message and len(message) < len(str(path)) + 400, message
    assert "Traceback" not in message


@pytest.mark.parametrize("case", list(CORPUS))
def test_hostile_recording_is_refused_in_one_sentence(tmp_path, capsys, case):
    path = tmp_path / f"{case.replace(' ', '-')}.nnv3d"
    CORPUS[case](path)
    message, took = refused_in_time(path)
    one_sentence_naming(message, path)
    assert took < SECONDS, (case, took)
    start = time.monotonic()
    capsys.readouterr()
    rc = main(["replay", str(path), "--summary"])
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert rc != 0 and not out.strip() and took < SECONDS, (rc, out, took)
    assert err.count("\n") == 1 and err.startswith("nnviz3d: error: "), err
    one_sentence_naming(err.strip(), path)


def test_views_are_refused_at_once(tmp_path):
    path = tmp_path / "view.nnv3d"
    CORPUS["infinite frames view"](path)
    start = time.monotonic()
    with pytest.raises(RunFileError, match="holds a view .* only tables"):
        RunReader(path)
    took = time.monotonic() - start
    print(f"infinite view refused in {took * 1000:.1f} ms")
    assert took < 1.0


@pytest.mark.parametrize(
    "case", ["infinite meta view", "garbage frame", "a FIFO", "unknown node field"]
)
def test_the_command_line_says_one_sentence_and_no_traceback(tmp_path, case):
    if case not in CORPUS:
        pytest.skip("no FIFOs here")
    path = tmp_path / "hostile.nnv3d"
    CORPUS[case](path)
    proc = subprocess.run(
        [sys.executable, "-m", "nnviz3d", "replay", str(path), "--summary"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert str(path) in proc.stderr


def test_a_query_past_its_time_is_interrupted(tmp_path, monkeypatch):
    """Every query runs under a progress handler: should anything slip past the schema
    checks, it is stopped after QUERY_SECONDS, not left running."""
    monkeypatch.setattr(run_reader, "QUERY_SECONDS", 0.2)
    r = RunReader(write_run(tmp_path / "r.nnv3d"))
    start = time.monotonic()
    with pytest.raises(RunFileError, match="ran past 0.2 s"):
        r._query(f"{INFINITE} SELECT count(*) FROM c")
    assert time.monotonic() - start < 2
    assert r.summary()["frames"] == 5  # the reader is still usable


def test_a_frame_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(run_reader, "MAX_VALUE_BYTES", 1 << 20)
    path = tmp_path / "big.nnv3d"
    frame(GOOD + b"\0" * (2 << 20))(path)
    with pytest.raises(RunFileError, match="claims 2,09.* bytes, more than 1,048,576"):
        read_everything(path)
    big_graph = tmp_path / "big-graph.nnv3d"
    meta("graph", "[" + " " * (2 << 20) + "]")(big_graph)
    with pytest.raises(RunFileError, match="larger than 1,048,576 bytes"):
        RunReader(big_graph)


def test_a_path_the_os_cannot_name(tmp_path):
    with pytest.raises(RunFileError, match="cannot read it"):
        RunReader(str(tmp_path / "a\0b.nnv3d"))


def test_a_good_recording_still_reads_after_the_corpus(tmp_path):
    path = write_run(tmp_path / "good.nnv3d", steps=7)
    shutil.copy(path, tmp_path / "copy.nnv3d")
    read_everything(tmp_path / "copy.nnv3d")
    assert RunReader(path).summary()["frames"] == 7
