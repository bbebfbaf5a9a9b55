"""Opening a model file never runs code, never reads a file the model names, and never
allocates more than the file holds (issue 15). Hostile files come from hostile_files.py,
built from real saves in tmp_path; a payload would create a marker file, and every test
asserts it never appears."""

import re
import subprocess
import sys
import time

import pytest
import torch

from nnviz3d.capture.formats import ModelFileError, export_archive, open_model_file
from nnviz3d.capture.weight_frame import file_weights

from . import hostile_files as hf


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def one_sentence(message: str, path) -> None:
    assert message.startswith(str(path)), message
    assert "\n" not in message and "Traceback" not in message, message
    assert not re.search(r"\.\s", message), message  # one sentence, not two


def refused(path, *, match: str | None = None) -> list[str]:
    """Both entry points (graph and weights) refuse ``path`` in one sentence."""
    messages = []
    for read in (open_model_file, file_weights):
        with pytest.raises(ModelFileError, match=match) as err:
            read(path)
        one_sentence(str(err.value), path)
        messages.append(str(err.value))
    return messages


@pytest.fixture
def no_payload(folder):
    hf.marker(folder).unlink(missing_ok=True)
    yield
    assert not hf.marker(folder).exists(), "the payload ran"


# -- 1. .pt2: no place where torch.export.load unpickles is reachable ------------------------
@pytest.mark.parametrize("case", list(hf.PT2_PAYLOADS))
def test_pt2_payloads_are_refused_before_loading(folder, no_payload, case):
    path = hf.PT2_PAYLOADS[case](folder)
    messages = refused(path)
    assert all(
        any(
            w in m
            for w in (
                "nnviz3d never unpickles",
                "each entry once",
                "plain names under one folder",
                "eval",
            )
        )
        for m in messages
    ), messages


@pytest.mark.parametrize("case", list(hf.PT2_PAYLOADS))
def test_pt2_loader_cannot_unpickle_even_without_the_check(folder, no_payload, monkeypatch, case):
    """The check is not what makes it safe: with it switched off, torch.export.load runs
    inside refusing_code and every payload is still refused."""
    monkeypatch.setattr(export_archive, "check_archive", lambda path: None)
    path = hf.PT2_PAYLOADS[case](folder)
    for read in (open_model_file, file_weights):
        with pytest.raises(ModelFileError) as err:
            read(path)
        one_sentence(str(err.value), path)


@pytest.mark.parametrize(
    "build, match",
    [
        (hf.pt2_aoti, "data/aotinductor"),
        (hf.pt2_missing_version, "archive_version 0"),
        (hf.pt2_file_operator, "aten.save.default"),
    ],
)
def test_pt2_siblings_are_refused(folder, no_payload, build, match):
    refused(build(folder), match=match)


def test_a_good_pt2_still_opens_and_gives_its_weights(folder):
    path = hf.good_pt2(folder)
    graph = open_model_file(path)
    assert graph.total_params == 4 * 3 + 3
    assert set(file_weights(path)) >= {"fc"}


def test_refusing_code_refuses_every_entry_point_on_this_thread_only(folder):
    import pickle
    import threading

    import sympy

    from nnviz3d.capture.formats.code_guard import CodeRefused, refusing_code

    evil, blob = hf.payload_pt(folder), hf.payload_pickle(folder)
    hf.marker(folder).unlink(missing_ok=True)
    results = []
    with refusing_code() as guard:
        for call in (
            lambda: torch.load(__import__("io").BytesIO(evil), weights_only=False),
            lambda: pickle.loads(blob),
            lambda: torch._C._pickle_load_obj(evil),
            lambda: sympy.sympify("__import__('os').getcwd()"),
        ):
            with pytest.raises(CodeRefused):
                call()
        assert sympy.sympify("Max(s0, 2*s1)") is not None  # plain arithmetic still parses
        other = threading.Thread(target=lambda: results.append(pickle.loads(pickle.dumps(7))))
        other.start()
        other.join()
    assert len(guard.refused) == 4 and results == [7]
    assert not hf.marker(folder).exists()
    assert pickle.loads(pickle.dumps(5)) == 5  # restored


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('x')",
        "open(s0)",
        "s0.__class__",
        "eval(s0)",
        "Symbol(f'{1}')",
        "s0[0]",
        "lambda: 1",
        "getattr(s0, s1)",
        "sympify(s0)",
        "x=1",
        "9**9**9**9**9**9",
    ],
)
def test_unsafe_symbolic_expressions_are_named(expr):
    from nnviz3d.capture.formats.code_guard import check_sym_expr

    assert check_sym_expr(expr) is not None


def test_torch_symbolic_expressions_pass():
    from nnviz3d.capture.formats.code_guard import check_sym_expr

    for expr in (
        "Mul(Integer(2), Symbol('s77', positive=True, integer=True))",
        "FloorDiv(s0, 2) + Mod(s1, 3)",
        "(s0 >= 2) & (s0 <= 64)",
        "-oo",
        "Max(1, s0)",
    ):
        assert check_sym_expr(expr) is None, expr


