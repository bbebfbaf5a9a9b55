"""Exported GLB files load in three.js's own GLTFLoader (the r187 in web/node_modules) in real
headless Chromium: node count, names, extras, and the training animation's clip and colours."""

import json
from pathlib import Path

import pytest
from aiohttp import web

from nnviz3d.export import export_gltf
from nnviz3d.server import ServerThread
from tests.conftest import zoo_graph
from tests.export.conftest import TRAIN_STEPS, digits_run, glb_json  # noqa: F401 - fixture

THREE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "three"
SPF = 0.2
PAGE = """<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {"three": "/three/build/three.module.js",
  "three/addons/": "/three/examples/jsm/"}}</script>
<script type="module">
import * as THREE from "three";
import { GLTFLoader } from "three/addons/loaders/GLTFLoader.js";
window.loadGlb = async (url) => {
  const gltf = await new GLTFLoader().loadAsync(url);
  const named = [];
  gltf.scene.traverse((o) => { if (o.userData.name) named.push(o); });
  window.loaded = { gltf, named };
  return {
    names: named.map((o) => o.userData.name),
    types: Object.fromEntries(named.map((o) => [o.userData.name, o.userData.type ?? null])),
    kinds: Object.fromEntries(named.map((o) => [o.userData.name, o.userData.kind ?? null])),
    animations: gltf.animations.map((a) => ({ name: a.name, duration: a.duration,
                                              tracks: a.tracks.length })),
  };
};
// which coloured child of each block is shown at time t, and its linear colour
window.shownAt = (t) => {
  const { gltf, named } = window.loaded;
  const mixer = new THREE.AnimationMixer(gltf.scene);
  mixer.clipAction(gltf.animations[0]).play();
  mixer.setTime(t);
  gltf.scene.updateMatrixWorld(true);
  const out = {};
  for (const o of named) {
    if (o.userData.type !== "colour") continue;
    if (o.scale.x === 0) continue;
    (out[o.userData.for] ??= []).push(o.material.color.toArray());
  }
  return out;
};
window.ready = true;
</script>"""


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits_run):  # noqa: F811 - the fixture imported above
    d = tmp_path_factory.mktemp("glb-three")
    export_gltf(zoo_graph("gpt2"), d / "gpt2.glb", depth="all")  # every layer, 500+ nodes
    export_gltf(digits_run, d / "animated.glb", animate=True, seconds_per_step=SPF)
    export_gltf(digits_run, d / "step5.glb", step=5, color_by="grad_norm")
    return d


@pytest.fixture(scope="module")
def site(files):
    async def page(_request):
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_static("/three/", THREE)
    app.router.add_static("/files/", files)
    server = ServerThread(app, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.port}"
    server.close()


def _load(page, site, name):
    page.goto(site + "/")
    page.wait_for_function("window.ready === true")
    return page.evaluate(f"loadGlb('/files/{name}')")


def test_gpt2_loads_with_every_node_named_by_its_scene_path(page, site, files):
    tree = glb_json((files / "gpt2.glb").read_bytes())
    got = _load(page, site, "gpt2.glb")
    assert sorted(got["names"]) == sorted(n["name"] for n in tree["nodes"])
    assert len(got["names"]) > 500
    assert got["types"]["/model/transformer/h/3/attn/c_attn"] == "block"
    assert got["kinds"]["/model/transformer/h/3/attn/c_attn"] == "Conv1D"
    assert got["types"]["/model/transformer/h/3/attn/c_attn/label"] == "label"
    assert got["animations"] == []
    assert page.errors == []


def test_training_animation_plays_the_colour_of_every_step(page, site, files):
    got = _load(page, site, "animated.glb")
    (clip,) = got["animations"]
    assert clip["duration"] == pytest.approx((TRAIN_STEPS - 1) * SPF)
    blocks = [n for n, t in got["types"].items() if t == "block"]
    assert clip["tracks"] >= len(blocks)
    static = glb_json((files / "step5.glb").read_bytes())
    expected = {}
    for n in static["nodes"]:
        if n.get("extras", {}).get("type") == "block":
            mesh = static["meshes"][n["mesh"]]
            mat = static["materials"][mesh["primitives"][0]["material"]]
            expected[n["name"]] = mat["pbrMetallicRoughness"]["baseColorFactor"][:3]
    seen = set()
    for step in range(TRAIN_STEPS):
        shown = page.evaluate(f"shownAt({step * SPF})")
        assert sorted(shown) == sorted(blocks)
        assert all(len(c) == 1 for c in shown.values())  # exactly one colour at a time
        seen.update(json.dumps(c[0]) for c in shown.values())
        if step == 5:
            for block, (rgb,) in shown.items():
                assert rgb == pytest.approx(expected[block], abs=1e-6)
    assert len(seen) > 3
    assert page.errors == []
