"""The probes' accelerator path, on a CUDA machine (run where `torch.cuda.is_available()`).

Run: python bench/probes_cuda.py   (with the repository root on PYTHONPATH)

1. Batched segment statistics on the GPU agree with the CPU path (NaN/Inf/zeros included).
2. Probing weights, gradients and activations makes no host synchronisation
   (torch.cuda.set_sync_debug_mode("error") raises on any).
3. Step-time ratio, nnviz3d every step vs plain, median of interleaved rounds, on the MLP
   784-512-512-10 and the PyTorch MNIST-example CNN (batch 64).
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

import nnviz3d
from nnviz3d.capture.probes import Probes, rows_stats


def check_agreement() -> None:
    g = torch.Generator().manual_seed(0)
    tensors = [
        torch.randn(5000, generator=g),
        torch.tensor([1, 2, 3, 0, float("nan"), float("inf"), -float("inf"), -1, 5.0]),
        torch.zeros(37),
        torch.randn(40000, generator=g) * 100,
    ]
    cpu = rows_stats(tensors)
    gpu = rows_stats([t.cuda() for t in tensors])
    diff = (cpu["stats"] - gpu["stats"].cpu()).abs().max().item()
    hist_equal = torch.equal(cpu["hist"], gpu["hist"].cpu())
    print(f"agreement: max |stats cpu - gpu| = {diff:.3g}; histograms equal: {hist_equal}")


def mlp():
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = torch.flatten(torch.max_pool2d(x, 2), 1)
        return self.fc2(torch.relu(self.fc1(x)))


def check_no_sync() -> None:
    model = mlp().cuda()
    probes = Probes(model)
    probes.armed = True
    model(torch.randn(64, 784, device="cuda")).sum().backward()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        probes.weights(), probes.grads(), probes.activations(), probes.weights()
        print("no host synchronisation in weights/grads/activations/update ratio: OK")
    except RuntimeError as exc:
        print(f"a probe synchronised: {str(exc).splitlines()[0]}")
    finally:
        torch.cuda.set_sync_debug_mode(0)
        probes.close()


def ratio(make, shape, rounds=5, steps=50) -> tuple[float, float]:
    x = torch.randn(*shape, device="cuda")
    y = torch.randint(0, 10, (shape[0],), device="cuda")
    ratios, plain_ms = [], []
    for _ in range(rounds):
        medians = {}
        for variant in ("plain", "every"):
            torch.manual_seed(0)
            model = make().cuda()
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            w = (
                nnviz3d.watch(model, x[:1], every=1, record=False, serve=False, quiet=True)
                if variant == "every"
                else None
            )
            times = []
            for i in range(steps + 10):
                torch.cuda.synchronize()
                t = time.perf_counter()
                loss = nn.functional.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                if w is not None:
                    w.step(loss=loss.detach())
                torch.cuda.synchronize()
                if i >= 10:
                    times.append(time.perf_counter() - t)
            if w is not None:
                w.close()
            medians[variant] = statistics.median(times)
        ratios.append(medians["every"] / medians["plain"])
        plain_ms.append(medians["plain"] * 1e3)
    return statistics.median(ratios), statistics.median(plain_ms)


if __name__ == "__main__":
    print(torch.__version__, torch.cuda.get_device_name())
    check_agreement()
    check_no_sync()
    for name, make, shape in (("MLP", mlp, (64, 784)), ("MNIST CNN", MnistCNN, (64, 1, 28, 28))):
        r, ms = ratio(make, shape)
        print(f"{name}: plain {ms:.3f} ms/step, nnviz3d every step {r:.2f}x")
