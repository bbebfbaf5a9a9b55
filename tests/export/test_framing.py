"""The presentation camera (glTF camera node and notebook widget): every block corner inside
the frame, the model filling it, seen from above with data flowing left to right, for any shape
of layout (long, folded into rows, a single block)."""

import math

import numpy as np
import pytest

from nnviz3d.export.framing import FIT_ASPECT, SLIDE_ASPECT, frame_points, frame_scene, scene_points
from nnviz3d.export.gltf import view_scene
from tests.conftest import zoo_graph


def rotation_of(q) -> np.ndarray:
    """3x3 rotation of a unit quaternion (x, y, z, w), written out independently."""
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def ndc(points, position, quaternion, yfov, aspect):
    """Normalised device coordinates and depth of ``points`` seen by a camera at ``position``
    with ``quaternion`` (glTF/three.js: the camera looks along its local -z, y up)."""
    r = rotation_of(quaternion)
    local = (np.asarray(points, np.float64) - position) @ r  # world -> camera axes
    depth = -local[:, 2]
    t = math.tan(yfov / 2)
    return np.stack([local[:, 0] / (depth * t * aspect), local[:, 1] / (depth * t)], 1), depth


def folded(rows=4, per_row=30):
    """Block corners of a layout folded into rows stacked along x (as long models will be)."""
    centres = [(3.0 * r, 0.5, 1.2 * k) for r in range(rows) for k in range(per_row)]
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    return (np.array(centres)[:, None] + corners[None] * [1.0, 1.0, 0.6]).reshape(-1, 3)


SHAPES = {
    "digits_cnn": lambda: scene_points(view_scene(zoo_graph("digits_cnn"))),
    "gpt2": lambda: scene_points(view_scene(zoo_graph("gpt2"))),
    "gpt2_depth2": lambda: scene_points(view_scene(zoo_graph("gpt2"), depth=2)),
    "folded": folded,
    "one_block": lambda: np.array(
        [[x, y, z] for x in (-0.3, 0.3) for y in (0, 0.6) for z in (-0.2, 0.2)]
    ),
    "tall": lambda: np.array(
        [[x, y, z] for x in (-0.5, 0.5) for y in (0, 20) for z in (-0.5, 0.5)]
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("aspect", [SLIDE_ASPECT, FIT_ASPECT])
def test_every_corner_is_in_the_frame_and_the_model_fills_it(shape, aspect):
    points = SHAPES[shape]()
    f = frame_points(points)
    xy, depth = ndc(points, f.position, f.quaternion(), f.yfov, aspect)
    assert np.all(depth > f.near) and np.all(depth < f.far)
    assert np.all(np.abs(xy) <= 1.0 + 1e-9)
    span = xy.max(0) - xy.min(0)  # of 2: the frame's full width and height
    assert max(span[0], span[1]) / 2 >= (0.85 if aspect == FIT_ASPECT else 0.75), span
    # centred on the side that does not bind
    assert np.allclose((xy.max(0) + xy.min(0)) / 2, 0, atol=0.02)


@pytest.mark.parametrize("shape", ["digits_cnn", "gpt2", "folded"])
def test_a_three_quarter_view_from_above_with_data_flowing_left_to_right(shape):
    points = SHAPES[shape]()
    f = frame_points(points)
    r = rotation_of(f.quaternion())
    assert np.allclose(r, f.rotation, atol=1e-9)
    forward, up = -r[:, 2], r[:, 1]
    assert up[1] > 0.5  # upright
    elevation = math.degrees(math.asin(-forward[1]))
    assert 25 <= elevation <= 60
    assert abs(forward[0]) > 0.3 and abs(forward[2]) > 0.1  # neither side-on nor head-on
    first = points[points[:, 2] <= points[:, 2].min() + 0.5]
    last = points[points[:, 2] >= points[:, 2].max() - 0.5]
    xy_first, _ = ndc(first, f.position, f.quaternion(), f.yfov, SLIDE_ASPECT)
    xy_last, _ = ndc(last, f.position, f.quaternion(), f.yfov, SLIDE_ASPECT)
    assert xy_first[:, 0].mean() < xy_last[:, 0].mean()


def test_target_lies_on_the_view_axis_inside_the_model_depth():
    points = SHAPES["digits_cnn"]()
    f = frame_points(points)
    axis = f.target - f.position
    assert np.allclose(axis / np.linalg.norm(axis), f.forward)
    _, depth = ndc(points, f.position, f.quaternion(), f.yfov, SLIDE_ASPECT)
    assert depth.min() < np.linalg.norm(axis) < depth.max()


def test_an_empty_or_non_finite_scene_still_gets_a_camera():
    f = frame_points(np.array([[np.nan, 0, 0], [np.inf, 1, 1]]))
    assert np.all(np.isfinite(f.position)) and np.all(np.isfinite(f.quaternion()))
    scene = view_scene(zoo_graph("digits_cnn"))
    assert np.allclose(frame_scene(scene).position, frame_points(scene_points(scene)).position)
