"""The core install (torch, numpy, aiohttp) inspects, views, watches, records and replays; a
feature whose extra is missing says in one sentence which extra to install."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

from nnviz3d.extras import MissingExtra, available, require

ROOT = pathlib.Path(__file__).parent.parent

EXTRAS_PACKAGES = (
    "umap",
    "pynndescent",
    "numba",
    "pythreejs",
    "ipywidgets",
    "trimesh",
    "PIL",
    "cryptography",
    "segno",
    "sklearn",
    "onnx",
)

BLOCK = textwrap.dedent(f"""
    import sys

    # as if only the core were installed: importing these raises ModuleNotFoundError and
    # importlib.util.find_spec finds nothing, as for packages that are not there
    sys.modules.update(dict.fromkeys({EXTRAS_PACKAGES!r}))
""")


def run_core_only(body: str, tmp_path) -> subprocess.CompletedProcess:
    code = BLOCK + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_the_core_inspects_views_watches_and_replays(tmp_path):
    r = run_core_only(
        f"""
        import sys
        import torch
        import nnviz3d
        from nnviz3d import zoo
        from nnviz3d.cli import main

        assert main(["inspect", "nnviz3d.zoo:digits_cnn"]) == 0
        model, x = zoo.digits_cnn()
        handle = nnviz3d.view(model, x, open_browser=False, port=0, quiet=True)
        handle.close()
        xs, ys = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
        w = nnviz3d.watch(model, xs[:1], record="run.nnv3d", serve=False, open_browser=False,
                          quiet=True, every=1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            loss = torch.nn.functional.cross_entropy(model(xs), ys)
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
        w.close()
        assert main(["replay", "run.nnv3d", "--summary"]) == 0
        # a feature of an extra: one line naming it, exit status 1 (it cannot be done here;
        # 2 is for a wrong command line), no traceback
        assert main(["export", "nnviz3d.zoo:digits_cnn", "-o", "m.glb"]) == 1
        loaded = sorted(m for m in {EXTRAS_PACKAGES!r} if sys.modules[m] is not None)
        assert not loaded, loaded
        print("core ok")
    """,
        tmp_path,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "core ok" in r.stdout
    assert "run.nnv3d: DigitsCNN, 4 frames over 3 steps" in r.stdout  # replay --summary
    assert (
        "nnviz3d: error: glTF export needs the 'gltf' extra (trimesh is not installed): "
        "pip install 'nnviz3d[gltf]'" in r.stderr
    )
    assert "Traceback" not in r.stderr


MISSING = {
    "from nnviz3d.embed.methods import embed_umap; import numpy as np;"
    "embed_umap(np.random.rand(40, 3))": "UMAP embeddings need the 'embed' extra (umap is not installed): "
    "pip install 'nnviz3d[embed]'",
    "from nnviz3d.embed.methods import embed_pca; import numpy as np;"
    "embed_pca(np.random.rand(40, 3))": "feature embeddings need the 'embed' extra (sklearn is not installed): "
    "pip install 'nnviz3d[embed]'",
    "from nnviz3d.server.tls import self_signed; self_signed()": "--tls without --certfile needs the 'tls' extra (cryptography is not installed): "
    "pip install 'nnviz3d[tls]'",
    "from nnviz3d.data.digits import load_digits_tensors; load_digits_tensors()": "the demo's digits data set needs the 'embed' extra (sklearn is not installed): "
    "pip install 'nnviz3d[embed]'",
    "from nnviz3d.export.notebook import scene_widget; from nnviz3d.zoo import digits_cnn;"
    "scene_widget(*digits_cnn())": "the notebook widget needs the 'notebook' extra (pythreejs is not installed): "
    "pip install 'nnviz3d[notebook]'",
    "from nnviz3d.export import export_gltf; from nnviz3d.zoo import digits_cnn;"
    "export_gltf(digits_cnn())": "glTF export needs the 'gltf' extra (trimesh is not installed): "
    "pip install 'nnviz3d[gltf]'",
}


def test_a_missing_extra_is_one_sentence(tmp_path):
    r = run_core_only(
        f"""
        for body in {list(MISSING)!r}:
            try:
                exec(body)
                print("no error")
            except ImportError as exc:
                print(type(exc).__name__, exc)
        from nnviz3d.server.tls import qr_text
        print(qr_text("https://192.168.1.2:8765/"), end="")
    """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert lines == [f"MissingExtra nnviz3d: {s}" for s in MISSING.values()] + [
        # without segno the URL is printed as before, with this hint instead of a QR code
        "nnviz3d: showing the URL as a QR code needs the 'tls' extra (segno is not "
        "installed): pip install 'nnviz3d[tls]'"
    ]


def test_require_returns_the_module_or_names_the_extra():
    import json

    assert require("embed", "json") is json
    with pytest.raises(
        MissingExtra,
        match=r"^nnviz3d: glTF export needs the 'gltf' extra "
        r"\(no_such_pkg is not installed\): "
        r"pip install 'nnviz3d\[gltf\]'$",
    ) as info:
        require("gltf", "no_such_pkg.sub")
    assert isinstance(info.value, ImportError) and info.value.extra == "gltf"
    assert available("json") and not available("no_such_pkg")
