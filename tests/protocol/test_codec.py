import numpy as np
import pytest

from nnviz3d.protocol import PROTOCOL_VERSION, FrameError, decode_frame, encode_frame

ARRAYS = {
    "f4": np.arange(12, dtype=np.float32).reshape(4, 3) / 7,
    "f2": np.array([0.5, -2.0, 65504.0, 1e-5], np.float16),
    "u1": np.array([0, 127, 255], np.uint8),
    "u4": np.array([1, 2**32 - 1], np.uint32),
    "i4": np.array([[-5, 7]], np.int32),
    "empty": np.zeros((0, 3), np.float32),
    "big_endian": np.arange(5, dtype=">f4"),
}


def test_round_trip_every_dtype_zero_copy_and_aligned():
    buf = encode_frame({"type": "t", "step": 3}, ARRAYS)
    header, arrays = decode_frame(buf)
    assert header["type"] == "t" and header["step"] == 3
    for name, arr in ARRAYS.items():
        assert np.array_equal(arrays[name], arr) and arrays[name].shape == arr.shape, name
    for spec in header["arrays"]:
        assert spec["offset"] % 8 == 0
    assert arrays["f4"].base is not None  # a view into the frame, not a copy


def test_header_says_version_and_magic():
    buf = encode_frame({"type": "t"})
    assert buf[:4] == b"NV3D"
    assert int.from_bytes(buf[4:6], "little") == PROTOCOL_VERSION


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (
            lambda b: b[:4] + (PROTOCOL_VERSION + 1).to_bytes(2, "little") + b[6:],
            "protocol version",
        ),
        (lambda b: b[:8] + (10**6).to_bytes(4, "little") + b[12:], "runs past the end"),
        (lambda b: b[:40], "does not fit|runs past"),
        (lambda b: b[:5], "shorter"),
    ],
)
def test_corrupt_frames_fail_clearly(mutate, message):
    buf = encode_frame({"type": "t"}, {"a": np.arange(10, dtype=np.float32)})
    with pytest.raises(FrameError, match=message):
        decode_frame(mutate(buf))


def test_unsupported_dtype_is_refused():
    with pytest.raises(TypeError, match="dtype"):
        encode_frame({"type": "t"}, {"c": np.array([1 + 2j])})


def test_array_offsets_settle_across_digit_boundaries():
    # the header holds the arrays' absolute offsets, so its length depends on them: sizes
    # around 10**k put offsets on both sides of a digit boundary
    arrays = {f"a{i}": np.arange(i * 37 % 300, dtype=np.float32) for i in range(12)}
    for pad in range(0, 2400, 13):
        for header in (
            {"type": "t", "pad": "x" * pad},
            {"type": "t", "pad": "x" * pad, "v": 1e400},
        ):
            frame = encode_frame(header, arrays)
            back, got = decode_frame(frame)
            assert back["pad"] == header["pad"]
            for name, arr in arrays.items():
                assert np.array_equal(got[name], arr), (pad, name)
                assert got[name].ctypes.data % 8 == 0  # still aligned


def test_a_nonfinite_key_from_the_caller_is_not_trusted():
    frame = encode_frame({"type": "t", "nonfinite": {"x": "nan"}, "x": 1.0})
    back, _ = decode_frame(frame)
    assert back["x"] == 1.0 and "nonfinite" not in back
