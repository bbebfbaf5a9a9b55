"""Training-step overhead of nnviz3d's live probes, side by side with TensorBoard and wandb.

Run: .venv/bin/python bench/capture_overhead.py [--rounds N] [--steps N]

Models (CPU, batch 64, random inputs, cross-entropy on the logits, SGD lr 0.01, fixed seed):
an MLP 784-512-512-10, the pytorch/examples MNIST CNN (conv 32, conv 64, max-pool, dropout,
fc 9216-128-10; it returns logits here, so the loss is cross_entropy instead of log_softmax +
nll_loss, which is the same value) and a small transformer (4 encoder layers, d_model 128, 4
heads, feed-forward 512, 32 positions, mean-pooled into 10 logits). Variants, each on a fresh
deepcopy of the same template model (so no hook of one variant can stay on the model of the
next):
  plain          zero_grad, forward, loss, backward, optimizer.step
  floor          plain plus one read of every tensor nnviz3d probes at every step: torch.dot
                 (vector_norm where not contiguous) of each parameter, gradient and leaf module
                 output (caught by forward hooks; a tensor handed on unchanged is read once):
                 the physical limit of probing everything every step on this machine
  nnviz3d every  nnviz3d.watch(..., every=1, record=False, serve=False); w.step(loss=...) per step
  nnviz3d every (torch ops)
                 the same with the fused one-pass kernels switched off (fused.ENABLED = False):
                 torch's separate reductions, the path without numba
  nnviz3d budget the same with every=None: the default schedule (budget 0.05, calibration, every
                 kind at least every 256 steps or 2 s, gradient norms every step for health)
  nnviz3d old    the default before issue 17 (OldSchedule below: EMA-adapted intervals from the
                 second sample on, cap 256, weight maps at 8x the weight interval, health only
                 at gradient probes), on the same watcher
Budget variants get 30 warm-up steps; the timed window is long enough (default 300 steps) to
hold a multiple of the 256-step cap, so a periodic full probe is inside it.
  TensorBoard    SummaryWriter.add_histogram of every parameter and its gradient, plus the loss
  wandb          wandb.init(mode="offline") + wandb.watch(log="all", log_freq=1) + wandb.log
Method: in one process, for each model, R rounds; in each round every variant (in an order
rotated by one per round) is set up untimed, warmed up, then S full steps are timed with
time.perf_counter; a variant's ratio in a round is its mean step time (total over the timed
steps, so periodic probe passes are amortised, not hidden as a median would hide them) over
plain's mean in the same round; the table shows the median of those ratios over the rounds,
with the spread (min-max) beside it ("not installed" when a tool cannot be imported, "fails:
<first line of the error>" when it raises). "x floor" is a variant's overhead over the floor's
overhead, (ratio - 1) / (floor - 1), both medians.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import gc
import importlib
import math
import os
import shutil
import statistics
import tempfile
import time
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

import nnviz3d
from nnviz3d.capture import fused
from nnviz3d.live import ProbeSchedule

TMP = tempfile.mkdtemp(prefix="nnviz3d-overhead-")  # wandb is imported only after this
os.environ.update(WANDB_SILENT="true", WANDB_MODE="offline", WANDB_DIR=TMP)
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

BATCH = 64
GOALS = [
    ("nnviz3d_every", "mlp", 1.50),
    ("nnviz3d_every", "cnn", 1.10),
    ("nnviz3d_every", "transformer", 1.10),
    ("nnviz3d_budget", "mlp", 1.05),
    ("nnviz3d_budget", "cnn", 1.05),
    ("nnviz3d_budget", "transformer", 1.05),
]


class MnistNet(nn.Module):
    """pytorch/examples mnist/main.py ``Net``, returning logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return self.fc2(self.dropout2(x))


class TinyTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.encoder(x).mean(dim=1))


MODELS = {  # name: (label, factory, input shape)
    "mlp": (
        "MLP 784-512-512-10",
        lambda: nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        ),
        (BATCH, 784),
    ),
    "cnn": ("MNIST CNN (pytorch/examples)", MnistNet, (BATCH, 1, 28, 28)),
    "transformer": ("Transformer 4x128, 32 positions", TinyTransformer, (BATCH, 32, 128)),
}


