"""glTF export: every file passes the Khronos validator, loads back in trimesh with its names
and extras, and shows what the viewer shows (linear colours, weight textures, the colour of
each step in the animation)."""

import numpy as np
import pytest
import torch

from nnviz3d.cli import main
from nnviz3d.export import ExportError, export_gltf
from nnviz3d.export.gltf import view_scene
from nnviz3d.protocol.probe_frame import decode_probe
from nnviz3d.record import RunReader
from nnviz3d.scene import BLOCK
from nnviz3d.scene.palette import color
from nnviz3d.scene.weight_map import weight_overlays
from tests.conftest import zoo_graph, zoo_model
from tests.export.conftest import TRAIN_STEPS, glb_json, glb_parts, validate

ACCEPTED = {"IMAGE_NPOT_DIMENSIONS"}
"""Validator infos accepted: weight maps have one texel per (pooled) weight, so their sizes are
rarely powers of two; they are sampled NEAREST with CLAMP_TO_EDGE and no mipmaps, which WebGL 1
and 2 draw from any size."""
SPF = 0.25


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


@pytest.fixture(scope="module")
def exports(tmp_path_factory, digits_run):
    """name -> (path, ExportResult or CLI return code) of every kind of export."""
    d = tmp_path_factory.mktemp("glb")
    out = {
        "mlp": export_gltf(mlp(), d / "mlp.glb", example_inputs=torch.randn(1, 8)),
        "cnn": export_gltf(zoo_model("digits_cnn"), d / "cnn.glb"),
        "gpt2": export_gltf(zoo_graph("gpt2"), d / "gpt2.glb"),
        "gpt2_depth3": export_gltf(zoo_graph("gpt2"), d / "gpt2_depth3.glb", depth=3),
        "run_step": export_gltf(digits_run, d / "run_step.glb", step=5, color_by="grad_norm"),
        "run_animated": export_gltf(
            digits_run, d / "run_animated.glb", animate=True, seconds_per_step=SPF
        ),
    }
    assert (
        main(["export", str(digits_run), "-o", str(d / "cli.glb"), "--animate", "--depth", "1"])
        == 0
    )
    out["cli"] = (d / "cli.glb").read_bytes()
    return {k: (d / f"{k}.glb", v) for k, v in out.items()}


@pytest.fixture(scope="module")
def reports(exports):
    return {r["file"]: r for r in validate(*(p for p, _ in exports.values()))}


@pytest.mark.parametrize(
    "name", ["mlp", "cnn", "gpt2", "gpt2_depth3", "run_step", "run_animated", "cli"]
)
def test_khronos_validator_finds_no_errors_or_warnings(exports, reports, name):
    report = reports[str(exports[name][0])]
    issues = report["issues"]
    assert issues["numErrors"] == 0, issues["messages"]
    assert issues["numWarnings"] == 0, issues["messages"]
    assert {m["code"] for m in issues["messages"]} <= ACCEPTED
    animated = name in ("run_animated", "cli")
    assert report["info"]["animationCount"] == (1 if animated else 0)
    assert report["info"]["hasTextures"]  # the labels' text atlas, at least
    # GPT-2 is a topology-only graph; at depth 1 the CNN's layers (and their maps) are collapsed
    materials = glb_json(exports[name][0].read_bytes())["materials"]
    assert any(m["name"].startswith("weights ") for m in materials) == (
        name not in ("gpt2", "gpt2_depth3", "cli")
    )


def _trimesh_scene(path):
    import trimesh

    return trimesh.load(path, force="scene")


def test_trimesh_reads_back_scene_paths_and_extras(exports):
    path, res = exports["cnn"]
    scene = _trimesh_scene(path)
    expected = set(view_scene(zoo_graph("digits_cnn")).nodes)
    names = set(scene.graph.nodes) - {scene.graph.base_frame, "camera"}
    weight_nodes = names - expected
    assert expected <= names
    assert weight_nodes and all(n.rsplit("/", 1)[1] in ("weight", "bias") for n in weight_nodes)
    extras = {
        child: data.get("metadata", {})
        for (_, child), data in scene.graph.transforms.edge_data.items()
    }
    graph = zoo_graph("digits_cnn")
    conv = extras["/model/block/conv1"]
    assert conv["kind"] == "Conv2d" == graph["block.conv1"].kind
    assert conv["output_shapes"] == [list(s) for s in graph["block.conv1"].output_shapes]
    assert conv["params"] == graph["block.conv1"].params
    assert conv["stats"]["weight"]["step"] == 0  # a live model's weights, as a file's
    assert extras["/model/block/conv1/label"]["text"] == "conv1 (Conv2d)"
    assert extras["/edges/block.conv1>block.bn1"]["dst"] == "/model/block/bn1"
    assert res.nodes == len(names)


