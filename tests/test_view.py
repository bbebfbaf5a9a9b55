"""``nnviz3d.view`` from Python and ``nnviz3d view`` from the shell."""

import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import nnviz3d
from nnviz3d import zoo


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status


def test_view_returns_at_once_serves_and_closes(capsys):
    model, x = zoo.digits_cnn()
    start = time.perf_counter()
    handle = nnviz3d.view(model, x, port=0, open_browser=False)
    try:
        assert time.perf_counter() - start < 30
        assert fetch(handle.url) == 200
        assert handle.url in capsys.readouterr().out
        assert "DigitsCNN" in repr(handle) and handle.url in handle._repr_html_()
    finally:
        handle.close()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        fetch(handle.url)
    handle.close()  # closing twice is harmless


def test_view_as_context_manager_and_depth():
    model, x = zoo.digits_cnn()
    with nnviz3d.view(model, x, port=0, open_browser=False, depth=1, quiet=True) as handle:
        assert handle.state.blocks == 7  # input, stem, block, down, pool, head, output


def test_cli_view_prints_the_url_and_serves():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nnviz3d",
            "view",
            "nnviz3d.zoo:digits_cnn",
            "--no-browser",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("nnviz3d: viewing DigitsCNN at http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        assert fetch(url) == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_view_bad_spec_is_one_line():
    r = subprocess.run(
        [sys.executable, "-m", "nnviz3d", "view", "nope:nope", "--no-browser"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "no module named 'nope'" in r.stderr
    assert "Traceback" not in r.stderr
