"""One memory pass per tensor for the CPU probes (numba), with the torch path as fallback.

The torch path (``probes.tensor_stats``) reads each tensor five times (sum, dot, aminmax,
count_nonzero, a histogram sample), and ``aminmax`` and ``count_nonzero`` run at a fraction of
memory speed. Here one compiled call per kind reads every tensor once (nnviz3d/capture/
fused_kernels.py) and yields count, mean, std, min, max, L2 norm, zero, NaN and Inf counts, and
for weights the update ratio (the previous weights are updated in the same pass); a second
call bins an even stride of at most ``HIST_SAMPLE`` elements per row, as the torch path does.
Tensors are read where they lie (their addresses), a row (one module) may span several
tensors (weight and bias) without concatenating them, and a dense tensor that is not
contiguous (a transposed activation) is read in memory order: these statistics do not depend
on the order of the elements.

numba is optional (the ``fast`` extra; ``embed`` brings it too). Kernels compile once on a
background thread (``start()``) and are cached on disk; until they are ready, or without
numba, or with ``NNVIZ3D_FUSED=0``, ``rows()`` returns None and the caller takes the torch
path.
"""

from __future__ import annotations

import logging
import os
import threading

import numpy as np
import torch

log = logging.getLogger("nnviz3d")

CHUNK = 1 << 18
"""Elements per chunk of the one pass: chunks spread over threads and merge exactly (Chan's
formulas)."""

PARALLEL_MIN = 1 << 21
"""Elements of one call from which the pass spreads its chunks over threads: below it one
thread is as fast (a parallel region's start and the other threads' spinning cost more than
it saves, and on a busy machine a descheduled thread makes everyone wait)."""

ENABLED = True
"""Off: ``RowPass.run`` returns None and callers take the torch path (the benchmark's
side-by-side column)."""

_kernels = None
_state = "idle"  # idle -> compiling -> ready | missing | failed | off
_lock = threading.Lock()
_done = threading.Event()
_parallel_lock = threading.Lock()
_numba = None


def _threads() -> int:
    """Threads for the parallel pass: torch's intra-op count (what the user allows training),
    at most numba's pool."""
    return max(1, min(torch.get_num_threads(), _numba.config.NUMBA_NUM_THREADS))


def _compile() -> None:
    global _kernels, _state, _numba
    try:
        import numba

        from . import fused_kernels as k
    except ImportError:
        _state = "missing"
        _done.set()
        log.info(
            "nnviz3d: numba is not installed, so probes use torch's separate reductions; "
            "pip install 'nnviz3d[fast]' makes them one pass per tensor"
        )
        return
    try:  # compile (or load from numba's cache) on tiny inputs
        a = np.zeros(3, np.float32)
        addrs = np.array([a.ctypes.data], np.int64)
        sizes = np.array([3], np.int64)
        zero = np.zeros(1, np.int64)
        out = np.zeros((1, 12))
        prev = np.zeros(3, np.float32)
        k.fast_chunks(addrs, sizes, zero, zero, sizes, prev, zero, out)
        k.fast_chunks_parallel(addrs, sizes, zero, zero, sizes, prev, zero, out)
        k.alive_units(addrs[0], 3, 1, np.zeros(3, np.uint8))
        one = np.ones(1)
        k.strided_sumsq(addrs, sizes, np.ones(1, np.int64), zero, one, np.zeros(1))
        k.careful_chunk(addrs[0], sizes[0], 0, 3, out[0])
        k.merge_rows(out, zero, sizes, np.empty((1, 8)), np.empty((1, 2)))
        hist = np.zeros((1, 4), np.int64)
        k.hist_rows(addrs, sizes, zero, zero, np.ones(1, np.int64), out[:, 6], out[:, 7], hist)
        _numba = numba
        _kernels = k
        _state = "ready"
    except Exception as exc:  # a numba that cannot compile here: the torch path is exact too
        _state = "failed"
        log.info("nnviz3d: the fused probe kernels did not compile (%s); using torch ops", exc)
    finally:
        _done.set()


def start(wait: bool = False) -> bool:
    """Start compiling the kernels in the background (once); True when they are ready.
    ``wait``: block until compiled (tests, benchmarks)."""
    global _state
    with _lock:
        if _state == "idle":
            if os.environ.get("NNVIZ3D_FUSED", "1") == "0":
                _state = "off"
                _done.set()
            else:
                _state = "compiling"
                threading.Thread(target=_compile, name="nnviz3d-fused-compile", daemon=True).start()
    if wait:
        _done.wait()
    return _state == "ready"


def ready() -> bool:
    return _state == "ready" and ENABLED


