"""The numba kernels behind nnviz3d/capture/fused.py (imported only when numba is installed).

Tensors are passed as raw addresses and element counts (float32, dense), so one call covers
every tensor of a kind without copying them into one buffer or building typed lists.

- ``fast_chunks``: the one pass. Per chunk (a tensor's elements ``[start, end)``), in blocks
  that stay in L1: the sums of ``x - K`` and its square (``K``: the chunk's first value, so
  the variance does not cancel), the sum of squares, the zero count, min and max, and for
  weights the squared change since the previous probe and the squared previous weights
  (``prev`` is updated to the new weights in the same pass). Compiled with fast-math so every
  loop vectorises (min/max through ``llvm.minnum/maxnum``); a NaN or Inf still turns the sums
  or the range non-finite at run time, and the caller checks that in numpy, outside this
  compiled code, then redoes that chunk with ``careful_chunk``.
- ``careful_chunk``: the same statistics over the finite values only, with NaN and Inf counts
  (IEEE semantics, no fast-math).
- ``merge_rows``: the chunks' partial sums merged into each row's statistics.
- ``hist_rows``: each row's histogram over an even stride of its elements, binned in float64
  exactly as the float64 reference does; non-finite values are not counted.
- ``strided_sumsq``: per-layer sums of squares of an even sample of each gradient (the
  every-step gradient norms health watches).
- ``alive_units``: which units (channels of feature maps, last-dimension features otherwise)
  output anything but 0 over the batch, stopping at each unit's first nonzero.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

BLOCK = 4096
"""Elements per inner block (16 KB of float32: the later loops over it read L1)."""


@intrinsic
def _voidptr(typingctx, addr):
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(addr), codegen


def _float32_intrinsic(name: str):
    @intrinsic
    def call(typingctx, a, b):
        if a != types.float32 or b != types.float32:
            return None

        def codegen(context, builder, sig, args):
            fnty = ir.FunctionType(ir.FloatType(), [ir.FloatType(), ir.FloatType()])
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            return builder.call(fn, args)

        return types.float32(types.float32, types.float32), codegen

    return call


_minnum = _float32_intrinsic("llvm.minnum.f32")
_maxnum = _float32_intrinsic("llvm.maxnum.f32")


@njit(nogil=True, cache=True)
def _view(addr, n):
    return numba.carray(_voidptr(addr), (n,), np.float32)


@njit(fastmath=True, nogil=True, cache=True)
def _one_chunk(addrs, sizes, tens, starts, ends, prev, poffs, out, c):
    """Chunk ``c`` of ``fast_chunks``."""
    keep = prev.size > 0
    t = tens[c]
    v = _view(addrs[t], sizes[t])[starts[c] : ends[c]]
    n = v.size
    k32 = v[0]
    k = np.float64(k32)
    s = 0.0
    q = 0.0
    r = 0.0
    zeros = 0.0
    dd = 0.0
    pp = 0.0
    lo = k32
    hi = k32
    base = poffs[t] + starts[c]
    for b0 in range(0, n, BLOCK):
        b1 = min(b0 + BLOCK, n)
        w = v[b0:b1]
        for i in range(w.size):
            x = np.float64(w[i])
            d = x - k
            s += d
            q += d * d
            r += x * x
        zb = np.float32(0.0)
        for i in range(w.size):
            zb += np.float32(1.0) if w[i] == 0 else np.float32(0.0)
        zeros += zb
        for i in range(w.size):
            lo = _minnum(lo, w[i])
            hi = _maxnum(hi, w[i])
        if keep:
            p = prev[base + b0 : base + b1]
            for i in range(w.size):
                old = p[i]
                d = w[i] - old
                dd += np.float64(d * d)
                pp += np.float64(old * old)
                p[i] = w[i]
    out[c, 0] = n
    out[c, 1] = k
    out[c, 2] = s
    out[c, 3] = q
    out[c, 4] = r
    out[c, 5] = zeros
    out[c, 6] = lo
    out[c, 7] = hi
    out[c, 8] = 0.0
    out[c, 9] = 0.0
    out[c, 10] = dd
    out[c, 11] = pp


@njit(nogil=True, cache=True)
def fast_chunks(addrs, sizes, tens, starts, ends, prev, poffs, out):
    """``out[c]`` = (n, K, s, q, r, zeros, min, max, 0, 0, dd, pp) for chunk ``c``; ``prev``
    (empty: no update ratio) holds tensor ``t``'s previous values at ``poffs[t]``."""
    for c in range(tens.size):
        _one_chunk(addrs, sizes, tens, starts, ends, prev, poffs, out, c)


@njit(nogil=True, cache=True, parallel=True)
def fast_chunks_parallel(addrs, sizes, tens, starts, ends, prev, poffs, out):
    """``fast_chunks`` with the chunks spread over numba's threads (they write apart)."""
    for c in numba.prange(tens.size):
        _one_chunk(addrs, sizes, tens, starts, ends, prev, poffs, out, c)


