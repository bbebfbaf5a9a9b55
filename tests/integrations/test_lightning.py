"""``NNViz3DCallback`` on a real Lightning Trainer: a tiny MLP on random data, recorded and
served; the recording holds every step's loss, the validation curve, and gradients."""

import urllib.request

import pytest
import torch
from torch import nn

L = pytest.importorskip("lightning.pytorch")

from nnviz3d.integrations.lightning import NNViz3DCallback  # noqa: E402
from nnviz3d.record import RunReader  # noqa: E402

STEPS = 20


class TinyMLP(L.LightningModule):
    def __init__(self, example: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        if example:
            self.example_input_array = torch.randn(1, 8)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_acc", (self(x).argmax(1) == y).float().mean())
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))
        self.log("val_acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loaders():
    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(
        torch.randn(80, 8, generator=g), torch.randint(0, 3, (80,), generator=g)
    )
    train = torch.utils.data.DataLoader(data, batch_size=8)  # 10 steps an epoch
    return train, torch.utils.data.DataLoader(data, batch_size=40)


def fit(module, callback, **trainer_kwargs):
    trainer = L.Trainer(
        max_steps=STEPS,
        callbacks=[callback],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=1,
        **trainer_kwargs,
    )
    train, val = loaders()
    trainer.fit(module, train, val)
    return trainer


def frames(path):
    with RunReader(path) as reader:
        kinds: dict[str, set[int]] = {}
        for _, step, ks, _ in reader.frames():
            for k in ks:
                kinds.setdefault(k, set()).add(step)
        return kinds, reader.scalar_rows()


@pytest.mark.parametrize("example", [True, False], ids=["example_input_array", "first_batch"])
def test_one_callback_records_steps_loss_validation_and_gradients(tmp_path, example):
    torch.manual_seed(0)
    path = tmp_path / "pl.nnv3d"
    callback = NNViz3DCallback(record=path, serve=False, quiet=True, strict=True, max_interval=8)
    fit(TinyMLP(example), callback)
    assert callback.watcher.closed
    kinds, rows = frames(path)
    train = {step: sc for step, split, sc in rows if split == "train" and "loss" in sc}
    assert sorted(train) == list(range(1, STEPS + 1))  # trainer.global_step after each step
    assert all("train_acc" in sc for sc in train.values())
    val = [(step, sc) for step, split, sc in rows if split == "val"]
    assert [s for s, _ in val] == [10, 20]  # an epoch is 10 steps; the sanity check is not
    assert all(set(sc) == {"loss", "acc"} for _, sc in val)
    # gradients (taken before optimizer.step) at the calibration steps and each multiple of 8
    for kind in ("weight", "grad", "act"):
        assert {1, 2, 3, 8, 16} <= kinds[kind], (kind, sorted(kinds[kind]))


def test_gradient_accumulation_reports_each_optimizer_step_once(tmp_path):
    path = tmp_path / "acc.nnv3d"
    callback = NNViz3DCallback(record=path, serve=False, quiet=True, strict=True, every=1)
    fit(TinyMLP(), callback, accumulate_grad_batches=2)
    kinds, rows = frames(path)
    steps = [step for step, split, sc in rows if split == "train" and "loss" in sc]
    assert steps == list(range(1, STEPS + 1))
    assert set(range(1, STEPS + 1)) <= kinds["grad"]


def test_served_view_answers_the_page(tmp_path):
    callback = NNViz3DCallback(
        record=tmp_path / "s.nnv3d", serve=True, open_browser=False, port=0, quiet=True, every=4
    )
    try:
        fit(TinyMLP(), callback)
        url = callback.watcher.url
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200 and b"<html" in reply.read().lower()
    finally:
        if callback.watcher is not None:
            callback.watcher.close_viewer()


def test_a_failing_fit_closes_the_run(tmp_path):
    class Boom(TinyMLP):
        def training_step(self, batch, batch_idx):
            if self.global_step == 3:
                raise RuntimeError("user bug")
            return super().training_step(batch, batch_idx)

    callback = NNViz3DCallback(record=tmp_path / "b.nnv3d", serve=False, quiet=True)
    with pytest.raises(RuntimeError, match="user bug"):
        fit(Boom(), callback)
    assert callback.watcher.closed
    _, rows = frames(tmp_path / "b.nnv3d")
    assert [s for s, split, sc in rows if "loss" in sc] == [1, 2, 3]
