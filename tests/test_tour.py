"""The automatic tour of a recorded run: alarms first (at the step they were raised), then the
layers whose statistics changed most, with captions saying why; written as a recipe that loads
back, and offered by replay."""

import numpy as np
import pytest

from nnviz3d.cli import main
from nnviz3d.layout import layout_graph
from nnviz3d.protocol.messages import HIST_BINS, STAT_NAMES
from nnviz3d.protocol.probe_frame import encode_probe
from nnviz3d.recipe import load_recipe
from nnviz3d.record import RunReader, RunWriter
from nnviz3d.tour import auto_tour
from tests.conftest import zoo_graph

NORM, STD = STAT_NAMES.index("norm"), STAT_NAMES.index("std")
MODULES = ["stem.0", "block.conv1", "block.conv2", "head.1", "head.3"]


def kind(step, norms, stds):
    stats = np.zeros((len(MODULES), len(STAT_NAMES)), np.float32)
    stats[:, NORM] = norms
    stats[:, STD] = stds
    return {
        "step": step,
        "modules": MODULES,
        "stats": stats,
        "hist": np.zeros((len(MODULES), HIST_BINS), np.uint32),
        "range": np.zeros((len(MODULES), 2), np.float32),
    }


def write_run(path):
    """A digits-CNN run: block.conv2's gradients explode at step 3; head.1's weight norm grows
    10x and stem.0's activation std halves over the run; the rest stay put."""
    w = RunWriter(path, zoo_graph("digits_cnn"))
    alarm = {
        "alarm": "exploding",
        "module": "block.conv2",
        "step": 3,
        "value": 5e3,
        "kind": "grad",
        "message": "layer 'block.conv2': exploding gradients at step 3: "
        "norm 5e+03 is 5000x its baseline",
    }
    for step in range(6):
        u = step / 5
        weights = kind(step, [1, 1, 1, 1 + 9 * u, 1], [1, 1, 1, 1, 1])
        grads = kind(step, [0.1, 0.1, 0.1 * (1 + 9 * u), 0.1, 0.1], [1, 1, 1, 1, 1])
        acts = kind(step, [1] * 5, [1 - 0.5 * u, 1, 1, 1, 1])
        w.append(
            step,
            ["weight", "grad", "act"],
            "train",
            {"loss": 1.0},
            encode_probe(
                step,
                0.0,
                "train",
                {"loss": 1.0},
                {"weight": weights, "grad": grads, "act": acts},
                alarms=[alarm] if step >= 3 else [],
            ),
        )
    w.close()
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("run") / "r.nnv3d")


def test_alarms_first_then_the_layers_that_changed_most(run):
    stops = auto_tour(RunReader(run), changes=2)
    captions = [s["caption"] for s in stops]
    assert captions[0].startswith("DigitsCNN, steps 0..5: 1 health alarm, then the 2 layers")
    assert captions[1] == (
        "Health alarm: layer 'block.conv2': exploding gradients at step 3: "
        "norm 5e+03 is 5000x its baseline"
    )
    assert stops[1]["step"] == 3
    # head.1's weights grew 10x (log 2.3) > stem.0's activations halved (log 0.69); block.conv2
    # also changed 10x but is already on the tour for its alarm
    assert captions[2] == (
        "Changed most: head.1's weight norm grew 10x (1 at step 0 -> 10 at step 5)"
    )
    assert captions[3] == (
        "Changed most: stem.0's activation std fell to 0.5 of its start "
        "(1 at step 0 -> 0.5 at step 5)"
    )
    assert len(stops) == 4
    # each stop looks at its layer's block from the front-left, above
    layout = layout_graph(zoo_graph("digits_cnn"))
    for stop, module in zip(stops[1:], ["block.conv2", "head.1", "stem.0"]):
        center = layout.centers[layout.index(module)]
        assert stop["target"] == pytest.approx(center.tolist(), abs=1e-3)
        offset = np.subtract(stop["position"], stop["target"])
        assert offset[0] < 0 and offset[1] > 0 and np.linalg.norm(offset) >= 3 - 1e-3


def test_a_collapsed_layer_is_visited_through_the_group_holding_it(run):
    stops = auto_tour(RunReader(run), depth=1, changes=0)
    assert stops[1]["caption"].endswith("(inside block, collapsed)")
    layout = layout_graph(zoo_graph("digits_cnn"), 1)
    assert stops[1]["target"] == pytest.approx(
        layout.centers[layout.index("block")].tolist(), abs=1e-3
    )


def test_cli_writes_a_recipe_that_loads_back(run, tmp_path, capsys):
    out = tmp_path / "tour.toml"
    assert (
        main(
            [
                "tour",
                str(run),
                "-o",
                str(out),
                "--model",
                "nnviz3d.zoo:digits_cnn",
                "--changes",
                "1",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == f"{out}: 3 stops"
    recipe = load_recipe(out)
    assert recipe.model == "nnviz3d.zoo:digits_cnn" and len(recipe.tour) == 3
    assert recipe.tour[1]["step"] == 3 and "exploding" in recipe.tour[1]["caption"]
    assert recipe.tour == auto_tour(RunReader(run), changes=1)


def test_cli_refuses_a_file_that_is_not_a_run(tmp_path, capsys):
    bad = tmp_path / "x.nnv3d"
    bad.write_bytes(b"nope" * 10)
    assert main(["tour", str(bad), "-o", str(tmp_path / "t.toml")]) == 1
    err = capsys.readouterr().err
    assert "not an nnviz3d run" in err and "Traceback" not in err
