"""Reading a recording, which is untrusted input: :class:`RunReader` opens it read-only (a
``file:`` URI of the quoted absolute path, ``mode=ro``), accepts only the tables
nnviz3d/record/run_file.py writes (no views, triggers, virtual tables or computed columns),
bounds every query in rows and in time (a progress handler stops any query past
``QUERY_SECONDS``), refuses sizes past its limits, checks the graph
(nnviz3d/record/graph_json.py) and every row and frame before handing them out
(nnviz3d/record/frame_check.py), and reports any problem as one :class:`RunFileError` sentence
naming the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import NamedTuple

from .. import __version__
from ..graph import Graph
from .frame_check import (
    EMBEDDING,
    MATRICES,
    MAX_METRICS,
    MAX_STEP,
    FrameDamage,
    check_frame,
    check_kinds,
    check_request_args,
    check_request_frame,
    check_scalars,
    check_split,
    check_step,
)
from .graph_json import graph_from_json
from .run_file import FORMAT_VERSION, MAGIC, SQLITE_MAGIC, RunFileError

QUERY_SECONDS = 3.0
"""No query on a recording runs longer (a progress handler interrupts it)."""
MAX_VALUE_BYTES = 256 << 20
"""The largest value (a frame, the graph's JSON) a recording may hold."""
MAX_SCALARS_BYTES = 1 << 20
MAX_META_ROWS = 64
MAX_SCHEMA_OBJECTS = 256
CHUNK_ROWS = 256
MAX_EMBEDDINGS = 100_000
"""The most embedding frames a recording may hold (a run embedding 4 layers every 25 steps
for a million steps holds 160,000: the limit is for files no run wrote)."""
MAX_LAYER_CHARS = 1000
META_COLUMNS = ("key", "value")
FRAME_COLUMNS = ("seq", "step", "kinds", "split", "scalars", "data")
REQUEST_COLUMNS = ("seq", "step", "kind", "args", "data")
MAX_REQUESTS = 4096
"""Recorded model requests a replay reads at most (a person clicks a few dozen)."""


class RecordedRequest(NamedTuple):
    """One checked row of ``requests``, without its frame (:meth:`RunReader.request_frame`)."""

    seq: int
    step: int
    kind: str
    args: tuple
    size: int


class Row(NamedTuple):
    """One checked row of ``frames``, without its frame."""

    seq: int
    step: int
    kinds: list[str]
    split: str
    scalars: dict[str, float]
    size: int


_ROW = (
    "SELECT seq, step, "
    "CASE WHEN typeof(kinds) = 'text' AND length(kinds) <= 256 THEN kinds END, "
    "CASE WHEN typeof(split) = 'text' AND length(split) <= 16 THEN split END, "
    f"CASE WHEN typeof(scalars) = 'text' AND length(scalars) <= {MAX_SCALARS_BYTES} "
    "THEN scalars END, typeof(scalars), length(scalars), typeof(data), length(data) "
    "FROM frames"
)
_VIRTUAL = re.compile(r"\s*CREATE\s+VIRTUAL\b", re.IGNORECASE)


class RunReader:
    """A recording, opened read-only and checked: schema, meta and graph at once, each row
    as it is read. Every problem is a :class:`RunFileError` naming the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._deadline = math.inf
        self._interrupted = False
        self._check_file()
        self.db = self._connect()
        try:
            tables = self._check_schema()
            self._check_table(tables, "meta", META_COLUMNS)
            meta = self._read_meta()
            self.format_version = self._check_version(meta)
            self._check_table(tables, "frames", FRAME_COLUMNS)
            self._graph_json = self._parse_graph(meta)
            self.has_requests = "requests" in tables  # absent from older recordings
            if self.has_requests:
                self._check_table(tables, "requests", REQUEST_COLUMNS)
        except BaseException:
            self.db.close()
            raise
        self.meta = meta
        self.model = meta.get("model", "?")

    # -- opening ------------------------------------------------------------------------------
    def _check_file(self) -> None:
        """A regular file starting like an SQLite database whose header claims no more than
        the file holds (looked at before SQLite is)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise RunFileError(f"{self.path}: no such run file") from None
        except (OSError, ValueError) as exc:
            raise RunFileError(f"{self.path}: cannot read it ({_reason(exc)})") from None
        if stat.S_ISDIR(st.st_mode):
            raise RunFileError(f"{self.path}: is a directory, not a run file")
        if not stat.S_ISREG(st.st_mode):
            raise RunFileError(
                f"{self.path}: is not a regular file (a pipe, socket or device), not a run file"
            )
        try:  # non-blocking: should it have become a pipe since, this does not hang
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise RunFileError(f"{self.path}: is not a regular file, not a run file")
                head = os.read(fd, 100)
            finally:
                os.close(fd)
        except OSError as exc:
            raise RunFileError(f"{self.path}: cannot read it ({_reason(exc)})") from None
        if not head:
            raise RunFileError(f"{self.path}: an empty file, not an nnviz3d run")
        if head[:16] != SQLITE_MAGIC:
            raise RunFileError(
                f"{self.path}: not an nnviz3d run (expected an SQLite file "
                f"starting 'SQLite format 3', found {head[:16]!r})"
            )
        if len(head) < 100:
            raise self._damaged(f"{len(head)} bytes, shorter than an SQLite header")
        page = int.from_bytes(head[16:18], "big")
        page = 65536 if page == 1 else page
        if page < 512 or page & (page - 1):
            raise self._damaged(f"its header claims pages of {page} bytes")
        pages = int.from_bytes(head[28:32], "big")
        valid = head[24:28] == head[92:96]  # the header's page count is current
        if valid and pages * page > st.st_size and not os.path.exists(f"{self.path}-wal"):
            raise self._damaged(
                f"its header claims {pages * page:,} bytes, the file holds "
                f"{st.st_size:,}: truncated"
            )

    def _connect(self) -> sqlite3.Connection:
        # a file: URI (for mode=ro) of the absolute path, every special character quoted
        uri = Path(os.path.abspath(self.path)).as_uri() + "?mode=ro"
        try:
            db = sqlite3.connect(
                uri, uri=True, check_same_thread=False, timeout=QUERY_SECONDS
            )  # waiting for a lock, at most
        except sqlite3.Error as exc:
            raise self._damaged(_reason(exc)) from exc
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        db.set_progress_handler(self._progress, 1000)
        self.db = db
        try:
            for pragma in (
                "trusted_schema=OFF",
                "query_only=ON",
                "cell_size_check=ON",
                "mmap_size=0",
            ):
                self._query(f"PRAGMA {pragma}")
        except BaseException:
            db.close()
            raise
        return db

    def _check_schema(self) -> set[str]:
        """The names of the file's tables; views, triggers and virtual tables are refused
        (a view can yield rows forever; a run holds only tables)."""
        objects = self._query(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master LIMIT ?",
            (MAX_SCHEMA_OBJECTS + 1,),
        )
        if len(objects) > MAX_SCHEMA_OBJECTS:
            raise self._refused(f"its schema has more than {MAX_SCHEMA_OBJECTS} objects")
        for kind, name, sql in objects:
            virtual = kind == "table" and isinstance(sql, str) and _VIRTUAL.match(sql)
            if kind in ("view", "trigger") or virtual:
                what = "virtual table" if virtual else kind
                raise self._refused(
                    f"it holds a {what} ({_short(name)}), and nnviz3d runs hold only tables"
                )
        return {name for kind, name, _ in objects if kind == "table"}

    def _check_table(self, tables: set[str], name: str, columns: tuple[str, ...]) -> None:
        if name not in tables:
            raise self._damaged(f"it has no {name!r} table")
        info = self._query(f"PRAGMA table_xinfo({name})")
        got = tuple(r[1] for r in info)
        if got != columns:
            raise self._damaged(
                f"its {name} table has columns {_short(got, 120)}, not {', '.join(columns)}"
            )
        computed = [r[1] for r in info if r[6]]  # hidden: generated (computed) columns
        if computed:
            raise self._refused(
                f"its {name} table computes column {_short(computed[0])}, "
                f"and nnviz3d runs store every value"
            )

    def _read_meta(self) -> dict[str, str]:
        rows = self._query(
            "SELECT key, typeof(value), value FROM meta LIMIT ?", (MAX_META_ROWS + 1,)
        )
        if len(rows) > MAX_META_ROWS:
            raise self._damaged(f"its meta table has more than {MAX_META_ROWS} rows")
        meta = {}
        for key, kind, value in rows:
            if not isinstance(key, str):
                raise self._damaged(f"a meta key is {_short(key)}, not text")
            if kind != "text":
                raise self._damaged(f"meta {_short(key)} is {kind}, not text")
            meta[key] = value
        return meta

    def _check_version(self, meta: dict[str, str]) -> int:
        if meta.get("magic") != MAGIC:
            found = f"magic {_short(meta['magic'])}" if "magic" in meta else "no magic"
            raise RunFileError(f"{self.path}: SQLite file but not an nnviz3d run ({found})")
        text = meta.get("format_version")
        if not isinstance(text, str) or not re.fullmatch(r"[0-9]{1,9}", text):
            raise self._damaged(f"format_version {_short(text)} is not a whole number")
        version = int(text)
        if version > FORMAT_VERSION:
            raise RunFileError(
                f"{self.path}: run format {version} is newer than this nnviz3d "
                f"({__version__}, format {FORMAT_VERSION}): upgrade nnviz3d"
            )
        if version < 1:
            raise self._damaged(f"format_version {version} was never written by nnviz3d")
        return version

    def _parse_graph(self, meta: dict[str, str]) -> dict:
        if "graph" not in meta:
            raise self._damaged("it has no graph")
        try:
            d = json.loads(meta["graph"])
            graph_from_json(d)
        except (ValueError, TypeError, RecursionError) as exc:
            raise self._damaged(f"graph: {_reason(exc)}") from exc
        return d

    # -- queries ------------------------------------------------------------------------------
    def _progress(self) -> int:
        if time.monotonic() > self._deadline:
            self._interrupted = True
            return 1
        return 0

    def _query(self, sql: str, params: tuple = (), *, one: bool = False):
        """Run one query to completion, in at most ``QUERY_SECONDS``; any SQLite error is
        a RunFileError."""
        with self._lock:
            self._interrupted = False
            self._deadline = time.monotonic() + QUERY_SECONDS
            try:
                cur = self.db.execute(sql, params)
                return cur.fetchone() if one else cur.fetchall()
            except sqlite3.Error as exc:
                if self._interrupted:
                    raise self._refused(
                        f"a query on it ran past {QUERY_SECONDS:g} s, which "
                        f"no run nnviz3d wrote needs"
                    ) from exc
                if "too big" in str(exc):
                    raise self._damaged(
                        f"it holds a value larger than {MAX_VALUE_BYTES:,} bytes"
                    ) from exc
                raise self._damaged(_reason(exc)) from exc
            finally:
                self._deadline = math.inf

    def _check_row(self, r: tuple) -> Row:
        seq, step, kinds, split, scalars, scalars_type, scalars_len, data_type, size = r
        if not isinstance(seq, int):
            raise self._damaged(f"a frame is numbered {_short(seq)}, not by an integer")
        try:
            check_step(step)
            kinds = check_kinds(kinds)
            check_split(split)
            if scalars is None and scalars_type != "null":
                raise FrameDamage(
                    f"scalars are {scalars_type} of {scalars_len:,} characters, "
                    f"not JSON text of at most {MAX_SCALARS_BYTES:,}"
                )
            scalars = check_scalars(scalars)
            if data_type != "blob":
                raise FrameDamage(f"its frame is {data_type}, not bytes")
            if size > MAX_VALUE_BYTES:
                raise FrameDamage(f"its frame claims {size:,} bytes, more than {MAX_VALUE_BYTES:,}")
        except FrameDamage as exc:
            raise self._damaged(f"frame {seq}: {exc}") from None
        return Row(seq, step, kinds, split, scalars, size)

    def _rows(self):
        """Every row of ``frames`` in recording order, checked, fetched in bounded chunks."""
        after = -(2**63)
        names: set[str] = set()
        while True:
            chunk = self._query(f"{_ROW} WHERE seq > ? ORDER BY seq LIMIT ?", (after, CHUNK_ROWS))
            for r in chunk:
                row = self._check_row(r)
                names.update(row.scalars)
                if len(names) > MAX_METRICS:
                    raise self._damaged(f"it names more than {MAX_METRICS} metrics")
                yield row
            if len(chunk) < CHUNK_ROWS:
                return
            after = chunk[-1][0]

    def _frame(self, row: Row) -> bytes:
        """The checked frame of ``row``."""
        found = self._query("SELECT data FROM frames WHERE seq = ?", (row.seq,), one=True)
        if found is None or not isinstance(found[0], bytes):
            raise self._damaged(f"frame {row.seq} changed while it was read")
        try:
            check_frame(found[0], row.kinds, row.step, row.split)
        except FrameDamage as exc:
            raise self._damaged(f"frame {row.seq} at step {row.step}: {exc}") from None
        return found[0]

    def _damaged(self, what: str) -> RunFileError:
        return RunFileError(f"{self.path}: damaged run file ({what})")

    def _refused(self, what: str) -> RunFileError:
        return RunFileError(f"{self.path}: refused: {what}")

    # -- what callers read --------------------------------------------------------------------
    def graph(self) -> Graph:
        return graph_from_json(self._graph_json)

    def summary(self) -> dict:
        """Counts of the run, every frame checked on the way (so a damaged frame shows
        here, not halfway through a replay)."""
        frames, size, first, last, steps = 0, 0, None, None, set()
        for row in self._rows():
            self._frame(row)
            frames += 1
            size += row.size
            first = row.step if first is None else min(first, row.step)
            last = row.step if last is None else max(last, row.step)
            steps.add(row.step)
        return {
            "format_version": self.format_version,
            "model": self.model,
            "steps": len(steps),
            "frames": frames,
            "first_step": first,
            "last_step": last,
            "bytes": self.path.stat().st_size,
            "frame_bytes": size,
        }

    def frames(self):
        """``(seq, step, kinds, data)`` in recording order."""
        for row in self._rows():
            yield row.seq, row.step, row.kinds, self._frame(row)

    def scalar_rows(self) -> list[tuple[int, str, dict]]:
        return [(row.step, row.split, row.scalars) for row in self._rows() if row.scalars]

    def at_step(self, step: int) -> list[bytes]:
        """The frames holding the newest value of each kind at or before ``step`` (and the
        newest frame carrying weight matrices), in recording order."""
        step = max(-1, min(int(step), MAX_STEP))
        out: dict[int, bytes] = {}
        for kind in ("weight", "grad", "act", MATRICES):
            found = self._query(
                f"{_ROW} WHERE step <= ? AND (',' || kinds || ',') LIKE ? "
                f"ORDER BY step DESC, seq DESC LIMIT 1",
                (step, f"%,{kind},%"),
                one=True,
            )
            if found:
                row = self._check_row(found)
                out[row.seq] = self._frame(row)
        return [out[k] for k in sorted(out)]

    def embedding_index(self, after: int = -(2**63)) -> list[tuple[int, int, str]]:
        """``(seq, step, layer)`` of every embedding frame recorded after frame ``after``, in
        recording order (each frame read and checked once, for its layer)."""
        out = []
        while True:
            chunk = self._query(
                f"{_ROW} WHERE seq > ? AND kinds = ? ORDER BY seq LIMIT ?",
                (after, EMBEDDING, CHUNK_ROWS),
            )
            for r in chunk:
                row = self._check_row(r)
                if row.kinds != [EMBEDDING]:
                    continue
                if len(out) >= MAX_EMBEDDINGS:
                    raise self._refused(f"it holds more than {MAX_EMBEDDINGS:,} embeddings")
                out.append((row.seq, row.step, self._embedding_layer(row)))
            if len(chunk) < CHUNK_ROWS:
                return out
            after = chunk[-1][0]

    def _embedding_layer(self, row: Row) -> str:
        found = self._query("SELECT data FROM frames WHERE seq = ?", (row.seq,), one=True)
        if found is None or not isinstance(found[0], bytes):
            raise self._damaged(f"frame {row.seq} changed while it was read")
        try:
            header = check_frame(found[0], row.kinds, row.step, row.split)
        except FrameDamage as exc:
            raise self._damaged(f"frame {row.seq} at step {row.step}: {exc}") from None
        layer = header.get("layer", "")
        if len(layer) > MAX_LAYER_CHARS or header.get("step") != row.step:
            raise self._damaged(
                f"embedding frame {row.seq} names layer {_short(layer)} at "
                f"step {_short(header.get('step'))}, its row step {row.step}"
            )
        return layer

    def embedding(self, seq: int) -> bytes:
        """The checked embedding frame ``seq`` (one that :meth:`embedding_index` listed)."""
        found = self._query(f"{_ROW} WHERE seq = ?", (int(seq),), one=True)
        row = self._check_row(found) if found else None
        if row is None or row.kinds != [EMBEDDING]:
            raise self._damaged(f"embedding frame {seq} is gone")
        return self._frame(row)

    def requests(self) -> list[RecordedRequest]:
        """The model requests answered during the run (Grad-CAM, feature visualisation,
        landscape), checked, in recording order; none for a recording made before them."""
        if not self.has_requests:
            return []
        rows = self._query(
            "SELECT seq, step, kind, CASE WHEN typeof(args) = 'text' AND "
            "length(args) <= 1024 THEN args END, typeof(data), length(data) "
            "FROM requests ORDER BY seq LIMIT ?",
            (MAX_REQUESTS + 1,),
        )
        if len(rows) > MAX_REQUESTS:
            raise self._damaged(f"it holds more than {MAX_REQUESTS} recorded requests")
        out = []
        for seq, step, kind, args, data_type, size in rows:
            if not isinstance(seq, int):
                raise self._damaged(f"a request is numbered {_short(seq)}, not by an integer")
            try:
                check_step(step)
                args = check_request_args(kind, args)
                if data_type != "blob":
                    raise FrameDamage(f"its frame is {data_type}, not bytes")
                if size > MAX_VALUE_BYTES:
                    raise FrameDamage(
                        f"its frame claims {size:,} bytes, more than {MAX_VALUE_BYTES:,}"
                    )
            except FrameDamage as exc:
                raise self._damaged(f"request {seq}: {exc}") from None
            out.append(RecordedRequest(seq, step, kind, args, size))
        return out

    def probe_inputs(self) -> int | None:
        """How many probe inputs the run had (recorded with its first model request)."""
        text = self.meta.get("probe_inputs")
        if text is None:
            return None
        if not re.fullmatch(r"[0-9]{1,7}", text) or int(text) < 1:
            raise self._damaged(f"probe_inputs {_short(text)} is not a count of inputs")
        return int(text)

    def request_frame(self, row: RecordedRequest) -> bytes:
        """The checked overlays frame of a recorded request."""
        found = self._query("SELECT data FROM requests WHERE seq = ?", (row.seq,), one=True)
        if found is None or not isinstance(found[0], bytes) or len(found[0]) != row.size:
            raise self._damaged(f"request {row.seq} changed while it was read")
        try:
            check_request_frame(found[0], row.kind, row.step)
        except FrameDamage as exc:
            raise self._damaged(
                f"request {row.seq} ({row.kind} at step {row.step}): {exc}"
            ) from None
        return found[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reason(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line (SQLite's, the OS's strerror, a parser's)."""
    text = getattr(exc, "strerror", None) if isinstance(exc, OSError) else None
    text = " ".join(str(text or exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
