"""``NNViz3DCallback`` on a real Hugging Face Trainer: a tiny randomly initialised BERT
classifier (no download), recorded and served; the recording holds each step's loss, the
evaluations, and the gradients the Trainer zeroes before the step ends."""

import os
import urllib.request

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers reads it: nothing downloads
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it

from nnviz3d.integrations.transformers import NNViz3DCallback  # noqa: E402
from nnviz3d.record import RunReader  # noqa: E402

STEPS = 10


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("WANDB_DISABLED", "true")


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int = 32, length: int = 12) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(1, 100, (n, length), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones_like(self.ids[i]),
            "labels": self.labels[i],
        }


def tiny_bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=2,
    )
    return transformers.BertForSequenceClassification(config)


def train(tmp_path, callback, **args):
    settings = dict(
        output_dir=str(tmp_path / "out"),
        max_steps=STEPS,
        per_device_train_batch_size=4,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=5,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        learning_rate=1e-3,
    )
    settings.update(args)
    trainer = transformers.Trainer(
        model=tiny_bert(),
        args=transformers.TrainingArguments(**settings),
        train_dataset=Tokens(),
        eval_dataset=Tokens(8),
        callbacks=[callback],
    )
    trainer.train()
    return trainer


def test_one_callback_records_steps_loss_evaluations_and_gradients(tmp_path):
    path = tmp_path / "hf.nnv3d"
    callback = NNViz3DCallback(record=path, serve=False, quiet=True, strict=True, max_interval=8)
    train(tmp_path, callback)
    assert callback.watcher.closed
    with RunReader(path) as reader:
        kinds: dict[str, set[int]] = {}
        for _, step, ks, _ in reader.frames():
            for k in ks:
                kinds.setdefault(k, set()).add(step)
        rows = reader.scalar_rows()
    losses = [step for step, split, sc in rows if split == "train" and "loss" in sc]
    assert losses == list(range(1, STEPS + 1))  # logging_steps=1: each step's loss
    assert all(
        "learning_rate" in sc for step, split, sc in rows if split == "train" and "loss" in sc
    )
    val = [(step, sc) for step, split, sc in rows if split == "val"]
    assert [s for s, _ in val] == [5, 10] and all("loss" in sc for _, sc in val)
    # the gradients, though zeroed before on_step_end, at calibration steps and step 8
    for kind in ("weight", "grad", "act"):
        assert {1, 2, 3, 8} <= kinds[kind], (kind, sorted(kinds[kind]))


def test_the_example_input_is_a_training_sample_and_training_is_unchanged(tmp_path):
    from nnviz3d.integrations.transformers import example_inputs

    trainer = train(tmp_path, NNViz3DCallback(record=False, serve=False, quiet=True))
    plain = train(tmp_path, transformers.TrainerCallback())
    for (k, a), b in zip(trainer.model.state_dict().items(), plain.model.state_dict().values()):
        assert torch.equal(a, b), k
    x = example_inputs(trainer.model, trainer.get_train_dataloader())
    assert set(x) == {"input_ids", "attention_mask", "labels"} and x["input_ids"].shape[0] == 1


def test_served_view_answers_the_page(tmp_path):
    callback = NNViz3DCallback(
        record=tmp_path / "s.nnv3d", serve=True, open_browser=False, port=0, quiet=True, every=4
    )
    try:
        train(tmp_path, callback, max_steps=4, eval_steps=2)
        with urllib.request.urlopen(callback.watcher.url, timeout=10) as reply:
            assert reply.status == 200 and b"<html" in reply.read().lower()
    finally:
        if callback.watcher is not None:
            callback.watcher.close_viewer()
