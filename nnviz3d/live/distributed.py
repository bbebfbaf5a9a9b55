"""``watch`` under torch.distributed: every rank probes its own replica, rank 0 shows one view.

Each probed kind's per-module rows (stats, histogram, range, element count) are gathered to
rank 0 in one collective per kind and merged there as if computed on the ranks' tensors laid
end to end:

- mean and std from the finite counts and E[x] / E[x^2] of each rank; min, max over ranks;
  the L2 norm as sqrt(sum of squares); the zero fraction weighted by element counts; NaN and
  Inf counts summed. These are exact (up to float rounding).
- histograms are re-binned onto the merged [min, max] by linear interpolation of each rank's
  cumulative counts (exact when the ranks' ranges agree: DDP's weights and all-reduced
  gradients; an approximation for activations, whose ranges differ per rank).
- the dead-unit fraction of activations is the smallest of the ranks' (a unit dead on the
  whole global batch is dead on every rank: a lower bound).

Sharded models (FSDP): each rank probes its local shards (the DTensor's local tensor under
FSDP2 ``fully_shard``; the flat pieces of ``FullyShardedDataParallel(use_orig_params=True)``),
and the shards laid end to end are the whole parameter, so the merged statistics are those of
the unsharded parameters. An empty shard counts nothing. Weight maps gather a sharded weight
whole under FSDP2; FSDP1 gives none (its shards are flat pieces, not rows). ``group=`` (a
ProcessGroup, or a 1-D DeviceMesh such as ``mesh["shard"]``) gathers within that group only
(e.g. the shard group of HSDP, whose replicas would count twice in the global group); the
group's first rank merges, and global rank 0 records and serves.

The schedule must be the same on every rank (a collective that one rank skips would hang the
others), so under torch.distributed the adaptive budget is replaced by a fixed interval
(``every``, default :data:`DEFAULT_EVERY`). Only rank 0 records, serves and runs viewer
requests; a DistributedDataParallel wrapper is unwrapped so module paths read as the user's.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from ..scene.histogram_ridge import rebin

DEFAULT_EVERY = 10
"""Probe interval under torch.distributed when ``every`` is not given."""
KIND_ORDER = ("weight", "grad", "act")


def world() -> tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` outside an initialised multi-process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _fsdp1():
    """The FSDP1 wrapper class, when the user's script imported it (a model cannot be one
    otherwise, and importing it costs every other run its import time)."""
    fsdp = sys.modules.get("torch.distributed.fsdp")
    cls = getattr(fsdp, "FullyShardedDataParallel", None)
    return (cls,) if isinstance(cls, type) else ()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DistributedDataParallel, DataParallel or FullyShardedDataParallel
    (FSDP1) wrapper. FSDP2 (``fully_shard``) needs none: it keeps the user's modules."""
    inner = getattr(model, "module", None)
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel, *_fsdp1())
    return inner if isinstance(model, wrappers) and isinstance(inner, torch.nn.Module) else model


def is_fsdp1(model: torch.nn.Module) -> bool:
    """An FSDP1 wrapper; one built without ``use_orig_params=True`` hides the parameters of
    the user's modules (they live in one flat parameter), so it is refused."""
    if not isinstance(model, _fsdp1()):
        return False
    if not getattr(model, "_use_orig_params", True):
        raise ValueError(
            "nnviz3d.watch needs FullyShardedDataParallel(..., "
            "use_orig_params=True) to see each module's parameters"
        )
    return True


def plain_twin(module: torch.nn.Module) -> torch.nn.Module:
    """A shallow copy of ``module``'s tree with every nested FSDP1 wrapper replaced by the
    module it wraps: the user's modules, sharing their parameters, to capture the topology
    without running FSDP's own forward (its hooks and collectives). Hook tables are copied,
    so the capture's hooks never reach the real modules."""
    import copy

    wrappers = _fsdp1()
    while isinstance(module, wrappers):
        module = module.module
    twin = copy.copy(module)
    for table in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks"):
        if hasattr(module, table):
            setattr(twin, table, type(getattr(module, table))(getattr(module, table)))
    twin._modules = {
        name: None if child is None else plain_twin(child)
        for name, child in module._modules.items()
    }
    return twin


def capture_sharded(wrapper: torch.nn.Module, model: torch.nn.Module, example_inputs):
    """The graph of a sharded model (every rank calls it: it runs collectives), or None when
    the model is not sharded (the caller captures it as usual). FSDP1: the user's modules
    (nested wrappers left out, :func:`plain_twin`) with their parameters gathered whole for
    the capture. FSDP2: module hooks on a real forward (torch.export and torch.fx cannot trace
    its DTensor parameters and leave its lazy initialisation half done)."""
    from ..capture import capture_graph

    if is_fsdp1(wrapper):
        with type(wrapper).summon_full_params(wrapper, writeback=False):
            return capture_graph(plain_twin(model), example_inputs)
    if any(callable(getattr(p, "to_local", None)) for p in model.parameters()):
        return capture_graph(model, example_inputs, strategies=("hooks",))
    return None


def process_group(group):
    """A ProcessGroup from ``group=``: a ProcessGroup, a 1-D DeviceMesh, or None (the
    global group)."""
    if group is None:
        return None
    get_group = getattr(group, "get_group", None)
    if callable(get_group):  # a DeviceMesh
        if getattr(group, "ndim", 1) != 1:
            raise ValueError(
                f"group= takes a 1-D DeviceMesh (its data-parallel dim, e.g. "
                f"mesh['dp']); this one has {group.ndim} dims"
            )
        return get_group()
    return group