def _accessor(tree, blob, i) -> np.ndarray:
    a = tree["accessors"][i]
    view = tree["bufferViews"][a["bufferView"]]
    assert a["componentType"] == 5126
    width = {"SCALAR": 1, "VEC3": 3}[a["type"]]
    off = view.get("byteOffset", 0) + a.get("byteOffset", 0)
    return np.frombuffer(blob, np.float32, a["count"] * width, off).reshape(a["count"], width)


def _srgb_to_linear(c):
    c = np.asarray(c, np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _node_color(tree, node) -> list[float]:
    mesh = tree["meshes"][node["mesh"]]
    mat = tree["materials"][mesh["primitives"][0]["material"]]
    return mat["pbrMetallicRoughness"]["baseColorFactor"]


@pytest.mark.parametrize("name", ["gpt2", "gpt2_depth3"])
def test_base_colours_are_linear_and_blocks_of_a_colour_share_one_mesh(exports, name):
    tree = glb_json(exports[name][0].read_bytes())
    blocks = [n for n in tree["nodes"] if n.get("extras", {}).get("type") == BLOCK]
    for n in blocks:
        srgb = color(n["extras"]["kind"], collapsed_group=n["extras"]["collapsed"])
        assert _node_color(tree, n)[:3] == pytest.approx(_srgb_to_linear(srgb), abs=1e-6)
    by_colour = {}
    for n in blocks:
        by_colour.setdefault(n["extras"]["color_srgb"], set()).add(n["mesh"])
    assert all(len(meshes) == 1 for meshes in by_colour.values())
    assert len({n["mesh"] for n in blocks}) == len(by_colour) < len(blocks) / 2


def test_repeated_blocks_share_the_mesh_of_the_block_they_repeat(exports):
    tree = glb_json(exports["gpt2_depth3"][0].read_bytes())
    nodes = {n["name"]: n for n in tree["nodes"]}
    repeats = [n for n in tree["nodes"] if n.get("extras", {}).get("instance_of")]
    assert sorted(n["name"] for n in repeats) == sorted(
        f"/model/transformer/h/{i}" for i in range(12)
    )
    first = nodes["/model/transformer/h/0"]
    assert {n["mesh"] for n in repeats} == {first["mesh"]}


def test_weight_maps_are_textures_of_the_overlay_colours(exports):
    from nnviz3d.export.sources import model_weights

    scene = _trimesh_scene(exports["cnn"][0])
    model, _ = zoo_model("digits_cnn")
    overlays = weight_overlays(*model_weights(model, zoo_graph("digits_cnn")))
    grid = next(o for o in overlays if o.module == "stem.0" and o.name == "weight")
    node = "/model/stem/0/weight"
    mesh = scene.geometry[scene.graph[node][1]]
    image = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"))
    assert image.shape == grid.arrays["colors"].shape
    assert np.array_equal(image, grid.arrays["colors"])
    tree = glb_json(exports["cnn"][0].read_bytes())  # drawn unlit and unfiltered, as the viewer
    material = next(m for m in tree["materials"] if m["name"] == f"weights {node}")
    assert "KHR_materials_unlit" in material["extensions"]
    texture = tree["textures"][material["pbrMetallicRoughness"]["baseColorTexture"]["index"]]
    assert tree["samplers"][texture["sampler"]] == {
        "magFilter": 9728,
        "minFilter": 9728,
        "wrapS": 33071,
        "wrapT": 33071,
    }


def test_run_step_extras_are_the_recorded_statistics(exports, digits_run):
    path, res = exports["run_step"]
    assert res.step == 5
    tree = glb_json(path.read_bytes())
    node = next(n for n in tree["nodes"] if n["name"] == "/model/block/conv1")
    frames = [decode_probe(f) for f in RunReader(digits_run).at_step(5)]
    header, arrays = next((h, a) for h, a in frames if h["kinds"].get("grad", {}).get("step") == 5)
    row = header["kinds"]["grad"]["modules"].index("block.conv1")
    stats = node["extras"]["stats"]["grad"]
    assert stats["step"] == 5
    assert stats["norm"] == pytest.approx(float(arrays["grad_stats"][row, 4]), rel=1e-6)
    assert stats["mean"] == pytest.approx(float(arrays["grad_stats"][row, 0]), rel=1e-6)


def test_animation_shows_the_viewers_colour_of_every_step(exports, digits_run, tmp_path):
    path, res = exports["run_animated"]
    tree, blob = glb_parts(path.read_bytes())
    (anim,) = tree["animations"]
    assert res.steps == list(range(TRAIN_STEPS)) == anim["extras"]["steps"]
    assert res.duration == pytest.approx((TRAIN_STEPS - 1) * SPF)
    nodes = tree["nodes"]
    shown: dict[str, list] = {}  # block -> child shown at each step
    for ch in anim["channels"]:
        sampler = anim["samplers"][ch["sampler"]]
        assert sampler["interpolation"] == "STEP" and ch["target"]["path"] == "scale"
        times = _accessor(tree, blob, sampler["input"])[:, 0]
        assert times == pytest.approx(np.arange(TRAIN_STEPS) * SPF)
        scale = _accessor(tree, blob, sampler["output"])
        child = nodes[ch["target"]["node"]]
        on = scale[:, 0] == 1
        assert np.all((scale == 0) | (scale == 1)) and np.all(scale == scale[:, :1])
        for t in np.flatnonzero(on):
            shown.setdefault(child["extras"]["for"], [None] * TRAIN_STEPS)
            assert shown[child["extras"]["for"]][t] is None  # one child at a time
            shown[child["extras"]["for"]][t] = child
    blocks = [n["name"] for n in nodes if n.get("extras", {}).get("type") == BLOCK]
    assert set(shown) == set(blocks)
    assert all(c is not None for seq in shown.values() for c in seq)
    for step in (0, 5, TRAIN_STEPS - 1):  # the colour at step s is the static export's at s
        static = glb_json(export_gltf(digits_run, step=step, color_by="grad_norm").data)
        by_name = {n["name"]: n for n in static["nodes"]}
        for block, seq in shown.items():
            assert _node_color(tree, seq[step]) == _node_color(static, by_name[block])
    colours = {
        tuple(_node_color(tree, seq[t])) for seq in shown.values() for t in range(TRAIN_STEPS)
    }
    assert len(colours) > 3  # gradient norms do vary across blocks and steps


def _garbage(tmp_path):
    p = tmp_path / "bad.nnv3d"
    p.write_bytes(b"not a run" * 20)
    return p


@pytest.mark.parametrize(
    "source,kwargs,message",
    [
        ("run", {"step": 1, "animate": True}, "choose one of step"),
        ("run", {"step": 99}, "choose a step in that range"),
        ("graph", {"animate": True}, "needs a recording"),
        ("graph", {"color_by": "grad_norm"}, "needs probe data"),
        ("run", {"color_by": "loudness"}, "unknown colour quantity"),
        ("run", {"depth": 0}, "depth must be an integer of 1 or more"),
        ("run", {"expand": ["nope"]}, "not a group"),
        ("garbage", {}, "not an nnviz3d run"),
        (42, {}, "cannot export a int"),
    ],
)
def test_bad_input_is_one_clear_error(digits_run, tmp_path, source, kwargs, message):
    src = {"run": digits_run, "graph": zoo_graph("digits_cnn"), "garbage": _garbage(tmp_path)}.get(
        source, source
    )
    with pytest.raises(ExportError, match=message):
        export_gltf(src, tmp_path / "x.glb", **kwargs)
    assert not (tmp_path / "x.glb").exists()


@pytest.mark.parametrize(
    "args,message,status",
    [
        (["{garbage}", "-o", "{out}"], "not an nnviz3d run", 1),
        (["nnviz3d.zoo:digits_cnn", "-o", "{out}", "--animate"], "need a recording", 2),
        (["{run}", "-o", "{out}", "--step", "99"], "choose a step in that range", 1),
    ],
)
def test_cli_errors_are_one_line_without_traceback(
    digits_run, tmp_path, capsys, args, message, status
):
    fill = {"garbage": _garbage(tmp_path), "out": tmp_path / "x.glb", "run": digits_run}
    assert main(["export", *(a.format(**fill) for a in args)]) == status
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.glb").exists()


def test_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, nnviz3d.export; print(sorted(m for m in ('torch', 'trimesh') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_model_file_exports_with_its_weight_maps(tmp_path):
    model, _ = zoo_model("digits_cnn")
    torch.save(model.state_dict(), tmp_path / "cnn.pt")
    out = tmp_path / "file.glb"
    assert main(["export", str(tmp_path / "cnn.pt"), "-o", str(out)]) == 0
    (report,) = validate(out)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0
    tree = glb_json(out.read_bytes())
    weights = {
        n["name"] for n in tree["nodes"] if n.get("extras", {}).get("type") == "overlay:grid"
    }
    assert "/model/stem/0/weight" in weights and tree["images"]


def test_a_scene_recipe_exports_its_model_at_its_depth(tmp_path):
    from nnviz3d.recipe import load_recipe

    recipe = tmp_path / "cnn.toml"
    recipe.write_text('model = "nnviz3d.zoo:digits_cnn"\ndepth = 1\n')
    out = tmp_path / "recipe.glb"
    assert main(["export", str(recipe), "-o", str(out)]) == 0
    names = {n["name"] for n in glb_json(out.read_bytes())["nodes"]} - {"camera"}
    depth = load_recipe(recipe).depth
    assert depth == 1
    assert names == set(view_scene(zoo_graph("digits_cnn"), depth).nodes)
