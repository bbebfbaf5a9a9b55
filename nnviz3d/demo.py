"""``nnviz3d demo``: train the digits CNN on scikit-learn's bundled digits (real data, no
download) with the viewer open, so the network is seen learning."""

from __future__ import annotations

import time

from .data.digits import load_digits_tensors
from .progress import Progress, interactive


def run_demo(
    steps: int | None = None,
    epochs: int = 8,
    batch: int = 64,
    lr: float = 3e-3,
    open_browser: bool = True,
    port: int | None = None,
    record=True,
    keep_serving: bool = True,
    budget: float = 0.05,
    every: int | None = 1,
    step_delay: float = 0.0,
    **serving,
) -> dict:
    """Every step is probed by default: the CNN is tiny, and a demo is for watching.
    ``serving``: watch()'s host, token and tls (a headset on the LAN)."""
    import torch

    from .live import watch
    from .zoo import DigitsCNN

    torch.manual_seed(0)
    (xtr, ytr), (xva, yva) = load_digits_tensors()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    per_epoch = (len(ytr) + batch - 1) // batch
    total = steps if steps is not None else epochs * per_epoch
    w = watch(
        model,
        xtr[:1],
        record=record,
        open_browser=open_browser,
        port=port,
        budget=budget,
        every=every,
        inputs=xva,
        labels=yva,
        embed=["pool", "head.2"],
        embed_every=25,
        **serving,
    )
    print(f"nnviz3d demo: training DigitsCNN on {len(ytr)} digits for {total} steps", flush=True)
    start = time.perf_counter()
    try:  # Ctrl-C: the recording is closed (with w), the viewer too, then KeyboardInterrupt
        with w:
            step, acc = _train(w, model, opt, (xtr, ytr), (xva, yva), total, batch, step_delay)
        seconds = time.perf_counter() - start
        stats = w.stats()
        print(
            f"nnviz3d demo: {step} steps in {seconds:.1f} s, validation accuracy {acc:.3f}; "
            f"{stats['frames']} frames"
            + (f" recorded in {w.record_path}" if w.record_path else ""),
            flush=True,
        )
        if keep_serving and w.handle is not None:
            from .server.serving import serve_until_interrupted

            print(f"nnviz3d demo: the run stays explorable at {w.url}", flush=True)
            serve_until_interrupted(w.handle)
    finally:
        w.close_viewer()
    return {
        "steps": step,
        "seconds": seconds,
        "val_accuracy": acc,
        **stats,
        "record": str(w.record_path) if w.record_path else None,
    }


def _train(w, model, opt, train, val, total: int, batch: int, step_delay: float):
    """``total`` Adam steps over shuffled epochs, validated every 25 steps; ``(steps,
    validation accuracy)``. A bar on a terminal, else a line every 25 steps (what logs and
    the tests read)."""
    import torch
    import torch.nn.functional as F

    (xtr, ytr), (xva, yva) = train, val
    lines = not interactive()
    step, acc = 0, float("nan")
    with Progress(total, "training", unit="step", plain=False) as bar:
        while step < total:
            perm = torch.randperm(len(ytr))
            for i in range(0, len(ytr), batch):
                if step >= total:
                    break
                idx = perm[i : i + batch]
                model.train()
                logits = model(xtr[idx])
                loss = F.cross_entropy(logits, ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                train_acc = (logits.argmax(1) == ytr[idx]).float().mean().item()
                w.step(loss=loss.item(), accuracy=train_acc)
                step += 1
                if step % 25 == 0 or step == total:
                    model.eval()
                    with torch.no_grad():
                        val_logits = model(xva)
                        val_loss = F.cross_entropy(val_logits, yva).item()
                        acc = (val_logits.argmax(1) == yva).float().mean().item()
                    w.validation(loss=val_loss, accuracy=acc)
                    if lines:
                        print(
                            f"  step {step:4d}  loss {loss.item():.3f}  val loss "
                            f"{val_loss:.3f}  val acc {acc:.3f}",
                            flush=True,
                        )
                bar.update(1, loss=f"{loss.item():.3f}", val_acc=f"{acc:.3f}")
                if step_delay:
                    time.sleep(step_delay)
    return step, acc
