"""Python encodes, the viewer's TypeScript decoder (compiled with tsc, run under Node) decodes:
the same arrays come out."""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

from nnviz3d.protocol import encode_frame

WEB = pathlib.Path(__file__).parents[2] / "web"
DRIVER = """
import { readFileSync } from "node:fs";
import { decodeFrame } from "./codec.js";
const buf = readFileSync(process.argv[2]);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
const frame = decodeFrame(ab);
const out = { header: frame.header, arrays: {} };
for (const [k, v] of Object.entries(frame.arrays)) {
  out.arrays[k] = { dtype: v.dtype, shape: v.shape, values: Array.from(v.data) };
}
// NaN and the infinities as text ("NaN", "Infinity", "-Infinity"), so the test sees them
const text = (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? `#${v}` : v);
console.log(JSON.stringify(out, text));
const polluted = ({}).polluted;
console.log(JSON.stringify({ polluted: polluted === undefined ? null : String(polluted) }));
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tsc = WEB / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "web/node_modules missing: run `make setup` (npm ci in web/)"
    out = tmp_path_factory.mktemp("ts")
    r = subprocess.run(
        [
            str(tsc),
            "--outDir",
            str(out),
            "--module",
            "es2022",
            "--target",
            "es2022",
            "--moduleResolution",
            "bundler",
            "--skipLibCheck",
            str(WEB / "src" / "codec.ts"),
            str(WEB / "src" / "protocol.gen.ts"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for js in out.glob("*.js"):  # Node needs explicit extensions in relative imports
        js.write_text(js.read_text().replace('from "./protocol.gen"', 'from "./protocol.gen.js"'))
    (out / "package.json").write_text('{"type": "module"}')
    (out / "driver.js").write_text(DRIVER)
    return out


def test_typescript_decodes_what_python_encodes(compiled, tmp_path):
    arrays = {
        "pos": (np.arange(30, dtype=np.float32).reshape(10, 3) - 7.25) / 3,
        "col": np.array([[0, 128, 255]], np.uint8),
        "off": np.array([0, 2, 5], np.uint32),
        "idx": np.array([-1, 0, 7], np.int32),
        "half": np.array([1.5, -0.25, 1024, 6e-5], np.float16),
        "wide": np.array([1e-300, 3.5], np.float64),
    }
    frame = tmp_path / "frame.bin"
    frame.write_bytes(encode_frame({"type": "scene", "name": "ü"}, arrays))
    node = shutil.which("node")
    r = subprocess.run(
        [node, str(compiled / "driver.js"), str(frame)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[0])
    assert out["header"]["name"] == "ü"
    for name, arr in arrays.items():
        got = out["arrays"][name]
        assert got["shape"] == list(arr.shape)
        np.testing.assert_array_equal(
            np.array(got["values"], np.float64), arr.astype(np.float64).ravel()
        )


def decode_in_node(compiled, tmp_path, buf: bytes) -> tuple[dict, dict]:
    frame = tmp_path / "frame.bin"
    frame.write_bytes(buf)
    r = subprocess.run(
        [shutil.which("node"), str(compiled / "driver.js"), str(frame)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out, check = r.stdout.splitlines()
    return json.loads(out), json.loads(check)


def test_typescript_restores_nan_and_infinities_in_headers(compiled, tmp_path):
    nan, inf = float("nan"), float("inf")
    out, _ = decode_in_node(
        compiled,
        tmp_path,
        encode_frame(
            {
                "type": "probe",
                "scalars": {"loss": nan, "lr": inf, "a/b~c": -inf, "ok": 1.5},
                "alarms": [{"value": nan, "module": "NaN"}],
                "text": "Infinity",
            }
        ),
    )
    h = out["header"]
    assert h["scalars"] == {"loss": "#NaN", "lr": "#Infinity", "a/b~c": "#-Infinity", "ok": 1.5}
    assert h["alarms"] == [{"value": "#NaN", "module": "NaN"}] and h["text"] == "Infinity"
    assert "nonfinite" not in h


def test_typescript_decodes_old_headers_with_bare_nan(compiled, tmp_path):
    from tests.protocol.test_non_finite import raw_frame

    out, _ = decode_in_node(
        compiled,
        tmp_path,
        raw_frame(
            '{"type":"probe","scalars":{"loss":NaN,"lr":-Infinity,"s":"NaN \\" Infinity"},'
            '"arrays":[]}'
        ),
    )
    assert out["header"]["scalars"] == {"loss": "#NaN", "lr": "#-Infinity", "s": 'NaN " Infinity'}


def test_a_hostile_nonfinite_map_cannot_reach_prototypes(compiled, tmp_path):
    from tests.protocol.test_non_finite import raw_frame

    out, check = decode_in_node(
        compiled,
        tmp_path,
        raw_frame(
            json.dumps(
                {
                    "type": "t",
                    "a": None,
                    "b": 2,
                    "arrays": [],
                    "nonfinite": {
                        "/__proto__/polluted": "NaN",
                        "/constructor/prototype/polluted": "NaN",
                        "/a": "NaN",
                        "/b": "NaN",
                        "/zz": "Infinity",
                        "/a/x": "NaN",
                    },
                }
            )
        ),
    )
    assert check["polluted"] is None
    assert out["header"]["a"] == "#NaN" and out["header"]["b"] == 2
    assert "zz" not in out["header"]
