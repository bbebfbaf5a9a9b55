"""GET /export.glb: the server's current view as GLB, and one-sentence 400s for bad queries."""

import urllib.error
import urllib.request

import pytest

from nnviz3d.server import SceneState, ServerThread, make_app
from tests.conftest import zoo_graph


@pytest.fixture
def server():
    state = SceneState(zoo_graph("digits_cnn"))
    state.collapse("block")
    srv = ServerThread(make_app(state), "127.0.0.1", 0)
    yield srv
    srv.close()


def _get(server, query=""):
    return urllib.request.urlopen(f"http://127.0.0.1:{server.port}/export.glb{query}", timeout=30)


def test_serves_the_current_view_as_glb(server):
    from tests.export.conftest import glb_json

    res = _get(server)
    assert res.headers["Content-Type"] == "model/gltf-binary"
    assert 'filename="DigitsCNN.glb"' in res.headers["Content-Disposition"]
    names = {n["name"] for n in glb_json(res.read())["nodes"]}
    assert "/model/block" in names and "/model/block/conv1" not in names  # collapsed here


def test_the_download_has_readable_labels_and_a_camera(server):
    """As ``nnviz3d export`` by default: text quads for the labels, the presentation camera."""
    from tests.export.conftest import glb_json

    tree = glb_json(_get(server).read())
    drawn = [n for n in tree["nodes"] if n.get("extras", {}).get("type") == "label" and "mesh" in n]
    assert len(drawn) >= 4 and any(m["name"] == "labels" for m in tree["materials"])
    assert [n["name"] for n in tree["nodes"] if "camera" in n] == ["camera"]


@pytest.mark.parametrize(
    "query,message",
    [
        ("?step=abc", "step must be an integer"),
        ("?color_by=grad_norm", "needs probe data"),
        ("?color_by=loudness", "unknown colour quantity"),
    ],
)
def test_bad_queries_are_400_with_a_sentence(server, query, message):
    with pytest.raises(urllib.error.HTTPError) as err:
        _get(server, query)
    assert err.value.code == 400
    assert message in err.value.read().decode()


def test_needs_the_access_token_where_the_server_has_one():
    state = SceneState(zoo_graph("digits_cnn"))
    srv = ServerThread(make_app(state, token="s3cret-token"), "127.0.0.1", 0)
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(srv)
        assert err.value.code == 403
        assert _get(srv, "?token=s3cret-token").read(4) == b"glTF"
    finally:
        srv.close()


def test_compare_views_export_their_topology_and_difference_maps(tmp_path):
    """nnviz3d compare's overlay is not a recording: the button still exports (runs: the
    topology; models: the B - A weight maps)."""
    import copy

    import safetensors.torch
    import torch

    from nnviz3d.compare import serve_compare
    from nnviz3d.zoo import DigitsCNN
    from tests.compare.test_runs import record_run
    from tests.conftest import run_async

    async def fetch(url):
        import aiohttp

        async with aiohttp.ClientSession() as s, s.get(url + "export.glb") as r:
            return r.status, await r.read()

    a = record_run(tmp_path / "a.nnv3d", 0.01, steps=2)
    b = record_run(tmp_path / "b.nnv3d", 0.5, steps=2)
    handle = serve_compare(a, b, open_browser=False, quiet=True, port=0)
    try:
        status, body = run_async(fetch(handle.url))
        assert status == 200 and body[:4] == b"glTF"
    finally:
        handle.close()
    torch.manual_seed(0)
    model = DigitsCNN()
    tuned = copy.deepcopy(model)
    paths = []
    for name, m in (("a", model), ("b", tuned)):
        paths.append(str(tmp_path / f"{name}.safetensors"))
        safetensors.torch.save_file(m.state_dict(), paths[-1])
    handle = serve_compare(*paths, open_browser=False, quiet=True, port=0)
    try:
        status, body = run_async(fetch(handle.url))
        assert status == 200 and body[:4] == b"glTF"
    finally:
        handle.close()
