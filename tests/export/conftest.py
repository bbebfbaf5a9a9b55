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
    out = subprocess.run(["node", str(VALIDATE), *map(str, paths)], capture_output=True,
                         check=False, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def glb_json(data: bytes) -> dict:
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert (magic, version, length) == (b"glTF", 2, len(data))
    size, kind = struct.unpack("<I4s", data[12:20])
    assert kind == b"JSON"
    return json.loads(data[20:20 + size])
