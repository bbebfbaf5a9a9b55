"""NaN and the infinities in frame headers and JSON messages: they travel as strict JSON (null
plus the header's ``nonfinite`` map, never a bare ``NaN`` a browser rejects) and come back as
numbers; old headers with bare NaN still decode; a hostile map writes nowhere but its nulls."""

import json
import math

import numpy as np
import pytest

from nnviz3d.protocol import (
    NONFINITE,
    NONFINITE_VALUES,
    PROTOCOL_VERSION,
    decode_frame,
    dumps_json,
    encode_frame,
    loads_json,
)
from nnviz3d.protocol.codec import PREFIX, _pad
from nnviz3d.protocol.codegen import generate
from nnviz3d.protocol.overlay_frame import decode_overlays, encode_overlays
from nnviz3d.protocol.probe_frame import decode_probe, decode_scalars, encode_probe, encode_scalars
from nnviz3d.scene.overlay import Overlay

HEADER = {
    "type": "probe",
    "step": 7,
    "scalars": {"loss": math.nan, "lr": math.inf, "train/acc": 0.5, "a~b/c": -math.inf},
    "alarms": [{"alarm": "nan", "value": math.nan, "module": "NaN"}],
    "meta": {
        "lo": np.float32("nan"),
        "hi": np.float64(2.0),
        "n": np.int64(3),
        "pair": (1.0, math.inf),
        4: -0.0,
        "ok": True,
    },
    "text": "NaN",
    "list": [math.nan, "Infinity", None],
}


def header_text(buf: bytes) -> str:
    _, _, _, hlen = PREFIX.unpack_from(buf, 0)
    return buf[PREFIX.size : PREFIX.size + hlen].decode()


