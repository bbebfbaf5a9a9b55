import numpy as np
import pytest

from nnviz3d.protocol.overlay_frame import decode_overlays, encode_overlays
from nnviz3d.scene.overlay import Overlay
from nnviz3d.scene.weight_map import bias_bars, weight_grid


def test_overlays_round_trip_with_arrays_legend_and_meta():
    w = np.arange(12, dtype=np.float32).reshape(3, 4) - 6
    overlays = [
        weight_grid("fc", w, full_shape=[3, 4], method="none"),
        bias_bars("fc", np.array([1, -2], np.float32), full_shape=[2], method="none"),
    ]
    header, back = decode_overlays(encode_overlays("weights", 7, overlays))
    assert header["step"] == 7 and header["channel"] == "weights"
    for a, b in zip(overlays, back):
        assert (a.kind, a.module, a.name, a.legend, a.meta) == (
            b.kind,
            b.module,
            b.name,
            b.legend,
            b.meta,
        )
        for role in a.arrays:
            np.testing.assert_array_equal(a.arrays[role], b.arrays[role])
            assert b.arrays[role].dtype == a.arrays[role].dtype


def test_unknown_channel_and_kind_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown overlay channel"):
        encode_overlays("bogus", 0, [])
    with pytest.raises(ValueError, match="unknown overlay kind"):
        Overlay("cube", "fc", "weight", {}, {})


def test_compact_frames_derive_exactly_what_the_builder_made():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(200, 150)).astype(np.float16).astype(np.float32)
    w[3, 4] = np.nan
    overlays = [
        weight_grid("fc", w, full_shape=[200, 150], method="none"),
        bias_bars("fc", rng.normal(size=7).astype(np.float16), full_shape=[7], method="none"),
    ]
    full = encode_overlays("weights", 1, overlays)
    compact = encode_overlays("weights", 1, overlays, compact=True)
    assert len(compact) < len(full) / 3
    header, back = decode_overlays(compact)
    assert set(header["luts"]) == {"diverging"} and len(header["luts"]["diverging"]) == 768
    for a, b in zip(overlays, back):
        for role in ("values", "colors", "heights"):
            np.testing.assert_array_equal(a.arrays[role], b.arrays[role])