# -- 2. shapes and strides never claim more than the file holds -------------------------------
@pytest.mark.parametrize("case", list(hf.EXPANDED))
def test_stride0_and_oversized_tensors_are_refused_before_allocating(folder, case):
    path = hf.EXPANDED[case](folder)
    assert path.stat().st_size < 64 * 1024
    start = time.perf_counter()
    messages = refused(path)
    assert time.perf_counter() - start < 5.0
    assert all("200000" in m.replace(",", "") for m in messages), messages


def test_the_160_gb_tensor_fits_in_a_few_kb_and_is_refused_fast(folder):
    path = hf.state_dict_expanded(folder)
    size = path.stat().st_size
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="stride-0 or overlapping view") as err:
        file_weights(path)
    took = time.perf_counter() - start
    print(f"\n{hf.BIG}x{hf.BIG} float32 saved in {size:,} bytes, refused in {took * 1e3:.1f} ms")
    assert size < 4096 and took < 1.0
    assert "160,000,000,000 bytes" in str(err.value)


@pytest.mark.parametrize("build", [hf.state_dict_storage_claim, hf.legacy_storage_claim])
def test_storages_claiming_more_than_the_file_are_refused(folder, build):
    refused(build(folder), match="bytes its tensors claim|claiming")


# -- 3. ONNX external data is never read ------------------------------------------------------
_opened: list[str] = []


def _audit(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        _opened.append(str(args[0]))


sys.addaudithook(_audit)


@pytest.mark.parametrize("location", ["weights.bin", "../weights.bin", "/etc/hostname"])
def test_onnx_external_data_is_never_opened(tmp_path, monkeypatch, location):
    model_dir, cwd = tmp_path / "model", tmp_path / "cwd"
    model_dir.mkdir()
    cwd.mkdir()
    planted = torch.full((4, 3), 7.0).numpy().tobytes()
    for where in (model_dir / "weights.bin", cwd / "weights.bin", tmp_path / "weights.bin"):
        where.write_bytes(planted)
    monkeypatch.chdir(cwd)
    path = hf.onnx_external(model_dir, location)
    _opened.clear()
    graph = open_model_file(path)
    weights = file_weights(path)
    name = location.rpartition("/")[2]
    assert not [p for p in _opened if p.endswith(name)], _opened
    assert graph.total_params == 12  # the shape is shown
    assert not any(bool((t == 7.0).any()) for ps in weights.values() for t in ps.values())


def test_onnx_initializer_data_must_match_its_dims(folder):
    refused(hf.onnx_claiming(folder), match="to hold 160,000,000,000 bytes of data; found 4")


# -- siblings: archives and indexes -----------------------------------------------------------
def test_zip_bomb_is_refused_without_inflating(folder):
    path = hf.zip_bomb(folder)
    start = time.perf_counter()
    refused(path, match="zip bomb")
    assert time.perf_counter() - start < 2.0


def test_duplicate_and_escaping_entry_names_are_refused(folder, no_payload):
    src = folder / "plain.pt"
    torch.save({"w": torch.ones(2)}, src)
    twice = hf.rewrite_zip(src, folder / "twice.pt", extra=[("plain/data/0", bytes(8))])
    refused(twice, match="twice")
    script = folder / "script.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script)
    dotdot = hf.rewrite_zip(script, folder / "dotdot.pt", extra=[("script/../../x", b"x")])
    refused(dotdot, match="plain names under one folder")


def test_pickles_that_run_code_are_refused_in_every_torch_format(folder, no_payload):
    checkpoint = folder / "payload.pt"
    checkpoint.write_bytes(hf.payload_pt(folder))
    legacy = folder / "payload_legacy.pth"
    legacy.write_bytes(hf.payload_pickle(folder))
    script = folder / "payload_script.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), folder / "lin.pt")
    hf.rewrite_zip(
        folder / "lin.pt",
        script,
        lambda n, d: hf.payload_pickle(folder) if n.endswith("/data.pkl") else d,
    )
    for path in (checkpoint, legacy, script):
        refused(path, match="never unpickles|does not unpickle")


def test_sharded_index_cannot_reach_outside_its_folder(tmp_path):
    import json

    import safetensors.torch

    outside = tmp_path / "outside.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2)}, outside)
    model = tmp_path / "models--x" / "snapshots" / "rev"
    model.mkdir(parents=True)
    index = model / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"w": "model-1.safetensors"}}))
    (model / "model-1.safetensors").symlink_to(outside)
    refused(index, match="outside the model's folder")
    blobs = tmp_path / "models--x" / "blobs"  # the Hugging Face cache layout is fine
    blobs.mkdir()
    outside.rename(blobs / "sha")
    (model / "model-1.safetensors").unlink()
    (model / "model-1.safetensors").symlink_to("../../blobs/sha")
    assert open_model_file(index).total_params == 2
    index.write_text(json.dumps({"weight_map": {"w": "../../../outside.safetensors"}}))
    refused(index, match="points elsewhere")


# -- the CLI: one line, no traceback, non-zero exit -------------------------------------------
def test_cli_refuses_a_hostile_pt2_in_one_line(folder, no_payload):
    path = hf.pt2_legacy_fallback(folder)
    r = subprocess.run(
        [sys.executable, "-m", "nnviz3d", "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "plain names under one folder" in r.stderr
