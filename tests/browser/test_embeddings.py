"""Feature embeddings in a real browser: the cloud of the 360 validation digits appears beside
its layer with one colour per class, and moves between two steps."""

import re

import pytest
import torch

import nnviz3d
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.zoo import DigitsCNN
from tests.browser.conftest import hover, wait_ready


def settled(page, quiet_ms=2000, timeout_s=120):
    """Wait until no embedding frame has arrived for ``quiet_ms`` (and the morph is done)."""
    import time

    end = time.monotonic() + timeout_s
    last = page.evaluate("JSON.stringify(nnviz3d.embeddings.map(e => [e.layer, e.step, e.method]))")
    quiet_since = time.monotonic()
    while time.monotonic() < end:
        page.wait_for_timeout(250)
        now = page.evaluate(
            "JSON.stringify(nnviz3d.embeddings.map(e => [e.layer, e.step, e.method]))"
        )
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since > quiet_ms / 1000:
            return
    raise AssertionError("embeddings kept changing")


@pytest.mark.umap
def test_embedding_cloud_appears_coloured_and_morphs(page):
    torch.manual_seed(0)
    (x, y), (xv, yv) = load_digits_tensors()
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    w = nnviz3d.watch(
        model,
        x[:1],
        record=False,
        open_browser=False,
        port=0,
        every=1,
        quiet=True,
        inputs=xv,
        labels=yv,
        embed=["pool", "head.2"],
        embed_every=10,
    )

    def train(steps):
        for _ in range(steps):
            idx = torch.randint(0, len(y), (64,))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())

    try:
        page.goto(w.url)
        wait_ready(page)
        train(2)  # the first embedding job (step 0) goes to the worker
        page.wait_for_function(
            "nnviz3d.embeddings.some(e => e.layer === 'head.2' && e.method === 'umap')",
            timeout=180_000,
        )
        first = next(e for e in page.evaluate("nnviz3d.embeddings") if e["layer"] == "head.2")
        assert first["count"] == 360 and first["classes"] == list(range(10))
        before = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")
        train(60)  # the network learns; a later step is embedded, aligned to the first
        w.close()
        page.wait_for_function(
            f"nnviz3d.embeddings.some(e => e.method === 'umap' && e.step > {first['step']})",
            timeout=180_000,
        )
        page.wait_for_timeout(1200)  # the morph takes 0.8 s
        after = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")
        assert after != before
        last = next(e for e in page.evaluate("nnviz3d.embeddings") if e["layer"] == "head.2")
        assert last["knn"] > first["knn"]  # classes separate as the network learns
        # hovering a point names the input and its label; clicking shows that input
        pos = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")
        assert "label " in hover(page, pos, [0, 0, -0.6], "head.2 embedding")
        assert page.evaluate("nnviz3d.tooltipThumb")  # the digit's picture
        # shift-drag a box around point 7 of head.2: the same inputs light up in pool's cloud
        page.wait_for_function("nnviz3d.embeddings.length === 2", timeout=180_000)
        settled(page)  # the run's final embeddings may still arrive and move the points
        pos = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")
        page.evaluate(f"nnviz3d.lookAt({pos}, [0, 0, -0.6])")
        at = page.evaluate(f"nnviz3d.screen({pos})")
        others = [i for i in range(360) if i != 7]
        page.keyboard.down("Shift")
        page.mouse.move(at["x"] - 12, at["y"] - 12)
        page.mouse.down()
        page.mouse.move(at["x"] + 12, at["y"] + 12, steps=4)
        page.mouse.up()
        page.keyboard.up("Shift")
        picked = page.evaluate("nnviz3d.embeddingSelection")
        assert picked and 7 in picked and len(picked) < 360
        unpicked = next(i for i in others if i not in picked)
        dim = page.evaluate(f"nnviz3d.pointColor('pool', {unpicked})")
        lit = page.evaluate("nnviz3d.pointColor('pool', 7)")
        page.evaluate("nnviz3d.selectBox(0, 0, 0, 0)")  # an empty box clears the selection
        assert page.evaluate("nnviz3d.embeddingSelection") is None
        full = page.evaluate(f"nnviz3d.pointColor('pool', {unpicked})")
        assert page.evaluate("nnviz3d.pointColor('pool', 7)") == lit  # picked: unchanged
        assert sum(dim) == pytest.approx(0.12 * sum(full), rel=1e-3)  # others dimmed
        assert page.errors == []
    finally:
        w.close()
        w.close_viewer()


