"""The embedding process killed mid-run: one warning, training and recording go on."""

import time

import torch

import nnviz3d
from nnviz3d import zoo
from nnviz3d.record import RunReader
from nnviz3d.record.run_file import EMBEDDING


def test_killed_embedding_process_leaves_training_and_recording_running(tmp_path, capsys, caplog):
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), 0.05)
    probe = torch.randn(60, 1, 8, 8)
    w = nnviz3d.watch(
        model,
        x,
        record=tmp_path / "e.nnv3d",
        serve=False,
        every=1,
        inputs=probe,
        labels=torch.randint(0, 10, (60,)),
        embed=["pool"],
        embed_every=1,
        embed_method="pca",
    )

    def train(n):
        for _ in range(n):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(
                model(torch.randn(16, 1, 8, 8)), torch.randint(0, 10, (16,))
            ).backward()
            opt.step()
            w.step(loss=1.0)

    train(3)
    deadline = time.monotonic() + 30
    while "pool" not in w.embeddings.results and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "pool" in w.embeddings.results  # it worked before the kill
    w.embeddings.worker.process.kill()
    w.embeddings.worker.process.wait(10)
    train(5)
    w.close()
    w.close_viewer()
    said = [r.getMessage() for r in caplog.records if r.name == "nnviz3d"]
    assert sum("the embedding process died" in m for m in said) == 1, said
    assert "the embedding process died" not in capsys.readouterr().out  # said once, not printed
    reader = RunReader(tmp_path / "e.nnv3d")
    probes = list(
        dict.fromkeys(s for _, s, kinds, _ in reader.frames() if kinds and kinds != [EMBEDDING])
    )  # close adds one at 7
    assert probes == list(range(8))  # every step recorded, before and after the kill
    assert any(kinds == [EMBEDDING] for _, _, kinds, _ in reader.frames())
