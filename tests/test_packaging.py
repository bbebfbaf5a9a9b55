"""The sdist and the wheel, built as a release would be from a clean clone of HEAD, carry the
viewer; the wheel installed in a fresh venv with no Node.js serves it to Chromium; and a build
that cannot make the viewer stops with one sentence (setup.py's build hook)."""

import importlib.util
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest

from tests.browser.conftest import browser_context, page, wait_ready  # noqa: F401

ROOT = pathlib.Path(__file__).parent.parent
pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """``python -m build`` on a clean clone of HEAD: the sdist (whose build runs npm), then
    the wheel built from that sdist, as PyPI's users would get them."""
    tmp = tmp_path_factory.mktemp("packaging")
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    modules = ROOT / "web" / "node_modules"
    if modules.is_dir():  # what `npm ci` would download; the hook runs it when missing
        (clone / "web" / "node_modules").symlink_to(modules.resolve())
    out = tmp / "dist"
    r = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "-o", str(out), str(clone)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    assert "nnviz3d: building the viewer: run --silent build" in r.stderr  # npm ran
    (sdist,) = out.glob("nnviz3d-*.tar.gz")
    (wheel,) = out.glob("nnviz3d-*.whl")
    return sdist, wheel


def test_the_wheel_and_sdist_carry_the_viewer_and_licence(dist):
    sdist, wheel = dist
    names = zipfile.ZipFile(wheel).namelist()
    assert "nnviz3d/viewer_dist/index.html" in names
    assert any(n.startswith("nnviz3d/viewer_dist/assets/") and n.endswith(".js") for n in names)
    assert any(n.endswith(".woff") for n in names)  # the label font ships; nothing is fetched
    assert "nnviz3d/py.typed" in names
    assert "nnviz3d/protocol/messages.py" in names
    assert re.search(r"^nnviz3d-[^/]+\.dist-info/licenses/LICENSE$", "\n".join(names), re.M)
    meta = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "License-Expression: MIT" in meta
    assert "Project-URL: Homepage, https://github.com/nnviz3d/nnviz3d" in meta
    core = sorted(re.findall(r"^Requires-Dist: ([A-Za-z0-9_-]+)[^;\n]*$", meta, re.M))
    assert core == ["aiohttp", "numpy", "torch"]
    relative = re.findall(r"\]\((?!https://|#)([^)\s]+)\)", meta)
    assert relative == []  # README's links and images work on PyPI

    with tarfile.open(sdist) as tar:
        files = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for need in (
        "LICENSE",
        "setup.py",
        "nnviz3d/py.typed",
        "web/package.json",
        "web/package-lock.json",
        "web/index.html",
        "web/vite.config.ts",
        "web/tsconfig.json",
        "web/src/main.ts",
        "web/src/xr/session.ts",
        "nnviz3d/viewer_dist/index.html",
    ):
        assert need in files, need
    assert not any(n.startswith("web/node_modules") for n in files)


def test_the_installed_wheel_serves_the_viewer_without_node(dist, page, tmp_path):  # noqa: F811
    _, wheel = dist
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # torch, numpy, aiohttp... come from this interpreter's environment; nothing downloads
    pathlib.Path(site, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    assert shutil.which("npm", path=env["PATH"]) is None
    assert shutil.which("node", path=env["PATH"]) is None
    origin = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util; print(importlib.util.find_spec('nnviz3d').origin)",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert origin.startswith(site), origin  # the wheel's copy, not this checkout's

    server = subprocess.Popen(
        [
            str(venv / "bin" / "nnviz3d"),
            "view",
            "nnviz3d.zoo:digits_cnn",
            "--no-browser",
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = []
        for line in server.stdout:  # the URL comes once the model is captured (seconds)
            seen.append(line)
            url = re.search(r"at (http://127\.0\.0\.1:\d+/\S*)", line)
            if url:
                break
        assert url, "".join(seen)
        page.goto(url.group(1))
        wait_ready(page)
        assert page.evaluate("window.nnviz3d.ready") is True
        assert page.errors == []
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _build_hook():
    spec = importlib.util.spec_from_file_location("nnviz3d_build_hook", ROOT / "setup.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)  # (setup() runs only as __main__)
    return hook


def _source_tree(root: pathlib.Path) -> pathlib.Path:
    """A copy of what a build sees, without the built viewer and without node_modules."""
    shutil.copytree(
        ROOT,
        root,
        ignore=shutil.ignore_patterns(
            ".git",
            "node_modules",
            "viewer_dist",
            ".venv",
            ".cache",
            "runs",
            "build",
            "dist",
            "__pycache__",
            "*.egg-info",
            "tests",
            "bench",
            "examples",
            "scenes",
            "*.png",
        ),
    )
    return root


def test_a_build_without_npm_or_viewer_stops_with_one_sentence(tmp_path):
    hook = _build_hook()
    tree = _source_tree(tmp_path / "tree")
    no_npm = {"PATH": str(tmp_path / "empty-bin")}
    with pytest.raises(hook.ViewerBuildError) as info:
        hook.build_viewer(tree, env=no_npm)
    message = str(info.value)
    assert message == (
        "nnviz3d: building the package needs the 3D viewer built from web/, but npm is not on "
        "PATH and nnviz3d/viewer_dist does not exist: install Node.js 20 or newer "
        "(https://nodejs.org) and build again"
    )

    # the real frontend: the build fails and says the same sentence
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "-o",
            str(tmp_path / "dist"),
            str(tree),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **no_npm},
    )
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.whl"))

    # a built viewer older than its sources: packaged as it is, with a note, when npm is absent
    index = tree / "nnviz3d" / "viewer_dist" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<!doctype html>")
    os.utime(index, (1, 1))
    notes = []
    assert hook.build_viewer(tree, env=no_npm, log=notes.append) == "stale"
    assert "npm is not on PATH" in notes[0]
    os.utime(index)
    assert hook.build_viewer(tree, env=no_npm) == "current"