class OldSchedule(ProbeSchedule):
    """The schedule before issue 17, for the side-by-side column: every call re-adapts the
    interval from an EMA of costs (no calibration window, no hysteresis, no time guarantee),
    weight maps at 8x the weight interval, no every-step health signals."""

    def __init__(self) -> None:
        super().__init__(0.05, max_interval=256, max_seconds=None)

    def due(self, step, kind, prev=None):
        if kind == "matrices":
            return step % (self.interval["weight"] * 8) == 0
        return step % self.interval[kind] == 0

    def observe_cost(self, kind, seconds):
        if kind == "matrices":
            return
        self.samples[kind] += 1
        if self.samples[kind] == 1:
            return
        c = self.cost[kind]
        self.cost[kind] = seconds if c == 0 else 0.8 * c + 0.2 * seconds
        if self.step_time > 0:
            left = max(
                self.budget * self.step_time - self.background, 0.1 * self.budget * self.step_time
            )
            need = max(1.0, self.cost[kind] / (left / 3))
            self.interval[kind] = min(256, 1 << math.ceil(math.log2(need)))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:100]


# -- variants: setup(model, x) -> (after_step(loss, step) or None, close() -> note or None) --
def floor(model, x):
    """One read of every parameter, gradient and leaf module output per step."""
    outs: dict[tuple, torch.Tensor] = {}

    def keep(module, args, out):
        while isinstance(out, (tuple, list)) and out:
            out = out[0]
        if isinstance(out, torch.Tensor):
            outs[(out.data_ptr(), tuple(out.shape), out.stride())] = out.detach()

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(keep) for m in leaves]
    params = list(model.parameters())

    def read(t):
        v = t.reshape(-1) if t.is_contiguous() else None
        return torch.dot(v, v) if v is not None else torch.linalg.vector_norm(t)

    def after(loss, step):
        for p in params:
            read(p.detach())
            if p.grad is not None:
                read(p.grad)
        for t in outs.values():
            read(t)
        outs.clear()

    def close():
        for h in hooks:
            h.remove()

    return after, close


def nnviz3d_watch(model, x, every, old=False, fused_on=True):
    fused.ENABLED = fused_on
    w = nnviz3d.watch(
        model, example_inputs=x[:1], every=every, record=False, serve=False, quiet=True
    )
    if old:
        w.schedule = OldSchedule()
        w.grad_norms.norms = dict  # no every-step health signals
        w.probes.armed = True

    def close():  # returns a note for the per-round line
        s = w.stats()
        w.close()
        fused.ENABLED = True
        gaps = "/".join(str(c["max_gap"]) for c in s["coverage"].values())
        note = f"longest gaps w/g/a/maps {gaps} steps " if every is None else ""
        if s["dropped"] or s["failures"]:
            note += f"dropped {s['dropped']} failures {s['failures']}"
        return note.strip() or None

    return (lambda loss, step: w.step(loss=loss.item())), close


def tensorboard(model, x):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=tempfile.mkdtemp(dir=TMP))
    named = list(model.named_parameters())

    def after(loss, step):
        for name, p in named:
            writer.add_histogram(name, p, step)
            writer.add_histogram(name + ".grad", p.grad, step)
        writer.add_scalar("loss", loss.item(), step)

    return after, writer.close


def wandb_watch(model, x):
    import wandb

    wandb.init(mode="offline", dir=TMP, project="bench")
    try:
        wandb.watch(model, log="all", log_freq=1)
    except BaseException:
        wandb.finish()
        raise

    def close():
        if hasattr(wandb, "unwatch"):
            wandb.unwatch(model)
        wandb.finish()

    return (lambda loss, step: wandb.log({"loss": loss.item()})), close


VARIANTS = {  # key: (column label, setup, module that must import, warm-up steps or None)
    "plain": ("plain", lambda model, x: (None, None), None, None),
    "floor": ("floor (one read)", floor, None, None),
    "nnviz3d_every": ("nnviz3d every step", partial(nnviz3d_watch, every=1), None, None),
    "nnviz3d_every_torch": (
        "nnviz3d every step, torch ops",
        partial(nnviz3d_watch, every=1, fused_on=False),
        None,
        None,
    ),
    "nnviz3d_budget": ("nnviz3d default", partial(nnviz3d_watch, every=None), None, 30),
    "nnviz3d_old": ("nnviz3d old default", partial(nnviz3d_watch, every=None, old=True), None, 30),
    "tensorboard": ("TensorBoard add_histogram", tensorboard, "torch.utils.tensorboard", None),
    "wandb": ("wandb.watch log=all", wandb_watch, "wandb", None),
}


def availability(module: str | None) -> str | None:
    """None when ``module`` is None or imports, else "not installed" or "fails: ..."."""
    try:
        return module and importlib.import_module(module) and None
    except ImportError:
        return "not installed"
    except Exception as exc:  # a tool that breaks on import is a result too
        return "fails: " + first_line(exc)