def _pack(res: dict) -> torch.Tensor:
    """One (M, 8 + B + 2 + 2 + 2) float64 tensor: stats, histogram, range, count, dead, and
    the squared norms of the weight update and of the previous weights (NaN where absent)."""
    m = res["stats"].shape[0]
    dead = res.get("dead", torch.full((m,), float("nan")))
    update = res.get("update_parts", torch.full((m, 2), float("nan")))
    return torch.cat(
        [
            res["stats"].double().cpu(),
            res["hist"].double().cpu(),
            res["range"].double().cpu(),
            res["count"].double().cpu()[:, None],
            dead.double().cpu()[:, None],
            update.double().cpu(),
        ],
        dim=1,
    )


def merge(parts: list[np.ndarray], bins: int) -> dict[str, np.ndarray]:
    """Merge the packed rows of every rank (see :func:`_pack`) into one set of rows."""
    p = np.stack(parts)  # (R, M, cols)
    stats, hist = p[..., :8], p[..., 8 : 8 + bins]
    count, dead = p[..., 10 + bins], p[..., 11 + bins]
    d2, w2 = p[..., 12 + bins].sum(axis=0), p[..., 13 + bins].sum(axis=0)
    mean, std, lo, hi, norm, zero, nan, inf = np.moveaxis(stats, -1, 0)
    finite = count - nan - inf
    nf = finite.sum(axis=0)
    safe = np.maximum(nf, 1)
    g_mean = (finite * mean).sum(axis=0) / safe
    ex2 = (finite * (std**2 + mean**2)).sum(axis=0) / safe
    g_std = np.sqrt(np.maximum(ex2 - g_mean**2, 0))
    has = finite > 0
    g_lo = np.where(has, lo, np.inf).min(axis=0)
    g_hi = np.where(has, hi, -np.inf).max(axis=0)
    empty = nf == 0
    g_lo, g_hi = np.where(empty, 0.0, g_lo), np.where(empty, 0.0, g_hi)
    out_stats = np.stack(
        [
            g_mean,
            g_std,
            g_lo,
            g_hi,
            np.sqrt((norm**2).sum(axis=0)),
            (zero * count).sum(axis=0) / np.maximum(count.sum(axis=0), 1),
            nan.sum(axis=0),
            inf.sum(axis=0),
        ],
        axis=1,
    )
    out_hist = np.zeros(hist.shape[1:])
    for row in range(hist.shape[1]):
        edges = np.linspace(g_lo[row], g_hi[row], bins + 1)
        for r in range(len(parts)):
            if hist[r, row].sum() == 0:
                continue
            out_hist[row] += rebin(hist[r, row], lo[r, row], hi[r, row], edges)
    totals = hist.sum(axis=(0, 2))
    return {
        "stats": out_stats.astype(np.float32),
        "hist": _round_keeping(out_hist, totals),
        "range": np.stack([g_lo, g_hi], axis=1).astype(np.float32),
        "update": np.sqrt(d2) / np.maximum(np.sqrt(w2), 1e-30),
        "count": count.sum(axis=0),
        "dead": np.nanmin(np.where(np.isnan(dead), np.inf, dead), axis=0),
    }


def _round_keeping(h: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Round each row of fractional counts to integers that still sum to its total (largest
    remainders get the leftover units)."""
    out = np.floor(h).astype(np.int64)
    for row in range(len(h)):
        short = round(totals[row]) - int(out[row].sum())
        if short > 0:
            out[row, np.argsort(out[row] - h[row])[:short]] += 1
    return out


def reduce_kinds(kinds: dict, rank: int, size: int, group=None) -> dict | None:
    """Gather every kind's rows to the group's first rank (rank 0 of the global group by
    default) and merge them; that rank gets the merged ``kinds`` (tensors, as the probes
    return them), the others None. Every rank of the group must call it with the same kinds
    (the fixed schedule guarantees it)."""
    import torch.distributed as dist

    group = process_group(group)
    dst = 0
    if group is not None:
        rank, size = dist.get_rank(group), dist.get_world_size(group)
        dst = dist.get_global_rank(group, 0)
    device = torch.device("cpu")
    if dist.get_backend(group) == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    merged = {}
    for kind in KIND_ORDER:
        if kind not in kinds:
            continue
        res = kinds[kind]
        packed = _pack(res).to(device)
        gathered = [torch.empty_like(packed) for _ in range(size)] if rank == 0 else None
        dist.gather(packed, gathered, dst=dst, group=group)
        if rank != 0:
            continue
        bins = res["hist"].shape[1]
        m = merge([g.cpu().numpy() for g in gathered], bins)
        out = dict(res)
        out["stats"] = torch.from_numpy(m["stats"])
        out["hist"] = torch.from_numpy(m["hist"])
        out["range"] = torch.from_numpy(m["range"])
        if "update_parts" in res:  # the change of the whole (unsharded) weights
            out["update"] = torch.from_numpy(m["update"].astype(np.float32))
            out.pop("update_parts")
        out["sampled"] = torch.from_numpy(np.round(m["hist"].sum(axis=1)).astype(np.int64))
        if "dead" in res:
            dead = m["dead"]
            out["dead"] = torch.from_numpy(
                np.where(np.isinf(dead), np.nan, dead).astype(np.float32)
            )
        merged[kind] = out
    return merged if rank == 0 else None
