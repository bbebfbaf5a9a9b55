"""Model files as people have them: real files in tmp_path, good and bad, no mocks."""

import pickle
import struct
import subprocess
import sys
import time

import pytest
import safetensors.torch
import torch

from nnviz3d.capture.formats import FORMATS, ModelFileError, detect_format, open_model_file
from nnviz3d.zoo import DigitsCNN


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


MODELS = {"mlp": (mlp, (1, 6)), "digits": (DigitsCNN, (1, 1, 8, 8))}


def save(kind, model, shape, path):
    model.eval()
    if kind == "safetensors":
        safetensors.torch.save_file(model.state_dict(), path)
    elif kind == "state_dict":
        torch.save(model.state_dict(), path)
    elif kind == "legacy_state_dict":
        torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)
    elif kind == "checkpoint":
        torch.save({"epoch": 3, "state_dict": model.state_dict()}, path)
    elif kind == "torchscript":
        torch.jit.save(torch.jit.script(model), path)
    elif kind == "export":
        torch.export.save(torch.export.export(model, (torch.randn(*shape),)), path)
    elif kind == "onnx":
        torch.onnx.export(model, (torch.randn(*shape),), str(path), dynamo=False)


SUFFIX = {
    "safetensors": ".safetensors",
    "state_dict": ".pt",
    "legacy_state_dict": ".pth",
    "checkpoint": ".ckpt",
    "torchscript": ".pt",
    "export": ".pt2",
    "onnx": ".onnx",
}
KINDS = list(SUFFIX)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, (build, shape) in MODELS.items():
        for kind in KINDS:
            torch.manual_seed(0)
            path = root / f"{name}_{kind}{SUFFIX[kind]}"
            save(kind, build(), shape, path)
            out[name, kind] = path
    return out


def module_paths(model):
    return {
        p for p, m in model.named_modules() if p and any(True for _ in m.parameters(recurse=False))
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(MODELS))
def test_good_files_open_with_the_live_parameter_count(files, name, kind):
    model = MODELS[name][0]()
    graph = open_model_file(files[name, kind])
    expected = sum(p.numel() for p in model.parameters())
    if kind == "onnx":
        # the exporter folds eval-mode BatchNorm into the conv before it: its scale and
        # shift are no longer parameters of their own
        folded = sum(
            p.numel()
            for m in model.modules()
            if isinstance(m, torch.nn.BatchNorm2d)
            for p in m.parameters()
        )
        assert graph.total_params == expected - folded
        assert sum(n.params for n in graph.nodes) == expected - folded
        convs = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in model.modules())
        assert sum(n.kind in ("Conv", "Gemm", "MatMul") for n in graph.nodes) == convs
        assert graph.edges and all(e.src in graph and e.dst in graph for e in graph.edges)
        # the residual block's add is reached twice: one of its inputs is a skip edge
        assert sum(e.kind == "skip" for e in graph.edges) == (1 if name == "digits" else 0)
        return
    assert graph.total_params == expected
    assert sum(n.params for n in graph.nodes) == expected
    with_params = {n.path for n in graph.nodes if n.role == "module" and n.params}
    assert with_params == module_paths(model)
    for path, mod in model.named_modules():
        if path and any(True for _ in mod.parameters(recurse=False)):
            shapes = {k: list(p.shape) for k, p in mod.named_parameters(recurse=False)}
            assert graph[path].param_shapes == shapes


def test_each_format_is_detected_by_content_not_extension(files, tmp_path):
    expected = {
        "safetensors": "safetensors",
        "state_dict": "torch state_dict",
        "legacy_state_dict": "torch state_dict",
        "checkpoint": "torch state_dict",
        "torchscript": "TorchScript",
        "export": "torch.export .pt2",
        "onnx": "ONNX",
    }
    for kind, fmt_name in expected.items():
        renamed = tmp_path / f"{kind}.weird"
        renamed.write_bytes(files["mlp", kind].read_bytes())
        assert detect_format(renamed).name == fmt_name
    assert all(hasattr(f, a) for f in FORMATS for a in ("name", "extensions", "matches", "open"))


def test_prefix_graph_groups_and_kinds(files):
    g = open_model_file(files["digits", "safetensors"])
    assert g.edges == [] and g["block"].is_group and g["block.conv1"].parent == "block"
    assert g["block.bn1"].buffers == 16 + 16 + 1 and g["block.bn1"].params == 32
    assert g[""].total_params == g.total_params
    ts = open_model_file(files["digits", "torchscript"])
    assert ts["block.conv1"].kind == "Conv2d" and ts["head.0"].kind == "Flatten"
    ep = open_model_file(files["digits", "export"])
    assert ep.edges and ep["block.conv1"].kind == "Conv2d"
    assert ep["block.conv1"].output_shapes == [[1, 16, 8, 8]]


