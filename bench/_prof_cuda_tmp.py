import cProfile, pstats, time, io, sys
sys.path.insert(0, ".")
import torch
from torch import nn
import nnviz3d
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).cuda()
x = torch.randn(64, 784, device="cuda"); y = torch.randint(0, 10, (64,), device="cuda")
opt = torch.optim.SGD(model.parameters(), lr=0.01)
w = nnviz3d.watch(model, x[:1], every=1, record=False, serve=False, quiet=True)
def run(n, watch=True):
    for _ in range(n):
        loss = nn.functional.cross_entropy(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
        if watch: w.step(loss=loss.item())
        torch.cuda.synchronize()
run(20); run(20, False)
for watch in (False, True, False, True):
    t = time.perf_counter(); run(30, watch); print("watch", watch, "ms/step", (time.perf_counter() - t) / 30 * 1e3)
pr = cProfile.Profile(); pr.enable(); run(30); pr.disable()
s = io.StringIO(); st = pstats.Stats(pr, stream=s); st.sort_stats("tottime").print_stats(12); st.sort_stats("cumtime").print_stats(25)
print(s.getvalue()[:9000])
w.close()