@njit(nogil=True, cache=True)
def careful_chunk(addr, size, start, end, out):
    """``out[:10]`` for one chunk holding NaN or Inf: the statistics of its finite values,
    and the NaN and Inf counts."""
    v = _view(addr, size)[start:end]
    n = 0
    k = 0.0
    s = 0.0
    q = 0.0
    r = 0.0
    zeros = 0
    lo = np.inf
    hi = -np.inf
    nans = 0
    infs = 0
    for i in range(v.size):
        x = np.float64(v[i])
        if np.isnan(x):
            nans += 1
            continue
        if np.isinf(x):
            infs += 1
            continue
        if n == 0:
            k = x
        n += 1
        d = x - k
        s += d
        q += d * d
        r += x * x
        if x == 0:
            zeros += 1
        if x < lo:
            lo = x
        if x > hi:
            hi = x
    if n == 0:
        lo = 0.0
        hi = 0.0
    out[0] = n
    out[1] = k
    out[2] = s
    out[3] = q
    out[4] = r
    out[5] = zeros
    out[6] = lo
    out[7] = hi
    out[8] = nans
    out[9] = infs


@njit(nogil=True, cache=True)
def merge_rows(out, rows, count, stats, rng):
    """Chunks' partial sums (``out``, from ``fast_chunks``/``careful_chunk``; ``rows[c]``:
    chunk ``c``'s row) to row statistics: ``stats[r]`` = (mean, std, min, max, L2 norm, zero
    fraction of ``count[r]``, NaN count, Inf count), ``rng[r]`` = (min, max). Mean and M2 by
    Chan's pairwise formulas (each chunk's sums are shifted by its first value, so nothing
    cancels); an empty row reads 0. One compiled call instead of ~20 small numpy ones."""
    nrows = stats.shape[0]
    nf = np.zeros(nrows)
    msum = np.zeros(nrows)
    for r in range(nrows):
        rng[r, 0] = np.inf
        rng[r, 1] = -np.inf
        for j in range(8):
            stats[r, j] = 0.0
    for c in range(out.shape[0]):
        r = rows[c]
        n = out[c, 0]
        mean_c = out[c, 1] + out[c, 2] / max(n, 1.0)
        nf[r] += n
        msum[r] += n * mean_c
        stats[r, 4] += out[c, 4]
        stats[r, 5] += out[c, 5]
        stats[r, 6] += out[c, 8]
        stats[r, 7] += out[c, 9]
        if n > 0:
            rng[r, 0] = min(rng[r, 0], out[c, 6])
            rng[r, 1] = max(rng[r, 1], out[c, 7])
    for r in range(nrows):
        stats[r, 0] = msum[r] / max(nf[r], 1.0)
    m2 = np.zeros(nrows)
    for c in range(out.shape[0]):
        r = rows[c]
        n = out[c, 0]
        safe = max(n, 1.0)
        mean_c = out[c, 1] + out[c, 2] / safe
        d = mean_c - stats[r, 0]
        m2[r] += max(out[c, 3] - out[c, 2] * out[c, 2] / safe, 0.0) + n * d * d
    for r in range(nrows):
        if nf[r] == 0:
            rng[r, 0] = 0.0
            rng[r, 1] = 0.0
        stats[r, 1] = np.sqrt(m2[r] / max(nf[r], 1.0))
        stats[r, 2] = rng[r, 0]
        stats[r, 3] = rng[r, 1]
        stats[r, 4] = np.sqrt(stats[r, 4])
        stats[r, 5] = stats[r, 5] / max(count[r], 1)


@njit(nogil=True, cache=True)
def hist_rows(addrs, sizes, rows, offs, strides, lo, hi, hist):
    """Add tensor ``t``'s elements at row positions ``0, S, 2S...`` (``S = strides[row]``,
    ``offs[t]``: its first element's position in its row) into ``hist[row]``."""
    bins = hist.shape[1]
    for t in range(addrs.size):
        n = sizes[t]
        if n == 0:
            continue
        row = rows[t]
        step = strides[row]
        v = _view(addrs[t], n)
        first = (step - offs[t] % step) % step
        low = lo[row]
        width = hi[row] - low
        if width > 0:
            scale = bins / width
            for j in range(first, n, step):
                x = np.float64(v[j])
                if np.isfinite(x):
                    b = int((x - low) * scale)
                    if b >= bins:
                        b = bins - 1
                    elif b < 0:
                        b = 0
                    hist[row, b] += 1
        else:
            for j in range(first, n, step):
                if np.isfinite(v[j]):
                    hist[row, bins // 2] += 1


@njit(nogil=True, cache=True)
def alive_units(addr, n, inner, alive):
    """Mark ``alive[c]`` for each unit ``c`` with a nonzero output: a contiguous tensor of
    ``(outer, units, inner)`` elements (``units = alive.size``)."""
    v = _view(addr, n)
    units = alive.size
    block = units * inner
    for o in range(n // block):
        base = o * block
        for c in range(units):
            if alive[c]:
                continue
            seg = v[base + c * inner : base + (c + 1) * inner]
            for i in range(inner):
                if seg[i] != 0:
                    alive[c] = 1
                    break


@njit(nogil=True, cache=True)
def strided_sumsq(addrs, sizes, strides, owner, scale, out):
    """``out[owner[t]] += scale[t] * sum(x * x)`` over tensor ``t``'s elements ``0, S, 2S...``
    (``S = strides[t]``): per-layer squared gradient norms from an even sample. IEEE
    arithmetic: a NaN or Inf in the sample makes its layer's sum NaN or Inf."""
    for t in range(addrs.size):
        n = sizes[t]
        if n == 0:
            continue
        v = _view(addrs[t], n)
        acc = 0.0
        for j in range(0, n, strides[t]):
            x = np.float64(v[j])
            acc += x * x
        out[owner[t]] += acc * scale[t]
