import json
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = Path(__file__).with_name("validate_gltf.mjs")
TRAIN_STEPS = 10


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A real recording: the demo CNN trained TRAIN_STEPS SGD steps under nnviz3d.watch."""
    import torch

    import nnviz3d
    from nnviz3d import zoo

    torch.manual_seed(0)
    model, x = zoo.digits_cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    path = tmp_path_factory.mktemp("run") / "digits.nnv3d"
    w = nnviz3d.watch(model, x, record=path, serve=False, every=1, quiet=True)
    try:
        for _ in range(TRAIN_STEPS):
            xb, yb = torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
    finally:
        w.close()
    return path


def validate(*paths) -> list[dict]:
    """Khronos glTF-Validator reports of ``paths`` (run with node)."""
    out = subprocess.run(
        ["node", str(VALIDATE), *map(str, paths)],
        capture_output=True,
        check=False,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def glb_json(data: bytes) -> dict:
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert (magic, version, length) == (b"glTF", 2, len(data))
    size, kind = struct.unpack("<I4s", data[12:20])
    assert kind == b"JSON"
    return json.loads(data[20 : 20 + size])


def glb_parts(data: bytes) -> tuple[dict, bytes]:
    """The JSON tree and the binary chunk of a GLB."""
    tree = glb_json(data)
    size = struct.unpack("<I", data[12:16])[0]
    start = 20 + size
    length, kind = struct.unpack("<I4s", data[start : start + 8])
    assert kind == b"BIN\x00"
    return tree, data[start + 8 : start + 8 + length]


def accessor(tree: dict, blob: bytes, i: int):
    """A float accessor's values as an (count, width) array (tightly packed views)."""
    import numpy as np

    a = tree["accessors"][i]
    view = tree["bufferViews"][a["bufferView"]]
    assert a["componentType"] == 5126
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[a["type"]]
    off = view.get("byteOffset", 0) + a.get("byteOffset", 0)
    return np.frombuffer(blob, np.float32, a["count"] * width, off).reshape(a["count"], width)


def image_of(tree: dict, blob: bytes, i: int):
    """A glTF image (stored in the binary chunk) as a PIL image."""
    import io

    from PIL import Image

    view = tree["bufferViews"][tree["images"][i]["bufferView"]]
    off = view.get("byteOffset", 0)
    return Image.open(io.BytesIO(blob[off : off + view["byteLength"]]))
