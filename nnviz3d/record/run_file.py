"""Recordings of runs: one SQLite file (WAL) holding the graph and every frame sent live.

Schema (``FORMAT_VERSION`` 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)   magic, format_version, model, graph (JSON),
                                             created, nnviz3d_version
    frames(seq INTEGER PRIMARY KEY, step INTEGER, kinds TEXT, split TEXT, scalars TEXT,
           data BLOB)                        data = the binary probe frame, byte for byte

A frame is visible to readers once its batch is committed; a process killed mid-run leaves a
file that opens and replays up to its last committed batch.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from .. import __version__
from ..graph import Edge, Graph, Node

MAGIC = "nnviz3d-run"
FORMAT_VERSION = 1
SUFFIX = ".nnv3d"
SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite file, so of every recording."""
EMBEDDING = "embedding"
"""Kinds of a frame holding one layer's feature embedding (an ``overlays`` frame)."""
MATRICES = "mat"
"""Extra tag in a frame's kinds when it carries downsampled weight matrices (for overlays)."""


class RunFileError(ValueError):
    """A run file that cannot be read; the message names the file and what was wrong."""


class RunWriter:
    def __init__(self, path: str | Path, graph: Graph) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            raise FileExistsError(f"{self.path} already exists; choose another record= name")
        self.db = sqlite3.connect(str(self.path), check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript("""
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE frames(seq INTEGER PRIMARY KEY, step INTEGER NOT NULL,
                                kinds TEXT NOT NULL, split TEXT NOT NULL, scalars TEXT,
                                data BLOB NOT NULL);
            CREATE INDEX frames_step ON frames(step);
        """)
        meta = {"magic": MAGIC, "format_version": str(FORMAT_VERSION), "model": graph.model,
                "graph": json.dumps(graph_to_json(graph)), "created": str(time.time()),
                "nnviz3d_version": __version__}
        self.db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        self.db.commit()
        self.frames = 0

    def append(self, step: int, kinds: list[str], split: str, scalars: dict, data: bytes) -> None:
        self.db.execute("INSERT INTO frames(step, kinds, split, scalars, data) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (int(step), ",".join(kinds), split, json.dumps(scalars), data))
        self.frames += 1

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        try:
            self.db.commit()
        finally:
            self.db.close()


def is_run_file(path: str | Path) -> bool:
    """A recording (``.nnv3d``, or any SQLite file), as opposed to a model file or SPEC."""
    p = Path(path)
    if p.suffix == SUFFIX:
        return True
    try:
        with open(p, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


class RunReader:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise RunFileError(f"{self.path}: no such run file")
        with open(self.path, "rb") as fh:
            head = fh.read(16)
        if head != SQLITE_MAGIC:
            raise RunFileError(f"{self.path}: not an nnviz3d run (expected an SQLite file "
                               f"starting 'SQLite format 3', found {head[:16]!r})")
        try:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                      check_same_thread=False)
            meta = dict(self.db.execute("SELECT key, value FROM meta"))
            self.db.execute("SELECT count(*) FROM frames").fetchone()
        except sqlite3.DatabaseError as exc:
            raise RunFileError(f"{self.path}: damaged run file ({exc})") from exc
        if meta.get("magic") != MAGIC:
            raise RunFileError(f"{self.path}: SQLite file but not an nnviz3d run "
                               f"(magic {meta.get('magic')!r})")
        version = int(meta.get("format_version", "0"))
        if version > FORMAT_VERSION:
            raise RunFileError(f"{self.path}: run format {version} is newer than this nnviz3d "
                               f"({__version__}, format {FORMAT_VERSION}): upgrade nnviz3d")
        self.meta = meta
        self.format_version = version
        self.model = meta.get("model", "?")

    def graph(self) -> Graph:
        return graph_from_json(json.loads(self.meta["graph"]))

    def summary(self) -> dict:
        try:
            frames, first, last, steps, size = self.db.execute(
                "SELECT count(*), min(step), max(step), count(DISTINCT step), "
                "coalesce(sum(length(data)), 0) FROM frames").fetchone()
        except sqlite3.DatabaseError as exc:
            raise RunFileError(f"{self.path}: damaged run file ({exc})") from exc
        return {"format_version": self.format_version, "model": self.model, "steps": steps,
                "frames": frames, "first_step": first, "last_step": last,
                "bytes": self.path.stat().st_size, "frame_bytes": size}

    def frames(self):
        """``(seq, step, kinds, data)`` in recording order."""
        for seq, step, kinds, data in self.db.execute(
                "SELECT seq, step, kinds, data FROM frames ORDER BY seq"):
            yield seq, step, kinds.split(",") if kinds else [], bytes(data)

    def scalar_rows(self) -> list[tuple[int, str, dict]]:
        return [(step, split, json.loads(sc or "{}")) for step, split, sc in self.db.execute(
            "SELECT step, split, scalars FROM frames WHERE scalars != '{}' ORDER BY seq")]

    def at_step(self, step: int) -> list[bytes]:
        """The frames holding the newest value of each kind at or before ``step`` (and the
        newest frame carrying weight matrices), in recording order."""
        out: dict[int, bytes] = {}
        for kind in ("weight", "grad", "act", MATRICES):
            row = self.db.execute(
                "SELECT seq, data FROM frames WHERE step <= ? AND (',' || kinds || ',') LIKE ? "
                "ORDER BY step DESC, seq DESC LIMIT 1", (step, f"%,{kind},%")).fetchone()
            if row:
                out[row[0]] = bytes(row[1])
        return [out[k] for k in sorted(out)]

    def close(self) -> None:
        self.db.close()


def graph_to_json(graph: Graph) -> dict:
    import dataclasses

    return {"model": graph.model, "strategy": graph.strategy, "device": graph.device,
            "total_params": graph.total_params, "trainable_params": graph.trainable_params,
            "seconds": graph.seconds, "notes": graph.notes,
            "nodes": [dataclasses.asdict(n) for n in graph.nodes],
            "edges": [dataclasses.asdict(e) for e in graph.edges]}


def graph_from_json(d: dict) -> Graph:
    return Graph(model=d["model"], strategy=d["strategy"], device=d.get("device", "cpu"),
                 total_params=d["total_params"], trainable_params=d["trainable_params"],
                 seconds=d.get("seconds", 0.0), notes=d.get("notes", []),
                 nodes=[Node(**n) for n in d["nodes"]], edges=[Edge(**e) for e in d["edges"]])
