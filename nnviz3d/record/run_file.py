"""Recordings of runs: one SQLite file holding the graph and every frame sent live (WAL while
recording, or the rollback journal on a network filesystem: nnviz3d/record/journal.py).

Schema (``FORMAT_VERSION`` 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)   magic, format_version, model, graph (JSON),
                                             created, nnviz3d_version; probe_inputs once a
                                             model request was recorded
    frames(seq INTEGER PRIMARY KEY, step INTEGER, kinds TEXT, split TEXT, scalars TEXT,
           data BLOB)                        data = the binary probe frame, byte for byte
    requests(seq INTEGER PRIMARY KEY, step INTEGER, kind TEXT, args TEXT, data BLOB)
                                             what a viewer asked of the model during the run
                                             (inspect, feature, landscape): the arguments as
                                             a JSON list and the overlays frame sent, byte for
                                             byte. Recordings made before it lack the table
                                             and replay without recorded requests.

A frame is visible to readers once its batch is committed; a process killed mid-run leaves a
file that opens and replays up to its last committed batch. The writer copies the WAL into
the main file once the graph is written and then about once a second (a PASSIVE checkpoint:
it never waits for a reader), so the main file copied alone replays up to a recent step.

A recording is untrusted input: :class:`RunReader` (nnviz3d/record/run_reader.py) opens it
read-only and checks everything it reads; any problem is one :class:`RunFileError` naming
the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

from .. import __version__
from ..graph import Graph
from .frame_check import EMBEDDING, MATRICES
from .graph_json import graph_from_json, graph_to_json

MAGIC = "nnviz3d-run"
FORMAT_VERSION = 1
SUFFIX = ".nnv3d"
SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite file, so of every recording."""
SIDE_FILES = ("-wal", "-shm", "-journal")
CHECKPOINT_SECONDS = 1.0
"""The writer copies the WAL into the main file at most this often."""

__all__ = [
    "EMBEDDING",
    "FORMAT_VERSION",
    "MAGIC",
    "MATRICES",
    "SUFFIX",
    "RunFileError",
    "RunWriter",
    "graph_from_json",
    "graph_to_json",
    "is_run_file",
]


class RunFileError(ValueError):
    """A run file that cannot be read; the message names the file and what was wrong."""


class RunWriter:
    """A new recording at ``path``: refuses any existing name (the file is created with
    O_EXCL, so two writers never share one). ``journal``: ``"auto"`` (WAL, or the rollback
    journal on a network filesystem), ``"wal"`` or ``"rollback"`` (nnviz3d/record/journal.py);
    ``self.journal`` says which was used."""

    def __init__(self, path: str | Path, graph: Graph, journal: str = "auto") -> None:
        from .journal import journal_mode

        self.path = Path(path)
        self.journal = journal_mode(self.path, journal)
        _claim(self.path)
        self.db = None
        try:  # an absolute path, never a "file:" URI whatever the name
            self.db = sqlite3.connect(os.path.abspath(self.path), check_same_thread=False)
            if self.journal == "wal":
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
            else:  # no shared memory, no -wal: what network filesystems can lock
                self.db.execute("PRAGMA journal_mode=DELETE")
                self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript("""
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE frames(seq INTEGER PRIMARY KEY, step INTEGER NOT NULL,
                                    kinds TEXT NOT NULL, split TEXT NOT NULL, scalars TEXT,
                                    data BLOB NOT NULL);
                CREATE INDEX frames_step ON frames(step);
                CREATE TABLE requests(seq INTEGER PRIMARY KEY, step INTEGER NOT NULL,
                                      kind TEXT NOT NULL, args TEXT NOT NULL,
                                      data BLOB NOT NULL);
            """)
            meta = {
                "magic": MAGIC,
                "format_version": str(FORMAT_VERSION),
                "model": graph.model,
                "graph": json.dumps(graph_to_json(graph)),
                "created": str(time.time()),
                "nnviz3d_version": __version__,
            }
            self.db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            self.db.commit()
        except BaseException:
            if self.db is not None:
                self.db.close()
            _remove(self.path)  # ours (O_EXCL): no empty or half-made file left behind
            raise
        self.checkpoint()  # the main file alone opens from now on
        self._checkpointed = time.monotonic()
        self.frames = 0
        self.requests = 0
        self._lock = threading.Lock()
        """Frames come from the frame worker, request results from the request threads."""

    def append(self, step: int, kinds: list[str], split: str, scalars: dict, data: bytes) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO frames(step, kinds, split, scalars, data) VALUES (?, ?, ?, ?, ?)",
                (int(step), ",".join(kinds), split, json.dumps(scalars), data),
            )
            self.frames += 1

    def append_request(
        self, kind: str, args: tuple, step: int, data: bytes, inputs: int | None = None
    ) -> None:
        """One answered model request (``ModelRequests.record``), committed at once so the
        replay has it even if the run is killed next. ``inputs``: how many probe inputs the
        run had (meta ``probe_inputs``, so the replay's panel counts the same)."""
        with self._lock:
            if inputs is not None:
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('probe_inputs', ?)", (str(int(inputs)),)
                )
            self.db.execute(
                "INSERT INTO requests(step, kind, args, data) VALUES (?, ?, ?, ?)",
                (int(step), kind, json.dumps(list(args)), data),
            )
            self.db.commit()
            self.requests += 1

    def commit(self) -> None:
        with self._lock:
            self.db.commit()
        now = time.monotonic()
        if now - self._checkpointed >= CHECKPOINT_SECONDS:
            self._checkpointed = now
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the committed frames from the WAL into the main file, waiting for no reader
        (one holding an older snapshot leaves the newest frames to the next checkpoint).
        Nothing to do with the rollback journal: each commit writes the main file."""
        if self.journal != "wal":
            return
        try:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:  # the frames are safe in the WAL; a failing disk shows at the
            pass  # next commit, which the frame worker reports

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        try:
            self.db.commit()
            try:  # one self-contained file again: its readers make no -wal or -shm beside it
                self.db.execute("PRAGMA journal_mode=DELETE").fetchall()
            except sqlite3.Error:  # a reader still has it open: it stays a WAL database
                pass
        finally:
            self.db.close()

    def discard(self) -> None:
        """Close and delete the recording (nothing was recorded worth keeping)."""
        try:
            self.db.close()
        finally:
            _remove(self.path)


def _claim(path: Path) -> None:
    """Create ``path`` empty, failing if anything has that name, and clear the SQLite side
    files a deleted recording of the same name left (they would be read as this one's)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(
            f"{path.parent} is not a directory; choose another record= name"
        ) from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        what = "is a directory" if path.is_dir() else "already exists"
        raise FileExistsError(f"{path} {what}; choose another record= name") from None
    os.close(fd)
    for side in SIDE_FILES:
        _remove(Path(f"{path}{side}"), only_side=True)


def _remove(path: Path, only_side: bool = False) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    if not only_side:
        for side in SIDE_FILES:
            _remove(Path(f"{path}{side}"), only_side=True)


def is_run_file(path: str | Path) -> bool:
    """A recording (``.nnv3d``, or any SQLite file), as opposed to a model file or SPEC."""
    p = Path(path)
    if p.suffix == SUFFIX:
        return True
    try:
        if not stat.S_ISREG(os.stat(p).st_mode):  # never open a pipe: it would block
            return False
        with open(p, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except (OSError, ValueError):
        return False
