"""Run by tests/live/test_fsdp.py under torchrun (2 processes, gloo, CPU): a tiny MLP sharded
with FSDP2 (``fully_shard``: DTensor parameters), with FSDP2 gathering within a DeviceMesh
(``group=``), and with FSDP1 (``FullyShardedDataParallel(use_orig_params=True)``, around the
whole model and nested per Linear by an ``auto_wrap_policy``), trained a
few steps under nnviz3d.watch. After each step every rank gathers the whole (unsharded)
weights and gradients, and rank 0 writes their statistics to OUT.json, to be checked against
the recordings (RECORD_DIR/VARIANT.nnv3d)."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

import nnviz3d
from nnviz3d.capture.probes import tensor_stats

MODULES = ("0", "2")
STEPS = 3


def build(variant: str):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 15), nn.ReLU(), nn.Linear(15, 5))  # odd sizes: uneven
    if variant.startswith("fsdp1"):
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from torch.distributed.fsdp.wrap import ModuleWrapPolicy

        nested = {"auto_wrap_policy": ModuleWrapPolicy({nn.Linear})} if "nested" in variant else {}
        wrapped = FSDP(model, use_orig_params=True, device_id=torch.device("cpu"), **nested)
        return wrapped, model, {}
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (dist.get_world_size(),))
    fully_shard(model[0], mesh=mesh)
    fully_shard(model[2], mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model, model, {"group": mesh} if variant == "fsdp2-mesh" else {}


def whole(wrapped, model, variant: str):
    """Per module: the unsharded weights and gradients (weight then bias), flat."""
    out = {"weight": {}, "grad": {}}
    if variant.startswith("fsdp1"):
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        with FSDP.summon_full_params(wrapped, with_grads=True):
            for m in MODULES:
                ps = list(model.get_submodule(m).parameters())
                out["weight"][m] = torch.cat([p.detach().reshape(-1).clone() for p in ps])
                out["grad"][m] = torch.cat([p.grad.reshape(-1).clone() for p in ps])
        return out
    for m in MODULES:
        ps = list(model.get_submodule(m).parameters())
        out["weight"][m] = torch.cat([p.detach().full_tensor().reshape(-1) for p in ps])
        out["grad"][m] = torch.cat([p.grad.full_tensor().reshape(-1) for p in ps])
    return out


def train(variant: str, record: Path) -> list:
    rank = dist.get_rank()
    wrapped, model, extra = build(variant)
    opt = torch.optim.SGD(wrapped.parameters(), lr=0.5)
    torch.manual_seed(100 + rank)
    x, y = torch.randn(8, 12), torch.randint(0, 5, (8,))
    w = nnviz3d.watch(
        wrapped,
        x[:1],
        record=record,
        serve=False,
        every=1,
        quiet=True,
        strict=True,
        health=True,
        **extra,
    )
    expected = []
    for _ in range(STEPS):
        loss = nn.functional.cross_entropy(wrapped(x), y)
        opt.zero_grad()
        loss.backward()
        grads = whole(wrapped, model, variant)["grad"]  # before the step, as the probe sees
        opt.step()
        weights = whole(wrapped, model, variant)["weight"]
        w.step(loss=loss.item())
        row = {}
        for kind, tensors in (("weight", weights), ("grad", grads)):
            for m, flat in tensors.items():
                stats, hist, _, _ = tensor_stats(flat.float())
                row[f"{kind}:{m}"] = {
                    "stats": stats.tolist(),
                    "count": int(flat.numel()),
                    "flat": flat.tolist() if kind == "weight" else None,
                }
        expected.append(row)
    w.close()
    return expected


def main(record_dir: str, out: str) -> None:
    dist.init_process_group("gloo")
    torch.set_num_threads(1)
    results = {}
    for variant in ("fsdp2", "fsdp2-mesh", "fsdp1", "fsdp1-nested"):
        results[variant] = train(variant, Path(record_dir) / f"{variant}.nnv3d")
        dist.barrier()
    if dist.get_rank() == 0:
        with open(out, "w") as f:
            json.dump({"world": dist.get_world_size(), "results": results}, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