def strict(text: str):
    """JSON as a browser parses it: bare NaN/Infinity are errors."""

    def refuse(token):
        raise ValueError(f"bare {token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_header_numbers_are_strict_json_and_come_back():
    buf = encode_frame(HEADER, {"x": np.array([np.nan, np.inf], np.float32)})
    raw = strict(header_text(buf))
    assert raw["scalars"]["loss"] is None and raw["scalars"]["train/acc"] == 0.5
    assert raw[NONFINITE] == {
        "/scalars/loss": "NaN",
        "/scalars/lr": "Infinity",
        "/scalars/a~0b~1c": "-Infinity",
        "/alarms/0/value": "NaN",
        "/meta/lo": "NaN",
        "/meta/pair/1": "Infinity",
        "/list/0": "NaN",
    }
    header, arrays = decode_frame(buf)
    assert NONFINITE not in header
    assert math.isnan(header["scalars"]["loss"]) and header["scalars"]["lr"] == math.inf
    assert header["scalars"]["a~b/c"] == -math.inf
    assert math.isnan(header["alarms"][0]["value"]) and math.isnan(header["meta"]["lo"])
    assert header["meta"]["pair"] == [1.0, math.inf] and header["meta"]["n"] == 3
    assert header["meta"]["4"] == 0.0 and math.copysign(1, header["meta"]["4"]) == -1  # -0
    # strings that spell a number stay strings, a null stays null
    assert header["text"] == "NaN" and header["alarms"][0]["module"] == "NaN"
    assert header["list"][1:] == ["Infinity", None]
    assert np.isnan(arrays["x"][0]) and arrays["x"][1] == np.inf  # arrays carry IEEE values


def test_a_finite_header_is_written_as_before():
    header = {"type": "t", "step": 3, "names": ["a", "b"]}
    raw = strict(header_text(encode_frame(header)))
    assert NONFINITE not in raw and raw["step"] == 3


def raw_frame(text: str) -> bytes:
    """A frame whose header is ``text`` byte for byte (as an older writer made it)."""
    body = text.encode()
    base = _pad(PREFIX.size + len(body))
    out = bytearray(base)
    PREFIX.pack_into(out, 0, b"NV3D", PROTOCOL_VERSION, 0, base - PREFIX.size)
    out[PREFIX.size : base] = body.ljust(base - PREFIX.size, b" ")
    return bytes(out)


def test_old_headers_with_bare_nan_still_decode():
    header, _ = decode_frame(
        raw_frame('{"type":"probe","scalars":{"loss":NaN,"lr":Infinity,"x":-Infinity},"arrays":[]}')
    )
    assert math.isnan(header["scalars"]["loss"]) and header["scalars"]["lr"] == math.inf
    assert header["scalars"]["x"] == -math.inf


@pytest.mark.parametrize(
    "nonfinite",
    [
        {"/a": "NaN", "/b": "NaN", "/c/0": "NaN", "/c/9": "NaN", "/d/x": "NaN", "/a/b": "NaN"},
        {"/b": "Nope", "a": "NaN", "": "NaN", "/__proto__/x": "NaN", "/c/-1": "NaN"},
        {"/b": 1},
        "NaN",
    ],
)
def test_a_hostile_nonfinite_map_only_fills_nulls(nonfinite):
    text = json.dumps(
        {
            "type": "t",
            "a": None,
            "b": 1,
            "c": [None, "s"],
            "d": "str",
            NONFINITE: nonfinite,
            "arrays": [],
        }
    )
    header, _ = decode_frame(raw_frame(text))
    assert header["b"] == 1 and header["c"][1] == "s" and header["d"] == "str"
    assert NONFINITE not in header or not isinstance(nonfinite, dict)
    if isinstance(nonfinite, dict) and nonfinite.get("/a") == "NaN":
        assert math.isnan(header["a"]) and math.isnan(header["c"][0])
    else:
        assert header["a"] is None


def test_json_messages_use_the_same_rule():
    text = dumps_json({"type": "progress", "value": math.nan, "total": 3})
    assert strict(text)["value"] is None
    back = loads_json(text)
    assert math.isnan(back["value"]) and back["total"] == 3 and NONFINITE not in back
    assert loads_json('{"v": NaN}')["v"] != loads_json('{"v": NaN}')["v"]  # old text too


def test_the_viewer_types_name_the_rule():
    text = generate()
    assert f'export const NONFINITE = "{NONFINITE}";' in text
    assert (
        "export const NONFINITE_VALUES = ["
        + ", ".join(f'"{v}"' for v in NONFINITE_VALUES)
        + "] as const;"
        in text
    )


def test_a_nan_loss_and_a_nan_alarm_travel_in_a_probe_frame():
    stats = np.zeros((1, 8), np.float32)
    stats[0, 6] = 12
    buf = encode_probe(
        5,
        1.0,
        "train",
        {"loss": float("nan"), "lr": np.float32("inf")},
        {
            "weight": {
                "step": 5,
                "modules": ["fc"],
                "stats": stats,
                "hist": np.zeros((1, 64)),
                "range": [[np.nan, np.nan]],
            }
        },
        alarms=[{"alarm": "nan", "module": "fc", "step": 5, "value": float("nan"), "message": "x"}],
    )
    strict(header_text(buf))
    header, arrays = decode_probe(buf)
    assert math.isnan(header["scalars"]["loss"]) and header["scalars"]["lr"] == math.inf
    assert math.isnan(header["alarms"][0]["value"])
    assert np.isnan(arrays["weight_range"]).all()


def test_the_scalars_history_tells_a_nan_metric_from_an_absent_one():
    buf = encode_scalars(
        [
            (0, "train", {"loss": 1.0}),
            (1, "train", {"loss": float("nan")}),
            (2, "val", {"acc": 0.5}),
            (3, "train", {"loss": 1e300}),
        ]
    )
    header, arrays = decode_scalars(buf)
    names = header["names"]
    loss, acc = names.index("loss"), names.index("acc")
    assert np.isnan(arrays["values"][1, loss]) and arrays["given"][1, loss] == 1
    assert np.isnan(arrays["values"][2, loss]) and arrays["given"][2, loss] == 0
    assert arrays["given"][2, acc] == 1
    assert arrays["values"][3, loss] == np.inf  # beyond float32: infinite, as it was meant


def test_weight_maps_too_large_for_float16_are_sent_wider():
    def sent(data):
        buf = encode_probe(
            0,
            0.0,
            "train",
            {},
            {},
            matrices=[
                {
                    "module": "fc",
                    "param": "weight",
                    "full_shape": [2, 2],
                    "method": "none",
                    "data": data,
                }
            ],
        )
        _, arrays = decode_probe(buf)
        return arrays["mat_0"]

    small = sent(np.array([[1.0, -2.0], [np.nan, 0.5]], np.float32))
    assert small.dtype == np.float16 and np.isnan(small[1, 0])
    big = sent(np.array([[1e5, -2.0], [np.nan, np.inf]], np.float32))
    assert big.dtype == np.float32 and big[0, 0] == 1e5 and big[1, 1] == np.inf
    huge = sent(np.array([[1e308, 1.0]]))
    assert huge.dtype == np.float64 and huge[0, 0] == 1e308


def test_an_overlay_with_a_nan_legend_and_meta_is_strict_json():
    o = Overlay(
        "grid",
        "fc",
        "weight",
        {"values": np.full((2, 2), np.nan, np.float32), "colors": np.zeros((2, 2, 3), np.uint8)},
        {"colormap": "diverging", "lo": math.nan, "hi": math.inf},
        {"center_loss": math.nan},
    )
    buf = encode_overlays("landscape", 3, [o])
    strict(header_text(buf))
    _, (back,) = decode_overlays(buf)
    assert math.isnan(back.legend["lo"]) and back.legend["hi"] == math.inf
    assert math.isnan(back.meta["center_loss"])