def test_a_replay_s_clouds_follow_the_timeline(page, pca_recording, tmp_path):
    from nnviz3d.protocol.codec import decode_frame
    from nnviz3d.record import RunReader
    from nnviz3d.replay import serve_replay

    with RunReader(pca_recording) as reader:
        clouds = [row for row in reader.embedding_index() if row[2] != "#cka"]  # CKA rides along
        steps = [step for _, step, _ in clouds]
        assert clouds[-1][1:] == (29, "head.2")
        assert decode_frame(reader.embedding(clouds[0][0]))[0]["step"] == 0
    assert steps == [0, 5, 10, 15, 20, 25, 29], steps  # ... and the last step, at close
    handle = serve_replay(RunReader(pca_recording), open_browser=False, quiet=True, port=0)

    def cloud():
        return page.evaluate("nnviz3d.embeddings")[0]

    try:
        page.goto(handle.url)
        wait_ready(page)
        page.wait_for_function("nnviz3d.embeddings.length === 1", timeout=30_000)
        e = cloud()
        assert e["layer"] == "head.2" and e["count"] == 120 and e["method"] == "pca"
        assert e["step"] == 29  # the run's end
        end = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")
        # seeking shows the embedding at or before the step sought, morphing to it
        for sought, shown in ((12, 10), (5, 5), (27, 25)):
            page.evaluate(f"nnviz3d.seek({sought})")
            page.wait_for_function(f"nnviz3d.embeddings[0].step === {shown}", timeout=30_000)
        page.evaluate("nnviz3d.seek(12)")
        page.wait_for_function("nnviz3d.embeddings[0].step === 10", timeout=30_000)
        page.wait_for_timeout(1000)  # the morph takes 0.8 s
        at10 = page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")
        assert at10 != end
        page.screenshot(path=str(tmp_path / "replay-seek.png"))
        # play from the start: the cloud steps through the recorded embeddings
        page.evaluate("nnviz3d.seek(0)")
        page.wait_for_function("nnviz3d.embeddings[0].step === 0", timeout=30_000)
        page.select_option("#tl-speed", "8")
        page.click("#tl-play")
        seen = []
        for _ in range(80):
            step = cloud()["step"]
            if not seen or seen[-1] != step:
                seen.append(step)
            if step == 29:
                break
            page.wait_for_timeout(100)
        assert seen[0] == 0 and seen[-1] == 29 and seen == sorted(seen) and len(seen) >= 4, seen
        # a replay has no model to show an input with: a click highlights it in every cloud,
        # as the tooltip says
        pos = None
        while pos != (pos := page.evaluate("nnviz3d.embeddingPoint('head.2', 7)")):
            page.wait_for_timeout(300)  # the morph to step 29's layout ends
        tip = hover(page, pos, [0, 0, -0.6], "head.2 embedding")
        assert "click: highlight this input" in tip and "show this input" not in tip, tip
        hovered = int(re.search(r"input (\d+)", tip).group(1))  # 7, or one in front of it
        at = page.evaluate(f"nnviz3d.screen({pos})")
        page.mouse.click(at["x"] + 0.5, at["y"] + 0.5)
        assert page.evaluate("nnviz3d.embeddingSelection") == [hovered]
        page.mouse.click(at["x"] + 0.5, at["y"] + 0.5)  # again: cleared
        assert page.evaluate("nnviz3d.embeddingSelection") is None
        assert page.errors == []
    finally:
        handle.close()


def test_a_cloud_of_100000_points_is_one_draw_call(page):
    from bench.embedding_viewer import cloud_frame
    from nnviz3d.capture import capture_graph
    from nnviz3d.server import LiveFeed, SceneState, ServerThread, make_app

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    feed = LiveFeed()
    srv = ServerThread(
        make_app(SceneState(capture_graph(model, torch.randn(1, 8))), feed), "127.0.0.1", 0
    )
    try:
        page.goto(srv.url)
        wait_ready(page)
        calls = []
        for step, n in ((1, 1_000), (2, 100_000)):
            srv.loop.call_soon_threadsafe(feed.publish_embedding, "2", cloud_frame(n, step))
            page.wait_for_function(f"nnviz3d.embeddings.some(e => e.count === {n})", timeout=60_000)
            page.wait_for_timeout(1500)  # labels settle
            page.evaluate("nnviz3d.render()")
            calls.append(page.evaluate("[nnviz3d.drawCalls, nnviz3d.labelCount]"))
        # no client-side sampling, and no extra draw calls (labels aside: which ones fit on
        # the screen changes as the view re-frames to the bigger cloud; each is one call)
        assert calls[0][0] - calls[0][1] == calls[1][0] - calls[1][1], calls
        assert page.evaluate("nnviz3d.embeddingPoint('2', 99999)") is not None
    finally:
        srv.close()