def test_safetensors_tensor_names_become_modules(tmp_path):
    path = tmp_path / "bert.safetensors"
    safetensors.torch.save_file(
        {
            "encoder.layer.0.attention.self.query.weight": torch.zeros(4, 4),
            "encoder.layer.0.attention.self.query.bias": torch.zeros(4),
        },
        path,
    )
    g = open_model_file(path)
    q = g["encoder.layer.0.attention.self.query"]
    assert q.params == 20 and q.param_shapes == {"weight": [4, 4], "bias": [4]}
    assert g["encoder.layer.0.attention"].is_group and g["encoder"].total_params == 20


class RunsCode:
    def __reduce__(self):
        return (print, ("PWNED",))


def bad_files(files, tmp_path):
    out = {
        "empty": b"",
        "text": b"hello, this is a text file\n",
        "random": bytes(range(7, 200)),
        "json": b'{"not": "a model"}',
        "wrong_zip": b"PK\x03\x04" + b"\0" * 60,
        "huge_header": struct.pack("<Q", 2**60) + b'{"a": 1}',
        "bad_offsets": _safetensors_with(
            b'{"w":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}', 16
        ),
        "pickle_runs_code": pickle.dumps(RunsCode()),
        "pickle_runs_code_p2": pickle.dumps(RunsCode(), protocol=2),
    }
    for kind in KINDS:
        data = files["mlp", kind].read_bytes()
        for cut in (8, 100, len(data) // 2, len(data) - 30):
            out[f"{kind}_cut{cut}"] = data[:cut]
    paths = {}
    for name, data in out.items():
        paths[name] = tmp_path / f"{name}.pt"
        paths[name].write_bytes(data)
    whole = tmp_path / "whole_module.pt"
    torch.save(mlp(), whole)
    paths["whole_module"] = whole
    return paths


def _safetensors_with(header: bytes, data_bytes: int) -> bytes:
    return struct.pack("<Q", len(header)) + header + b"\0" * data_bytes


def test_bad_files_fail_fast_with_one_clear_sentence(files, tmp_path, capsys):
    for name, path in bad_files(files, tmp_path).items():
        start = time.perf_counter()
        with pytest.raises(ModelFileError) as err:
            open_model_file(path)
        assert time.perf_counter() - start < 1.0, name
        message = str(err.value)
        assert message.startswith(str(path)) and "\n" not in message, (name, message)
    assert "PWNED" not in capsys.readouterr().out


def test_unknown_and_unsafe_messages(files, tmp_path):
    paths = bad_files(files, tmp_path)
    with pytest.raises(
        ModelFileError, match="not a model file nnviz3d can open .*found an empty file"
    ):
        open_model_file(paths["empty"])
    with pytest.raises(ModelFileError, match="found text starting 'hello"):
        open_model_file(paths["text"])
    with pytest.raises(ModelFileError, match="claiming 1,152,921,504,606,846,976 bytes"):
        open_model_file(paths["huge_header"])
    with pytest.raises(ModelFileError, match="never unpickles arbitrary objects.*state_dict"):
        open_model_file(paths["whole_module"])
    with pytest.raises(ModelFileError, match="never unpickles arbitrary objects"):
        open_model_file(paths["pickle_runs_code_p2"])


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "nnviz3d", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_inspects_a_model_file_and_refuses_a_bad_one(files, tmp_path):
    r = run_cli("inspect", str(files["digits", "safetensors"]))
    assert r.returncode == 0, r.stderr
    assert "conv1" in r.stdout and "12,298 parameters" in r.stdout
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 40)
    r = run_cli("inspect", str(bad))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "not a model file nnviz3d can open" in r.stderr


# -- fuzz: any bytes under any model-file name give a graph or one ModelFileError ------------
FUZZ_SUFFIXES = (".safetensors", ".onnx", ".pt", ".pth", ".bin", ".pt2", ".ckpt")


def _open_bytes(data: bytes, suffix: str):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"model{suffix}"
        path.write_bytes(data)
        start = time.perf_counter()
        try:
            open_model_file(path)
        except ModelFileError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
        assert time.perf_counter() - start < 2.0


