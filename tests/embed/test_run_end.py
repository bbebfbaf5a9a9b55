"""Embeddings on real training (scikit-learn's digits): a run shorter than numba's warm-up
still shows PCA clouds that follow the steps and ends with its last step embedded by UMAP in
the recording (even when the script just exits); while steps outpace UMAP the cloud stays one
job behind, never stuck on step 0; an unrecorded run keeps a thinned history for seeks; a
recording's embedding index is checked like the rest of it."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import nnviz3d
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.protocol.codec import decode_frame
from nnviz3d.record import RunReader
from nnviz3d.record.run_file import EMBEDDING


def recorded_embeddings(path) -> list[tuple[int, str]]:
    """``(step, method)`` of each embedding in a recording, in recording order."""
    out = []
    with RunReader(path) as reader:
        for _, step, kinds, data in reader.frames():
            method = decode_frame(data)[0]["method"] if kinds == [EMBEDDING] else None
            if method not in (None, "cka"):  # layer similarity rows ride along (#cka)
                out.append((step, method))
    return out


SCRIPT = textwrap.dedent("""
    import sys, time, torch, nnviz3d
    from nnviz3d.data.digits import load_digits_tensors
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    w = nnviz3d.watch(model, x[:1], record=sys.argv[1], serve=False, quiet=True, every=1,
                      inputs=xv[:200], labels=yv[:200], embed=["2"], embed_every=2)
    w.embeddings.final_wait = 170  # not the 60 s default: a loaded test machine compiles slowly
    for step in range(8):  # 2.4 s: numba is still warming up in the embedding process
        idx = torch.randint(0, len(y), (64,))
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(); loss.backward(); opt.step()
        w.step(loss=loss.item())
        time.sleep(0.3)
    print("trained", flush=True)
    # no close(): the script ends, and nnviz3d finishes the run at exit