def run_variant(setup, template, x, y, warmup: int, steps: int):
    """Median step time (s) of ``steps`` timed steps after ``warmup`` ones, and a note."""
    torch.manual_seed(0)  # the same dropout masks for every variant
    model = copy.deepcopy(template)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gc.collect()
    after, close = setup(model, x)
    times = []
    try:
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            if after is not None:
                after(loss, i)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    finally:
        note = close() if close is not None else None
    return statistics.fmean(times), note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per variant (default: 300 for the MLP, whose budget "
        "intervals reach the 256-step cap, 120 for the others, whose 2 s "
        "guarantee caps them at 16-32 steps)",
    )
    ap.add_argument("--warmup", type=int, default=10, help="warm-up steps (30 for the budget)")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="plain is always run")
    args = ap.parse_args()
    chosen = {"plain", *args.variants.split(",")}
    for key in [k for k in VARIANTS if k not in chosen]:
        del VARIANTS[key]

    versions = [f"torch {torch.__version__}", f"nnviz3d {nnviz3d.__version__}"]
    for mod in ("tensorboard", "wandb"):
        versions.append(f"{mod} " + (availability(mod) or importlib.import_module(mod).__version__))
    print(", ".join(versions))
    print(
        f"torch.get_num_threads() = {torch.get_num_threads()}; batch {BATCH}; rounds "
        f"{args.rounds}; timed steps {args.steps or '300 (MLP) / 120'}; warm-up {args.warmup} (nnviz3d budget 30)"
    )

    status = {k: availability(v[2]) for k, v in VARIANTS.items()}
    results: dict[str, dict] = {}
    spreads: dict[str, dict] = {}
    print("fused kernels:", "ready" if fused.start(wait=True) else "not available (torch ops)")
    for mname in args.models.split(","):
        label, factory, shape = MODELS[mname]
        torch.manual_seed(0)
        template = factory()
        x, y = torch.randn(shape), torch.randint(0, 10, (BATCH,))
        ratios = {k: [] for k in VARIANTS}
        plain_ms, errors = [], dict(status)
        for r in range(args.rounds):
            keys = list(VARIANTS)
            keys = keys[r % len(keys) :] + keys[: r % len(keys)]
            medians, notes = {}, {}
            for key in keys:
                _, setup, _, warm = VARIANTS[key]
                if errors.get(key):
                    continue
                try:
                    medians[key], notes[key] = run_variant(
                        setup,
                        template,
                        x,
                        y,
                        warm or args.warmup,
                        args.steps or (300 if mname == "mlp" else 120),
                    )
                except Exception as exc:  # reported in the table; not retried
                    errors[key] = "fails: " + first_line(exc)
            if "plain" not in medians:
                raise SystemExit(f"the plain step failed: {errors['plain']}")
            plain_ms.append(medians["plain"] * 1e3)
            parts = [f"plain {plain_ms[-1]:.2f} ms"]
            for key, med in medians.items():
                if key != "plain":
                    ratios[key].append(med / medians["plain"])
                    note = f" ({notes[key]})" if notes.get(key) else ""
                    parts.append(f"{VARIANTS[key][0]} {ratios[key][-1]:.2f}x{note}")
            print(
                f"{label} round {r + 1}/{args.rounds} [order {', '.join(keys)}]: "
                + "; ".join(parts),
                flush=True,
            )
        results[mname] = {
            "plain_ms": statistics.median(plain_ms),
            **{k: errors.get(k) or statistics.median(v) for k, v in ratios.items() if k != "plain"},
        }
        spreads[mname] = {k: (min(v), max(v)) for k, v in ratios.items() if v}

    cols = [k for k in VARIANTS if k != "plain"]
    print("\n| model | plain ms/step | " + " | ".join(VARIANTS[k][0] for k in cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for mname, res in results.items():
        cells = []
        for k in cols:
            v = res[k]
            if not isinstance(v, float):
                cells.append(v)
                continue
            lo, hi = spreads[mname][k]
            cell = f"{v:.2f}x ({lo:.2f}-{hi:.2f})"
            fl = res.get("floor")
            if k.startswith("nnviz3d") and isinstance(fl, float) and fl > 1:
                cell += f", {(v - 1) / (fl - 1):.1f}x floor"
            cells.append(cell)
        print(f"| {MODELS[mname][0]} | {res['plain_ms']:.2f} | " + " | ".join(cells) + " |")

    print("\nGoals:")
    for key, mname, limit in GOALS:
        v = results.get(mname, {}).get(key, "model not run")
        verdict = (
            ("met" if v <= limit else "NOT met") + f" ({v:.2f}x)"
            if isinstance(v, float)
            else f"unknown ({v})"
        )
        print(f"- {VARIANTS[key][0]} <= {limit:.2f}x on {MODELS[mname][0]}: {verdict}")


if __name__ == "__main__":
    main()
