"""Probes: per-module statistics of weights, gradients and activations, computed in batches.

All tensors of one kind are flattened into one buffer on the model's own device and reduced
per module with segment ops (``bincount``, ``scatter_reduce``): a fixed handful of kernels
whatever the number of modules, no per-element Python, no sort, and no host synchronisation
(non-finite values go to a spare histogram bin instead of being filtered out).

Statistics per row (``STAT_NAMES``): mean, std, min, max, L2 norm, fraction of exact zeros,
NaN count, Inf count; mean/std/min/max/norm are over the finite values. A 64-bin histogram
spans each row's finite [min, max].
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..graph import ROLE_MODULE, Graph
from ..protocol.messages import HIST_BINS
from . import fused

MATRIX_MAX = 256
"""Downsampled weight matrices are at most MATRIX_MAX x MATRIX_MAX."""
TILES_MAX = 384
"""Conv kernels are sent whole (to be drawn as O x I tiles of kh x kw) while the tiled image,
with one-cell gaps, is at most this many cells per side; larger convs are pooled."""
HIST_SAMPLE = 1 << 14
"""On the CPU path a tensor's histogram counts at most this many evenly strided elements
(exact below it); its stats always use every element. The frame records the sample size."""


def tensor_stats(
    v: torch.Tensor, bins: int = HIST_BINS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """CPU path for one flat float tensor: stats (8,), histogram (bins,), range (2,), and the
    number of elements the histogram counted. Five cheap passes (sum, BLAS dot, aminmax,
    count_nonzero, strided histogram); tensors holding NaN/Inf take the masked path."""
    n = v.numel()
    if n == 0:  # a rank's empty shard (FSDP): counts nothing, merges as nothing
        z = torch.zeros(8)
        return z, torch.zeros(bins, dtype=torch.int64), z[:2], 0
    total = v.sum()
    dot = torch.dot(v, v)
    if not (torch.isfinite(total) and torch.isfinite(dot)):
        res = segment_stats(v, torch.zeros(n, dtype=torch.long), 1, bins)
        return res["stats"][0], res["hist"][0], res["range"][0], n
    mean = total / n
    var = (dot / n - mean * mean).clamp_min(0)
    lo, hi = torch.aminmax(v)
    zeros = n - torch.count_nonzero(v)
    stride = max(1, n // HIST_SAMPLE)
    sample = v[::stride] if stride > 1 else v
    low = float(lo)
    width = float(hi) - low  # float64: a float32 range never overflows here
    if width > 0:
        idx = ((sample.double() - low) * (bins / width)).clamp_(0, bins - 1).to(torch.int64)
        hist = torch.bincount(idx, minlength=bins)
    else:
        hist = torch.zeros(bins, dtype=torch.int64)
        hist[bins // 2] = sample.numel()
    stats = torch.stack(
        [mean, var.sqrt(), lo, hi, dot.sqrt(), zeros / n, torch.zeros(()), torch.zeros(())]
    )
    return stats, hist, torch.stack([lo, hi]), sample.numel()


def device_tensor_stats(v: torch.Tensor, bins: int = HIST_BINS):
    """Accelerator path for one flat float tensor, with no host synchronisation: whole-tensor
    reductions (tree reductions, no atomics on a few addresses) over masked values, and the
    histogram of an even stride of at most HIST_SAMPLE elements added into bins+1 counters
    (the extra one takes non-finite values)."""
    n = v.numel()
    finite = torch.isfinite(v)
    xf = torch.where(finite, v, torch.zeros((), device=v.device))
    nf = finite.sum().float()
    safe = nf.clamp_min(1)
    mean = xf.sum() / safe
    dot = torch.dot(xf, xf)
    var = (dot / safe - mean * mean).clamp_min(0)
    inf = torch.full((), float("inf"), device=v.device)
    lo = torch.where(finite, v, inf).amin()
    hi = torch.where(finite, v, -inf).amax()
    empty = nf == 0
    lo = torch.where(empty, torch.zeros_like(lo), lo)
    hi = torch.where(empty, torch.zeros_like(hi), hi)
    zeros = n - torch.count_nonzero(v)
    nans = torch.isnan(v).sum()
    stats = torch.stack(
        [
            mean,
            var.sqrt(),
            lo,
            hi,
            dot.sqrt(),
            zeros / max(n, 1),
            nans.float(),
            (n - nf - nans).float(),
        ]
    )
    stride = max(1, n // HIST_SAMPLE)
    sample, fin = (v[::stride], finite[::stride]) if stride > 1 else (v, finite)
    width = hi - lo
    pos = torch.where(
        width > 0,
        (torch.where(fin, sample, lo) - lo) / torch.where(width > 0, width, torch.ones_like(width)),
        torch.full_like(width, 0.5),
    )
    pos = torch.nan_to_num(pos, nan=0.5, posinf=1.0, neginf=0.0)  # overflowing ranges
    idx = torch.where(fin, (pos * bins).clamp(0, bins - 1).long(), bins)
    hist = torch.zeros(bins + 1, dtype=torch.int64, device=v.device).index_add_(
        0, idx, torch.ones_like(idx)
    )[:bins]
    return stats, hist, torch.stack([lo, hi]), sample.numel()


_ROWS = fused.RowPass()
"""The stateless fused pass behind ``rows_stats`` (its plans are cached per layout)."""


def rows_stats(flats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Stats of several flat tensors, a row each: on the CPU one fused pass when its kernels
    are ready (nnviz3d/capture/fused.py); otherwise one tensor at a time with a few
    whole-tensor reductions (segment reductions over one concatenated buffer were measured
    slower: atomics on a few addresses on GPUs, single-threaded bincount on CPUs). No host
    sync on accelerators."""
    cpu = flats[0].device.type == "cpu"
    if cpu:
        res = _ROWS.run(flats, list(range(len(flats))), len(flats), HIST_BINS, HIST_SAMPLE)
        if res is not None:
            return res
    stats = tensor_stats if cpu else device_tensor_stats
    out = [stats(f.float()) for f in flats]
    return {
        "stats": torch.stack([o[0] for o in out]),
        "hist": torch.stack([o[1] for o in out]),
        "range": torch.stack([o[2] for o in out]),
        "sampled": torch.tensor([o[3] for o in out]),
        "count": torch.tensor([f.numel() for f in flats]),
    }


