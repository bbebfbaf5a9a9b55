"""Run by tests/live/test_distributed.py under torchrun (2 processes, gloo): DDP training with
nnviz3d.watch; rank 0 also gathers every rank's raw tensors, so the test can check the merged
statistics against statistics of the gathered tensors. Writes OUT.json on rank 0."""

import json
import sys

import torch
import torch.distributed as dist
from torch import nn

import nnviz3d
from nnviz3d.capture.probes import tensor_stats


def main(record: str, out: str) -> None:
    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    torch.manual_seed(100 + rank)  # each rank its own data (and batch size)
    x, y = torch.randn(8 + 4 * rank, 12), torch.randint(0, 4, (8 + 4 * rank,))
    acts = {}
    hooks = [
        model.get_submodule(p).register_forward_hook(
            lambda m, i, o, p=p: acts.__setitem__(p, o.detach().clone())
        )
        for p in ("0", "1", "2")
    ]
    w = nnviz3d.watch(
        ddp, x[:1], record=record, open_browser=False, port=0, every=1, quiet=True, strict=True
    )  # asked of every rank: only rank 0 obeys
    raw = []
    for _ in range(3):
        loss = nn.functional.cross_entropy(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        grads = {
            p: torch.cat([q.grad.reshape(-1) for q in model.get_submodule(p).parameters()])
            for p in ("0", "2")
        }
        opt.step()
        weights = {
            p: torch.cat([q.detach().reshape(-1) for q in model.get_submodule(p).parameters()])
            for p in ("0", "2")
        }
        w.step(loss=loss.item())
        raw.append({"act": dict(acts), "grad": grads, "weight": weights})
    w.close()
    for h in hooks:
        h.remove()
    everyone = [None] * size
    dist.all_gather_object(everyone, raw)
    servers = [None] * size
    dist.all_gather_object(servers, w.handle is not None)
    w.close_viewer()
    if rank == 0:
        expected = []
        for step in range(3):
            row = {}
            for kind in ("weight", "grad", "act"):
                for module in everyone[0][step][kind]:
                    flat = torch.cat([r[step][kind][module].reshape(-1) for r in everyone])
                    stats, hist, rng, _ = tensor_stats(flat.float())
                    row[f"{kind}:{module}"] = {"stats": stats.tolist(), "hist": hist.tolist()}
            expected.append(row)
        with open(out, "w") as f:
            json.dump({"expected": expected, "servers": servers, "world": size}, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