def _dense(t: torch.Tensor) -> bool:
    """Whether ``t``'s elements fill one block of memory (in some order), so it can be read
    as a flat array from its data pointer."""
    if t.is_contiguous():
        return True
    expected = 1
    for size, stride in sorted((s, st) for s, st in zip(t.shape, t.stride()) if s != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _readable(t: torch.Tensor) -> torch.Tensor:
    """``t`` as float32 in dense memory on the CPU (a copy only when it is not); only its
    address is read, so a parameter needs no ``detach``."""
    if t.dtype == torch.float32 and t.is_contiguous():
        return t
    t = t.detach()
    if t.dtype != torch.float32:
        t = t.float()
    return t if _dense(t) else t.contiguous()


class RowPass:
    """Statistics of tensors grouped into rows, in the format of ``probes.rows_stats``.
    ``keep_prev``: also the update ratio against the tensors of the previous call (weights).
    Not for use from two threads at once."""

    def __init__(self, keep_prev: bool = False, chunk: int = CHUNK) -> None:
        self.keep_prev = keep_prev
        self.chunk = chunk
        self._plans: dict = {}
        self._prev: np.ndarray | None = None
        self._prev_key = None
        self._prev_bad: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None
        self._prev_key = None
        self._prev_bad = None

    def seed(self, prev: torch.Tensor, sizes: list[int]) -> None:
        """Take ``prev`` (the tensors of the last probe, laid end to end) as the previous
        values, so the update ratio goes on when this pass takes over from the torch path."""
        flat = prev.detach().reshape(-1).float().cpu().numpy()
        if flat.size == sum(sizes):
            self._prev = flat.copy()
            self._prev_key = ("filled", tuple(sizes))
            self._prev_bad = None

    def _plan(self, sizes: tuple[int, ...], rows: tuple[int, ...], nrows: int, sample: int):
        key = (sizes, rows, nrows, sample)
        plan = self._plans.get(key)
        if plan is None:
            sz = np.array(sizes, np.int64)
            rw = np.array(rows, np.int64)
            count = np.bincount(rw, weights=sz, minlength=nrows).astype(np.int64)
            offs = np.zeros(len(sizes), np.int64)  # each tensor's first position in its row
            seen = np.zeros(nrows, np.int64)
            for i, (n, r) in enumerate(zip(sizes, rows)):
                offs[i] = seen[r]
                seen[r] += n
            strides = np.maximum(1, count // sample)
            sampled = np.zeros(nrows, np.int64)
            for i, (n, r) in enumerate(zip(sizes, rows)):
                first = (-offs[i]) % strides[r]
                sampled[r] += max(0, -(-(n - first) // strides[r]))
            tens, starts, ends = [], [], []
            for i, n in enumerate(sizes):
                for s in range(0, n, self.chunk):
                    tens.append(i)
                    starts.append(s)
                    ends.append(min(s + self.chunk, n))
            tens_a = np.array(tens, np.int64)
            plan = {
                "sizes": sz,
                "rows": rw,
                "count": count,
                "offs": offs,
                "strides": strides,
                "sampled": sampled,
                "tens": tens_a,
                "starts": np.array(starts, np.int64),
                "ends": np.array(ends, np.int64),
                "chunk_rows": rw[tens_a] if len(tens) else np.zeros(0, np.int64),
                "poffs": np.concatenate([[0], np.cumsum(sz)[:-1]]).astype(np.int64),
            }
            if len(self._plans) > 16:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def run(
        self, tensors: list[torch.Tensor], rows: list[int], nrows: int, bins: int, sample: int
    ) -> dict[str, torch.Tensor] | None:
        """Row statistics of ``tensors`` (CPU, any float dtype; ``rows[i]``: tensor i's row),
        or None when the kernels are not ready."""
        k = _kernels
        if k is None or not ENABLED:
            return None
        ts = [_readable(t) for t in tensors]
        sizes = tuple(t.numel() for t in ts)
        plan = self._plan(sizes, tuple(rows), nrows, sample)
        addrs = np.array([t.data_ptr() for t in ts], np.int64)
        nchunks = plan["tens"].size
        out = np.zeros((nchunks, 12))
        prev = self._prev_buffer(sizes) if self.keep_prev else np.zeros(0, np.float32)
        had_prev = self.keep_prev and self._prev_key == ("filled", sizes)
        if nchunks:
            args = (addrs, plan["sizes"], plan["tens"], plan["starts"], plan["ends"], prev)
            args += (plan["poffs"], out)
            if sum(sizes) >= PARALLEL_MIN and _threads() > 1:
                with _parallel_lock:  # numba's workqueue layer must not be entered twice
                    _numba.set_num_threads(_threads())
                    k.fast_chunks_parallel(*args)
            else:
                k.fast_chunks(*args)
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~(np.isfinite(out[:, 2:5]).all(axis=1) & np.isfinite(out[:, 6:8]).all(axis=1))
        for c in np.flatnonzero(bad):
            t = plan["tens"][c]
            k.careful_chunk(addrs[t], plan["sizes"][t], plan["starts"][c], plan["ends"][c], out[c])
        stats, rng = np.empty((nrows, 8)), np.empty((nrows, 2))
        k.merge_rows(out, plan["chunk_rows"], plan["count"], stats, rng)
        hist = np.zeros((nrows, bins), np.int64)
        lo, hi = rng[:, 0].copy(), rng[:, 1].copy()
        k.hist_rows(addrs, plan["sizes"], plan["rows"], plan["offs"], plan["strides"], lo, hi, hist)
        with np.errstate(over="ignore"):  # a norm beyond float32's range is Inf, as in torch
            stats32 = stats.astype(np.float32)
        result = {
            "stats": torch.from_numpy(stats32),
            "hist": torch.from_numpy(hist),
            "range": torch.from_numpy(rng.astype(np.float32)),
            "sampled": torch.from_numpy(plan["sampled"].copy()),
            "count": torch.from_numpy(plan["count"].copy()),
        }
        if self.keep_prev:
            result.update(self._update(out, bad, plan, nrows, had_prev))
            self._prev_key = ("filled", sizes)
        return result

    def _prev_buffer(self, sizes: tuple[int, ...]) -> np.ndarray:
        total = sum(sizes)
        if self._prev is None or self._prev_key not in (("filled", sizes), ("empty", sizes)):
            self._prev = np.zeros(total, np.float32)
            self._prev_key = ("empty", sizes)
            self._prev_bad = None
        return self._prev

    def _update(self, out, bad, plan, nrows, had_prev) -> dict[str, torch.Tensor]:
        """Per row: the squared norms of the change and of the previous weights, and their
        ratio (NaN on the first call, or where the weights now or before held NaN/Inf)."""
        rows = plan["chunk_rows"]
        parts = np.stack(
            [
                np.bincount(rows, weights=out[:, 10], minlength=nrows),
                np.bincount(rows, weights=out[:, 11], minlength=nrows),
            ],
            axis=1,
        )
        row_bad = np.bincount(rows, weights=bad, minlength=nrows) > 0
        poisoned = row_bad | (self._prev_bad if self._prev_bad is not None else False)
        self._prev_bad = row_bad
        if not had_prev:
            ratio = np.full(nrows, np.nan)
        else:
            parts[poisoned] = np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.sqrt(parts[:, 0]) / np.maximum(np.sqrt(parts[:, 1]), 1e-30)
        res = {"update": torch.from_numpy(ratio.astype(np.float32))}
        if had_prev:
            res["update_parts"] = torch.from_numpy(parts.astype(np.float32))
        return res


def dead_fraction(out: torch.Tensor) -> float | None:
    """Fraction of units that output exactly 0 for the whole batch (units: channels, dim 1,
    of feature maps; the last dimension otherwise), or None when the kernels are not ready or
    ``out`` is not a contiguous float32 CPU tensor (the caller takes the torch path)."""
    k = _kernels
    if k is None or not ENABLED or out.dim() < 2:
        return None
    if out.dtype != torch.float32 or out.device.type != "cpu" or not out.is_contiguous():
        return None
    unit_dim = 1 if out.dim() >= 3 else out.dim() - 1
    units = out.shape[unit_dim]
    inner = 1
    for size in out.shape[unit_dim + 1 :]:
        inner *= size
    if not units or not out.numel():
        return None
    alive = np.zeros(units, np.uint8)
    k.alive_units(out.data_ptr(), out.numel(), inner, alive)
    return 1.0 - float(alive.sum()) / units


def sampled_norms(
    tensors: list[torch.Tensor],
    strides: np.ndarray,
    owner: np.ndarray,
    scale: np.ndarray,
    rows: int,
) -> np.ndarray | None:
    """Per-row L2 norms from an even sample of each tensor (``strides``), each tensor's sum of
    squares scaled by ``scale`` to its whole size; None when the kernels are not ready or a
    tensor is not float32 in dense CPU memory (the caller takes the torch path)."""
    k = _kernels
    if k is None or not ENABLED:
        return None
    for t in tensors:
        if t.dtype != torch.float32 or t.device.type != "cpu" or not _dense(t):
            return None
    addrs = np.array([t.data_ptr() for t in tensors], np.int64)
    sizes = np.array([t.numel() for t in tensors], np.int64)
    out = np.zeros(rows)
    k.strided_sumsq(addrs, sizes, strides, owner, scale, out)
    return np.sqrt(out)