def segment_stats(
    flat: torch.Tensor, seg: torch.Tensor, nseg: int, bins: int = HIST_BINS
) -> dict[str, torch.Tensor]:
    """Stats ``(nseg, 8)``, histogram ``(nseg, bins)`` and range ``(nseg, 2)`` of ``flat``
    split into segments by ``seg`` (segment id per element). Sizes are known in advance, so
    every reduction is an ``index_add_``/``scatter_reduce`` into a preallocated buffer: no
    host synchronisation on accelerators (``bincount`` would need one to size its output)."""
    x = flat.float()
    dev = x.device
    finite = torch.isfinite(x)
    f = finite.float()
    xf = torch.where(finite, x, torch.zeros((), device=dev))

    def seg_sum(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(nseg, device=dev).index_add_(0, seg, values)

    total = seg_sum(torch.ones_like(x))
    count = seg_sum(f)
    safe = count.clamp_min(1)
    mean = seg_sum(xf) / safe
    centred = (xf - mean[seg]) * f
    var = seg_sum(centred * centred) / safe
    sq = seg_sum(xf * xf)
    inf = torch.full((), float("inf"), device=dev)  # a fill kernel, not a host copy
    lo = torch.full((nseg,), float("inf"), device=dev).scatter_reduce(
        0, seg, torch.where(finite, x, inf), "amin", include_self=True
    )
    hi = torch.full((nseg,), float("-inf"), device=dev).scatter_reduce(
        0, seg, torch.where(finite, x, -inf), "amax", include_self=True
    )
    empty = count == 0
    lo = torch.where(empty, torch.zeros_like(lo), lo)
    hi = torch.where(empty, torch.zeros_like(hi), hi)
    zeros = seg_sum((x == 0).float())
    nans = seg_sum(torch.isnan(x).float())
    infs = seg_sum(torch.isinf(x).float())
    stats = torch.stack(
        [mean, var.sqrt(), lo, hi, sq.sqrt(), zeros / total.clamp_min(1), nans, infs], dim=1
    )
    width = (hi - lo)[seg]
    pos = torch.where(width > 0, (xf - lo[seg]) / torch.where(width > 0, width, 1.0), 0.5)
    # a range that overflows float32 (|values| near 3e38) gives inf/NaN positions: clamp them
    pos = torch.nan_to_num(pos, nan=0.5, posinf=1.0, neginf=0.0)
    b = (pos * bins).floor().clamp(0, bins - 1).long()
    idx = torch.where(finite, seg * bins + b, torch.full_like(b, nseg * bins))
    hist = (
        torch.zeros(nseg * bins + 1, dtype=torch.int64, device=dev)
        .index_add_(0, idx, torch.ones_like(idx))[: nseg * bins]
        .view(nseg, bins)
    )
    return {"stats": stats, "hist": hist, "range": torch.stack([lo, hi], dim=1)}


def segment_ids(sizes: list[int], device) -> torch.Tensor:
    """Segment id per element for tensors of ``sizes`` laid end to end."""
    counts = torch.tensor(sizes, device=device)
    return torch.repeat_interleave(
        torch.arange(len(sizes), device=device), counts, output_size=sum(sizes)
    )


def _compact(m: torch.Tensor) -> torch.Tensor:
    """float16 when every finite value fits in it (|x| <= 65504), else float32: a large
    weight must not travel as Inf."""
    if not m.numel():
        return m.half()
    # one pass (numpy on the CPU: a single thread, no parallel region for a small matrix);
    # NaN or Inf in it takes the masked path
    peak = float(np.abs(m.numpy()).max() if m.device.type == "cpu" else m.abs().amax())
    if peak != peak or peak == float("inf"):
        finite = m[torch.isfinite(m)]
        peak = float(finite.abs().max()) if finite.numel() else 0.0
    return m if peak > 65504.0 else m.half()


def downsample_matrix(w: torch.Tensor, limit: int = MATRIX_MAX) -> tuple[torch.Tensor, str]:
    """A 2D view of a weight (conv kernels as out x in*k*k), at most ``limit`` per side."""
    m = w.detach().float().reshape(w.shape[0], -1)
    rows, cols = m.shape
    h, wd = min(rows, limit), min(cols, limit)
    if (h, wd) == (rows, cols):
        return _compact(m), f"none: full {rows}x{cols} matrix"
    out = torch.nn.functional.adaptive_avg_pool2d(m[None, None], (h, wd))[0, 0]
    return _compact(out), f"adaptive average pooling {rows}x{cols} -> {h}x{wd}"


def weight_matrix(w: torch.Tensor) -> dict:
    """``{"full_shape", "method", "data"[, "layout", "kernel"]}``: a conv weight small enough
    is sent whole as (O, I*kh*kw) with ``layout: "tiles"``; others as a downsampled matrix."""
    shape = list(w.shape)
    if w.dim() == 4:
        o, i, kh, kw = shape
        if o * (kh + 1) - 1 <= TILES_MAX and i * (kw + 1) - 1 <= TILES_MAX:
            return {
                "full_shape": shape,
                "layout": "tiles",
                "kernel": [kh, kw],
                "method": f"none: all {o}x{i} kernels of {kh}x{kw}, tiled",
                "data": _compact(w.detach().float().reshape(o, -1)),
            }
    data, method = downsample_matrix(w)
    return {"full_shape": shape, "method": method, "data": data}


RELU_LIKE = (nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Threshold)
"""Modules whose units can be exactly dead (output 0 for every input)."""


def dead_fraction(out: torch.Tensor) -> torch.Tensor:
    """Fraction of units that output exactly 0 for the whole batch. Units are channels
    (dim 1) of feature maps and the last dimension otherwise."""
    quick = fused.dead_fraction(out)
    if quick is not None:
        return torch.tensor(quick)
    unit_dim = 1 if out.dim() >= 3 else out.dim() - 1
    alive = (out != 0).movedim(unit_dim, -1).reshape(-1, out.shape[unit_dim]).any(dim=0)
    return 1.0 - alive.float().mean()


def unit_mean(out: torch.Tensor, unit: int) -> torch.Tensor:
    """Mean activation of one unit over the batch (and positions): channel ``unit`` (dim 1) of
    a feature map, the last dimension's ``unit`` otherwise."""
    x = out[:, unit] if out.dim() >= 3 else out[..., unit]
    return x.float().mean()


def local(t: torch.Tensor) -> torch.Tensor:
    """This rank's part of ``t``: the local shard of a DTensor (FSDP2), else ``t`` itself.
    Never an operation on the DTensor (that could start a collective on one rank alone)."""
    to_local = getattr(t, "to_local", None)
    return to_local() if callable(to_local) else t


def local_grad(p: torch.Tensor) -> torch.Tensor | None:
    """This rank's part of ``p``'s gradient; an empty one for an empty shard (FSDP1 gives
    a parameter with no local elements no gradient), None when there is none."""
    if p.grad is not None:
        return local(p.grad)
    mine = local(p)
    return mine.new_zeros(0) if mine.numel() == 0 else None


def _flat(params, get) -> torch.Tensor:
    """One module's tensors as one flat float view (a copy only when it has several); each
    rank's local shard of a sharded (FSDP) parameter."""
    ts = [local(get(p)).detach().reshape(-1) for p in params]
    flat = ts[0] if len(ts) == 1 else torch.cat(ts)
    return flat if flat.dtype == torch.float32 else flat.float()


def _whole(t):
    """A DTensor gathered whole (a collective), anything else as it is."""
    full = getattr(t, "full_tensor", None)
    return full() if callable(full) else t


class Probes:
    """Hooks and buffers for one model. ``close()`` removes every hook."""

    def __init__(self, model: nn.Module, graph: Graph | None = None) -> None:
        self.model = model
        from .wrapped import clean_path

        modules = {clean_path(path): mod for path, mod in model.named_modules()}
        self.param_modules: list[str] = []
        self.params: list[list[nn.Parameter]] = []
        seen: set[int] = set()
        for path, mod in modules.items():
            own = [p for p in mod.parameters(recurse=False) if id(p) not in seen]
            seen.update(id(p) for p in own)
            if own:
                self.param_modules.append(path)
                self.params.append(own)
        self.device = self.params[0][0].device if self.params else torch.device("cpu")
        self.prev_weights: list[torch.Tensor] | None = None
        self.matrices_off = False
        """No weight maps (FSDP1: each rank holds flat pieces of its modules' weights)."""
        if graph is not None:
            act_paths = [
                n.path
                for n in graph.nodes
                if n.role == ROLE_MODULE and n.is_unit and n.call_index == 0 and n.called
            ]
        else:
            act_paths = [p for p, m in modules.items() if p and not any(True for _ in m.children())]
        self.act_modules = [p for p in act_paths if p in modules]
        self.relu_like = {p for p in self.act_modules if isinstance(modules[p], RELU_LIKE)}
        self._modules = modules
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles: list = []
        self.tracked: dict[str, tuple[int, ...]] = {}
        """Units whose mean activation is reported at every activation probe (module -> units);
        replaced whole (never mutated) so another thread may set it."""
        # the fused one-pass statistics (CPU; nnviz3d/capture/fused.py): per-parameter tensors
        # in rows of modules, read where they lie
        self._param_rows = [i for i, ps in enumerate(self.params) for _ in ps]
        self._weight_pass = fused.RowPass(keep_prev=True)
        self._grad_pass = fused.RowPass()
        self._act_pass = fused.RowPass()
        if self.device.type == "cpu":
            fused.start()

    @property
    def armed(self) -> bool:
        """True while forward hooks record module outputs (for the next activation pass).
        Hooks exist only while armed, so steps without an activation probe pay nothing."""
        return bool(self.handles)

    @armed.setter
    def armed(self, on: bool) -> None:
        if on and not self.handles:
            self.handles = [
                self._modules[p].register_forward_hook(self._make_hook(p)) for p in self.act_modules
            ]
        elif not on and self.handles:
            for h in self.handles:
                h.remove()
            self.handles = []

    def _make_hook(self, path: str):
        def hook(module, args, output):
            out = output
            while isinstance(out, (tuple, list)) and out:
                out = out[0]
            if isinstance(out, torch.Tensor) and out.numel():
                self.outputs[path] = out.detach()

        return hook

    @torch.no_grad()
    def weights(self) -> dict:
        if not self.params:
            return {}
        if self.device.type == "cpu" and fused.ready():
            tensors = [local(p) for ps in self.params for p in ps]
            if self.prev_weights is not None:  # the torch path ran until the kernels were ready
                self._weight_pass.seed(torch.cat(self.prev_weights), [t.numel() for t in tensors])
                self.prev_weights = None
            res = self._weight_pass.run(
                tensors, self._param_rows, len(self.params), HIST_BINS, HIST_SAMPLE
            )
            if res is not None:
                res["modules"] = self.param_modules
                return res
        flats = [_flat(ps, lambda p: p) for ps in self.params]
        res = rows_stats(flats)
        prev = self.prev_weights
        if prev is not None and len(prev) == len(flats):
            parts = []
            for f, p in zip(flats, prev):
                d = f.float() - p  # NaN weights give a NaN ratio, which is the truth
                parts.append(torch.stack([torch.dot(d, d), torch.dot(p, p)]))
            # squared norms of the change and of the previous weights: summed over ranks
            res["update_parts"] = torch.stack(parts)
            res["update"] = res["update_parts"][:, 0].sqrt() / res["update_parts"][
                :, 1
            ].sqrt().clamp_min(1e-30)
        else:
            res["update"] = torch.full((len(flats),), float("nan"), device=flats[0].device)
        self.prev_weights = [f.float().clone() for f in flats]
        res["modules"] = self.param_modules
        return res

    @torch.no_grad()
    def grads(self) -> dict:
        rows, tensors = [], []
        for path, ps in zip(self.param_modules, self.params):
            if all(local_grad(p) is not None for p in ps):
                rows.append(path)
                tensors.append(ps)
        if not rows:
            return {}
        if self.device.type == "cpu" and fused.ready():
            grads = [local_grad(p) for ps in tensors for p in ps]
            owner = [r for r, ps in enumerate(tensors) for _ in ps]
            res = self._grad_pass.run(grads, owner, len(rows), HIST_BINS, HIST_SAMPLE)
            if res is not None:
                res["modules"] = rows
                return res
        res = rows_stats([_flat(ps, local_grad) for ps in tensors])
        res["modules"] = rows
        return res

    @torch.no_grad()
    def activations(self) -> dict:
        outs, self.outputs = self.outputs, {}
        if not outs:
            return {}
        rows = list(outs)
        res = None
        if outs[rows[0]].device.type == "cpu" and fused.ready():
            # a module that hands on its input unchanged (dropout at p=0, identity) shares
            # the tensor of the one before: read it once
            distinct: dict[tuple, int] = {}
            which, unique = [], []
            for p in rows:
                t = outs[p]
                key = (t.data_ptr(), tuple(t.shape), t.stride(), t.dtype)
                if key not in distinct:
                    distinct[key] = len(unique)
                    unique.append(t)
                which.append(distinct[key])
            res = self._act_pass.run(
                unique, list(range(len(unique))), len(unique), HIST_BINS, HIST_SAMPLE
            )
            if res is not None and len(unique) < len(rows):
                index = torch.tensor(which)
                res = {k: v[index] for k, v in res.items()}
        if res is None:
            res = rows_stats([outs[p].reshape(-1) for p in rows])
        res["modules"] = rows
        res["dead"] = torch.stack(
            [
                dead_fraction(outs[p])
                if p in self.relu_like
                else torch.full((), float("nan"), device=outs[p].device)
                for p in rows
            ]
        )
        units = {
            f"act {m}[{u}]": unit_mean(outs[m], u)
            for m, us in self.tracked.items()
            if m in outs
            for u in us
            if u < outs[m].shape[1 if outs[m].dim() >= 3 else -1]
        }
        if units:
            res["units"] = units
        return res

    def track(self, module: str, unit: int, limit: int = 8) -> str:
        """Report ``module``'s unit's mean activation from now on (the newest ``limit``
        tracked units are kept); returns the metric's name."""
        if module not in self.act_modules:
            raise ValueError(f"{module!r} is not a layer whose activations are probed")
        pairs = [(m, u) for m, us in self.tracked.items() for u in us if (m, u) != (module, unit)]
        pairs = (pairs + [(module, int(unit))])[-limit:]
        tracked: dict[str, tuple[int, ...]] = {}
        for m, u in pairs:
            tracked[m] = tracked.get(m, ()) + (u,)
        self.tracked = tracked  # read at the next activation probe (the schedule arms it)
        return f"act {module}[{unit}]"

    @torch.no_grad()
    def matrices(self) -> list[dict]:
        """Each module's weight (>= 2-D) as a matrix or conv tiles, and its bias as a row.
        A sharded (FSDP2) weight is gathered whole first: every rank calls this at the same
        steps, in the same order (the fixed schedule under torch.distributed)."""
        out = []
        if self.matrices_off:
            return out
        for path in self.param_modules:
            mod = self.model.get_submodule(path) if path else self.model
            w, b = _whole(getattr(mod, "weight", None)), _whole(getattr(mod, "bias", None))
            if isinstance(w, torch.Tensor) and w.dim() >= 2:
                out.append({"module": path, "param": "weight", **weight_matrix(w)})
            if isinstance(b, torch.Tensor) and b.dim() == 1 and b.numel():
                data, method = downsample_matrix(b[None])
                out.append(
                    {
                        "module": path,
                        "param": "bias",
                        "full_shape": list(b.shape),
                        "method": method,
                        "data": data,
                    }
                )
        return out

    def to_host(self, kinds: dict, matrices: list[dict], norms: dict | None = None) -> dict:
        """Start copying results to the CPU without waiting: ``{"kinds", "matrices"[,
        "event"]}`` for the frame worker, which waits on the CUDA event (if any) before
        reading. The training thread never synchronises here."""
        host = {
            "kinds": {
                kind: {
                    k: v.to("cpu", non_blocking=True) if hasattr(v, "to") else v
                    for k, v in res.items()
                    if k != "units"
                }
                for kind, res in kinds.items()
            },
            "units": {
                k: v.to("cpu", non_blocking=True)
                for res in kinds.values()
                for k, v in res.get("units", {}).items()
            },
            "matrices": [{**m, "data": m["data"].to("cpu", non_blocking=True)} for m in matrices],
        }
        if norms:  # every-step gradient norms for health (nnviz3d/capture/grad_norms.py)
            host["norms"] = (
                {**norms, "parts": norms["parts"].to("cpu", non_blocking=True)}
                if "parts" in norms
                else norms  # per-layer norms from the fused kernel, in numpy already
            )
        if self.device.type == "cuda":
            event = torch.cuda.Event()
            event.record()
            host["event"] = event
        return host

    def close(self) -> None:
        self.armed = False
        self.outputs = {}
        self.prev_weights = None
        self._weight_pass.reset()  # the fused pass's copy of the weights