def test_fuzz_random_bytes_never_crash():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.binary(max_size=2048), suffix=st.sampled_from(FUZZ_SUFFIXES))
    def check(data, suffix):
        _open_bytes(data, suffix)

    check()


def test_fuzz_mutated_good_files_never_crash(files):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    originals = {kind: files["mlp", kind].read_bytes() for kind in KINDS}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(kind=st.sampled_from(KINDS), st_data=st.data())
    def check(kind, st_data):
        data = bytearray(originals[kind])
        for _ in range(st_data.draw(st.integers(1, 8))):
            i = st_data.draw(st.integers(0, len(data) - 1))
            data[i] = st_data.draw(st.integers(0, 255))
        cut = st_data.draw(st.integers(len(data) // 4, len(data)))
        _open_bytes(bytes(data[:cut]), SUFFIX[kind])

    check()


def _rewrite_zip(src, dst, change):
    """Copy zip ``src`` to ``dst`` with ``change(name, data) -> data`` applied to each entry."""
    import zipfile

    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for info in a.infolist():
            b.writestr(info, change(info.filename, a.read(info)))


class _Boom:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["weight", "sample_inputs", "opaque"])
def test_pt2_archives_that_would_unpickle_code_are_refused(files, tmp_path, where):
    """torch.export.load would run these (weights_only=False for pickled weights, a retry
    without weights_only for sample inputs, pickle.loads for opaque constants)."""
    import io
    import json

    marker = tmp_path / "pwned"
    payload = io.BytesIO()
    torch.save(_Boom(marker), payload)
    evil = payload.getvalue()

    def change(name, data):
        if where == "weight" and name.endswith("_weights_config.json"):
            config = json.loads(data)
            for meta in config["config"].values():
                meta["use_pickle"] = True
            return json.dumps(config).encode()
        if where == "weight" and "/data/weights/weight_" in name:
            return evil
        if where == "sample_inputs" and "/data/sample_inputs/" in name:
            return evil
        if where == "opaque" and name.endswith("_constants_config.json"):
            return json.dumps(
                {
                    "config": {
                        "c": {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True}
                    }
                }
            ).encode()
        return data

    bad = tmp_path / "evil.pt2"
    _rewrite_zip(files["mlp", "export"], bad, change)
    with pytest.raises(ModelFileError, match="never unpickles arbitrary objects"):
        open_model_file(bad)
    from nnviz3d.capture.weight_frame import file_weights

    with pytest.raises(ModelFileError, match="never unpickles arbitrary objects"):
        file_weights(bad)
    assert not marker.exists()


def test_weights_only_files_get_layer_kinds_guessed_from_shapes(files):
    graph = open_model_file(files["digits", "safetensors"])
    kinds = {n.path: n.kind for n in graph.nodes}
    assert kinds["stem.0"] == "Conv2d" and kinds["block.bn1"] == "BatchNorm"
    assert kinds["head.1"] == "Linear" and kinds["block"] == "Module"  # groups stay groups
    assert "guessed from parameter shapes" in graph.strategy
    scripted = open_model_file(files["digits", "torchscript"])  # class names known: kept
    assert {n.path: n.kind for n in scripted.nodes}["stem.1"] == "BatchNorm2d"


def test_torchscript_data_flow_is_read_from_its_code(files):
    graph = open_model_file(files["digits", "torchscript"])
    edges = {(e.src, e.dst): e.kind for e in graph.edges}
    chain = [
        "input:x",
        "stem.0",
        "stem.1",
        "stem.2",
        "block.conv1",
        "block.bn1",
        "block.conv2",
        "block.bn2",
        "down.0",
        "down.1",
        "pool",
        "head.0",
        "head.1",
        "head.2",
        "head.3",
        "output:0",
    ]
    for src, dst in zip(chain, chain[1:]):
        assert edges.get((src, dst)) == "data", (src, dst)
    assert edges[("stem.2", "down.0")] == "skip"  # the residual add, folded into down.0's input
    assert len(edges) == len(chain)  # nothing else
    assert "data flow read from its code/" in graph.strategy


def test_scenes_and_recordings_are_named_for_what_they_are(tmp_path):
    glb = tmp_path / "scene.glb"
    glb.write_bytes(b"glTF\x02\x00\x00\x00" + bytes(40))
    with pytest.raises(ModelFileError, match="a glTF binary: a 3D scene"):
        open_model_file(glb)
    run = tmp_path / "run.db"
    run.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(ModelFileError, match="nnviz3d replay or compare"):
        open_model_file(run)
