"""``nnviz3d inspect`` as a user runs it: a real subprocess."""

import json
import subprocess
import sys
import textwrap

import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nnviz3d", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_inspect_prints_a_readable_tree():
    r = run("inspect", "nnviz3d.zoo:digits_cnn")
    assert r.returncode == 0, r.stderr
    assert "conv1" in r.stdout and "Conv2d" in r.stdout and "1x16x8x8" in r.stdout
    assert "12,298 parameters" in r.stdout


def test_inspect_json_is_one_stable_document():
    r = run("inspect", "nnviz3d.zoo:digits_cnn", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    for key in ("model", "strategy", "seconds", "total_params", "trainable_params", "nodes",
                "edges"):
        assert key in doc
    assert doc["model"] == "DigitsCNN" and doc["strategy"] == "torch.export"
    assert doc["total_params"] == 12_298
    node = next(n for n in doc["nodes"] if n["path"] == "block.conv1")
    assert node["kind"] == "Conv2d" and node["params"] == 2320
    assert node["output_shape"] == [1, 16, 8, 8]
    assert ["block.bn2", "block.add"] in doc["edges"]
    again = json.loads(run("inspect", "nnviz3d.zoo:digits_cnn", "--json").stdout)
    doc.pop("seconds"), again.pop("seconds")
    assert doc == again


def test_inspect_depth_limits_the_tree():
    r = run("inspect", "nnviz3d.zoo:digits_cnn", "--json", "--depth", "1")
    paths = [n["path"] for n in json.loads(r.stdout)["nodes"]]
    assert "block" in paths and "block.conv1" not in paths


def test_inspect_file_spec(tmp_path):
    f = tmp_path / "mymodel.py"
    f.write_text(textwrap.dedent("""
        import torch
        def build():
            return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU()), torch.randn(2, 3)
    """))
    r = run("inspect", f"{f}:build", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_params"] == 20


@pytest.mark.parametrize("spec,expected,status", [
    ("nnviz3d.zoo", "expected SPEC as", 2),  # not written as a SPEC: the command line
    ("no_such_pkg.models:build", "no module named 'no_such_pkg'", 1),  # the rest: at run time
    ("nnviz3d.zoo:nope", "has no attribute 'nope'", 1),
    ("nnviz3d:__version__", "not a callable", 1),
    ("nnviz3d.zoo:_tokens", "must return an nn.Module", 1),
    ("missing/file.py:build", "no such file", 1),
])
def test_bad_spec_is_one_line_and_its_exit_status(spec, expected, status):
    r = run("inspect", spec)
    assert r.returncode == status
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_uncapturable_model_is_one_line_and_exit_1(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text(textwrap.dedent("""
        import torch
        def build():
            model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(7, 1))
            return model, torch.randn(2, 3)
    """))
    r = run("inspect", f"{f}:build")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "module '1'" in r.stderr and "torch.export" in r.stderr


def test_import_is_light():
    code = "import sys, nnviz3d; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"