""")


@pytest.mark.umap
def test_a_run_shorter_than_the_warm_up_records_its_last_step_at_exit(tmp_path):
    path = tmp_path / "short.nnv3d"
    script = tmp_path / "short.py"
    script.write_text(SCRIPT)
    start = time.monotonic()
    root = str(Path(__file__).resolve().parents[2])  # this checkout's nnviz3d
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    done = subprocess.run(
        [sys.executable, str(script), str(path)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-2000:]
    got = recorded_embeddings(path)
    print(f"exited after {seconds:.1f} s; recorded {got}")
    pca = [s for s, m in got if m == "pca"]
    assert pca[0] == 0 and len(set(pca)) >= 2, got  # PCA at once, following the steps
    assert got[-1] == (7, "umap"), got  # the last step, by UMAP once numba was warm
    assert [s for s, _ in got] == sorted(s for s, _ in got)  # never back to an older step


@pytest.mark.umap
def test_the_cloud_keeps_up_while_steps_outpace_umap(tmp_path):
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    w = nnviz3d.watch(
        model,
        x[:1],
        record=tmp_path / "fast.nnv3d",
        serve=False,
        quiet=True,
        every=1,
        inputs=xv[:300],
        labels=yv[:300],
        embed=["2"],
        embed_every=1,
    )
    service = w.embeddings
    shown: list[tuple[int, str, int]] = []  # (step embedded, method, training step then)
    publish = service.publish

    def spy(layer, data, step):
        shown.append((step, decode_frame(data)[0]["method"], w.step_index))
        publish(layer, data, step)

    service.publish = spy
    ended: list[int] = []  # training step when each job ended (its final answer settled)
    settle = service._settle

    def spy_settle(layer, step, method, final):
        if final:
            ended.append(w.step_index)
        settle(layer, step, method, final)

    service._settle = spy_settle
    sent: list[tuple[int, int]] = []  # (step of a job, training step when the last one ended)
    submit = service.worker.submit

    def spy_submit(layer, step, *args, **kwargs):
        sent.append((step, ended[-1] if ended else -1))
        return submit(layer, step, *args, **kwargs)

    service.worker.submit = spy_submit

    def train(seconds, pause):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            idx = torch.randint(0, len(y), (64,))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
            time.sleep(pause)  # the embedding process runs at nice 19: a loop using every
            # core of a small, shared machine would starve numba's compilation for minutes

    try:
        deadline = time.monotonic() + 150
        while not service.worker.ready and time.monotonic() < deadline:
            train(0.5, 0.02)  # dozens of steps while numba compiles
        assert service.worker.ready
        warm = len(shown)

        def umap():
            return [(s, at) for s, m, at in shown[warm:] if m == "umap"]

        deadline = time.monotonic() + 90
        while len(umap()) < 3 and time.monotonic() < deadline:
            train(0.5, 0.002)  # each UMAP fit takes many steps
        umap = umap()
    finally:
        w.close()
    steps = [s for s, _, _ in shown]
    assert steps == sorted(steps), shown  # the newest job is shown, never an older one
    during_warm_up = {s for s, m, _ in shown[:warm] if m == "pca"}
    assert len(during_warm_up) >= 3, shown[:warm]  # PCA followed the steps, not stuck on 0
    assert len(umap) >= 3 and umap[-1][0] > umap[0][0] > 0, umap
    # at most one job behind: each job went out at the first step after the one before ended
    gaps = [step - then for step, then in sent[1:-1]]  # the last one: close()'s final step
    assert max(gaps) <= 1, sent
    print(
        f"{len(during_warm_up)} PCA steps during warm-up, UMAP steps {[s for s, _ in umap]}, "
        f"steps behind at each answer {[at - s for s, at in umap]}, next job after "
        f"{max(gaps)} steps at most"
    )
    assert recorded_embeddings(tmp_path / "fast.nnv3d")[-1] == (w.step_index, "umap")


def test_an_unrecorded_run_keeps_a_thinned_history_for_seeks():
    from nnviz3d.protocol.overlay_frame import encode_overlays
    from nnviz3d.scene.embedding_cloud import embedding_cloud
    from nnviz3d.server import LiveFeed
    from nnviz3d.server.live_feed import EMBEDDING_HISTORY

    feed = LiveFeed()
    points = torch.randn(20, 3).numpy()

    def frame(step, method="pca"):
        cloud = embedding_cloud("fc", points, None, method=method, step=step)
        return encode_overlays("embedding", step, [cloud], layer="fc", method=method)

    for step in range(0, 1000, 5):
        feed.publish_embedding("fc", frame(step))
    feed.publish_embedding("fc", frame(3))  # late and older: kept for seeks, not shown
    assert decode_frame(feed.embeddings["fc"])[0]["step"] == 995
    history = feed._embedding_history["fc"]
    assert len(history) <= EMBEDDING_HISTORY
    kept = [s for s, _, _ in history]
    assert kept[0] == 0 and kept[-1] == 995 and kept == sorted(kept)
    [(layer, key, data)] = feed._embeddings_at(500, {})
    at = decode_frame(data)[0]["step"]
    assert layer == "fc" and at <= 500 and at == max(s for s in kept if s <= 500)
    assert feed._embeddings_at(500, {"fc": key}) == []  # already shown: not sent again
    assert feed._embeddings_at(-1, {}) == []


def test_the_embedding_index_of_a_recording_is_checked(tmp_path):
    """A recording is untrusted: an embedding frame whose step is not its row's, or whose layer
    name is beyond any module path, is refused in one sentence naming the file."""
    from nnviz3d.protocol.overlay_frame import encode_overlays
    from nnviz3d.record import RunFileError, RunWriter
    from nnviz3d.scene.embedding_cloud import embedding_cloud
    from tests.conftest import zoo_graph

    def run(name, frames):
        path = tmp_path / f"{name}.nnv3d"
        w = RunWriter(path, zoo_graph("digits_cnn"))
        for row_step, step, layer in frames:
            cloud = embedding_cloud(layer, torch.randn(5, 3).numpy(), method="pca", step=step)
            w.append(
                row_step,
                [EMBEDDING],
                "train",
                {},
                encode_overlays("embedding", step, [cloud], layer=layer, method="pca"),
            )
        w.close()
        return RunReader(path)

    with run("good", [(0, 0, "pool"), (5, 5, "head.2"), (5, 5, "pool")]) as reader:
        index = reader.embedding_index()
        assert [(s, layer) for _, s, layer in index] == [(0, "pool"), (5, "head.2"), (5, "pool")]
        assert reader.embedding_index(after=index[0][0]) == index[1:]
        assert decode_frame(reader.embedding(index[1][0]))[0]["layer"] == "head.2"
    for name, frames in (("moved", [(3, 4, "pool")]), ("long", [(0, 0, "x" * 5000)])):
        with run(name, frames) as reader, pytest.raises(RunFileError) as caught:
            reader.embedding_index()
        assert str(tmp_path / name) in str(caught.value), caught.value
