"""The ``nnviz3d`` command line as a user runs it: a real subprocess where the process itself is
what is tested (the entry point, the exit status a shell sees, Ctrl-C), main() in-process for
the rest (the same code, without a fresh interpreter importing torch each time: ~2 s a run)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "nnviz3d", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def cli(capsys):
    """``cli(*args)`` -> (exit status, stdout, stderr) of ``nnviz3d ARGS`` run by main() here."""
    from nnviz3d.cli import main

    def call(*args):
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as exc:  # argparse's own usage errors and --version
            status = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)

    return call


def test_inspect_prints_a_readable_tree():
    r = run("inspect", "nnviz3d.zoo:digits_cnn")
    assert r.returncode == 0, r.stderr
    assert "conv1" in r.stdout and "Conv2d" in r.stdout and "1x16x8x8" in r.stdout
    assert "12,298 parameters" in r.stdout


def test_inspect_json_is_one_stable_document(cli):
    r = cli("inspect", "nnviz3d.zoo:digits_cnn", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    for key in (
        "model",
        "strategy",
        "seconds",
        "total_params",
        "trainable_params",
        "nodes",
        "edges",
    ):
        assert key in doc
    assert doc["model"] == "DigitsCNN" and doc["strategy"] == "torch.export"
    assert doc["total_params"] == 12_298
    node = next(n for n in doc["nodes"] if n["path"] == "block.conv1")
    assert node["kind"] == "Conv2d" and node["params"] == 2320
    assert node["output_shape"] == [1, 16, 8, 8]
    assert ["block.bn2", "block.add"] in doc["edges"]
    again = json.loads(cli("inspect", "nnviz3d.zoo:digits_cnn", "--json").stdout)
    doc.pop("seconds"), again.pop("seconds")
    assert doc == again


def test_inspect_depth_limits_the_tree(cli):
    r = cli("inspect", "nnviz3d.zoo:digits_cnn", "--json", "--depth", "1")
    paths = [n["path"] for n in json.loads(r.stdout)["nodes"]]
    assert "block" in paths and "block.conv1" not in paths


def test_inspect_file_spec(tmp_path, cli):
    f = tmp_path / "mymodel.py"
    f.write_text(
        textwrap.dedent("""
        import torch
        def build():
            return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU()), torch.randn(2, 3)
    """)
    )
    r = cli("inspect", f"{f}:build", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_params"] == 20


@pytest.mark.parametrize(
    "spec,expected,status",
    [
        ("nnviz3d.zoo", "expected SPEC as", 2),  # not written as a SPEC: the command line
        ("no_such_pkg.models:build", "no module named 'no_such_pkg'", 1),  # the rest: at run time
        ("nnviz3d.zoo:nope", "has no attribute 'nope'", 1),
        ("nnviz3d:__version__", "not a callable", 1),
        ("nnviz3d.zoo:_tokens", "must return an nn.Module", 1),
        ("missing/file.py:build", "no such file", 1),
    ],
)
def test_bad_spec_is_one_line_and_its_exit_status(spec, expected, status, cli):
    r = cli("inspect", spec)
    assert r.returncode == status
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_uncapturable_model_is_one_line_and_exit_1(tmp_path, cli):
    f = tmp_path / "broken.py"
    f.write_text(
        textwrap.dedent("""
        import torch
        def build():
            model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(7, 1))
            return model, torch.randn(2, 3)
    """)
    )
    r = cli("inspect", f"{f}:build")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "module '1'" in r.stderr and "torch.export" in r.stderr


def test_import_is_light():
    code = "import sys, nnviz3d; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


# -- version, exit statuses, Ctrl-C, messages ---------------------------------------------------


def test_version_names_nnviz3d_and_torch():
    import nnviz3d

    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"nnviz3d {nnviz3d.__version__} (torch ")


def test_usage_errors_exit_2_and_say_one_line(cli):
    assert run("inspect").returncode == 2  # argparse's own, as the shell sees it
    r = cli("inspect", "nnviz3d.zoo:digits_cnn", "--depth", "0")
    assert r.returncode == 2 and r.stderr == "nnviz3d: error: --depth must be 1 or more, got 0\n"
    assert cli("landscape", "--demo", "--steps", "1").returncode == 2


def _interrupt(args, wait_for, tmp_path):
    """Run ``nnviz3d ARGS``, send SIGINT once stdout shows ``wait_for``; (status, stdout,
    stderr)."""
    import os
    import signal

    import nnviz3d

    root = str(Path(nnviz3d.__file__).parent.parent)  # this checkout, from any folder
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "nnviz3d", *args]
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # a test run started in the background of a script (`make test &`) ignores SIGINT, and
        # so would the child: Python installs its Ctrl-C handler only where SIGINT is not
        # ignored at start. Start the CLI as `python -m` does, with the handler a terminal gives.
        command[1:3] = [
            "-c",
            "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
            " sys.argv[0] = 'nnviz3d'; runpy.run_module('nnviz3d', run_name='__main__',"
            " alter_sys=True)",
        ]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if wait_for in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, "".join(seen) + out, err


def test_ctrl_c_while_serving_exits_130_without_a_traceback(tmp_path):
    status, out, err = _interrupt(
        ["view", "nnviz3d.zoo:digits_cnn", "--no-browser", "--port", "0"],
        "viewing DigitsCNN at",
        tmp_path,
    )
    assert status == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.count("nnviz3d: interrupted") == 1


@pytest.mark.umap
def test_ctrl_c_while_the_demo_trains_exits_130_and_keeps_the_recording(tmp_path):
    from nnviz3d.record import RunReader

    status, out, err = _interrupt(
        ["demo", "--no-browser", "--port", "0", "--steps", "100000", "--record", "run.nnv3d"],
        "step   25",
        tmp_path,
    )
    assert status == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.count("nnviz3d: interrupted") == 1
    summary = RunReader(tmp_path / "run.nnv3d").summary()  # closed, readable
    assert summary["last_step"] >= 24


def test_export_to_a_missing_folder_is_an_error(tmp_path, capsys):
    from nnviz3d.cli import main

    out = tmp_path / "missing_dir" / "x.glb"
    assert main(["export", "nnviz3d.zoo:digits_cnn", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"nnviz3d: error: cannot write {out}: there is no folder {out.parent}; "
        f"create it or choose another output path\n"
    )
    assert not out.parent.exists()


def test_landscape_progress_is_plain_lines_off_a_terminal(tmp_path, capsys):
    from nnviz3d.cli import main

    spec = tmp_path / "pair.py"
    spec.write_text(
        textwrap.dedent("""
        import torch
        def pair():
            torch.manual_seed(0)
            model, x = torch.nn.Linear(3, 2), torch.randn(8, 3)
            return model, lambda m: m(x).pow(2).mean()
    """)
    )
    assert main(["landscape", f"{spec}:pair", "--steps", "4", "-o", str(tmp_path / "l.npz")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar, no carriage returns in a log
    lines = err.splitlines()
    assert [line.split(" points")[0] for line in lines] == [
        "nnviz3d: landscape 4/16",
        "nnviz3d: landscape 8/16",
        "nnviz3d: landscape 12/16",
        "nnviz3d: landscape 16/16",
    ]
    assert len(set(lines)) == len(lines)  # each said once
