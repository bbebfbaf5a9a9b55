"""nnviz3d compare: two recorded runs overlaid, coloured by B - A."""

import numpy as np
import pytest
import torch

import nnviz3d
from nnviz3d.compare import CompareError, diff_frames
from nnviz3d.data.digits import load_digits_tensors
from nnviz3d.protocol.probe_frame import decode_probe
from nnviz3d.record import RunReader
from nnviz3d.zoo import DigitsCNN


def record_run(path, lr, steps=6, model=None, every=1):
    torch.manual_seed(0)
    (x, y), _ = load_digits_tensors()
    model = model or DigitsCNN()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    w = nnviz3d.watch(model, x[:1], record=path, serve=False, every=every, quiet=True)
    with w:
        for i in range(steps):
            loss = torch.nn.functional.cross_entropy(
                model(x[32 * i : 32 * i + 32]), y[32 * i : 32 * i + 32]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.step(loss=loss.item())
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return record_run(root / "a.nnv3d", 0.01), record_run(root / "b.nnv3d", 0.5)


def stats_at(path, step, kind):
    frames = RunReader(path).at_step(step)
    out = {}
    for data in frames:
        header, arrays = decode_probe(data)
        if kind in header["kinds"]:
            out = dict(zip(header["kinds"][kind]["modules"], arrays[f"{kind}_stats"]))
    return out


def test_overlay_frames_are_b_minus_a_per_layer(runs):
    a, b = runs
    frames, report = diff_frames(RunReader(a), RunReader(b))
    assert report["frames"] == 6 and not report["only_a"] and not report["only_b"]
    step, data = frames[3]
    header, arrays = decode_probe(data)
    assert header["compare"]["quantity"] == "B - A"
    sa, sb = stats_at(a, step, "weight"), stats_at(b, step, "weight")
    for row, module in enumerate(header["kinds"]["weight"]["modules"]):
        np.testing.assert_array_equal(arrays["weight_stats"][row], sb[module] - sa[module])
    norm = arrays["weight_stats"][:, 4]
    assert np.abs(norm).max() > 0  # the larger learning rate moved the weights further


def test_runs_of_different_architectures_are_refused(runs, tmp_path):
    other = record_run(
        tmp_path / "mlp.nnv3d",
        0.1,
        steps=2,
        model=torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)),
    )
    with pytest.raises(CompareError, match="share too few layers with parameters"):
        diff_frames(RunReader(runs[0]), RunReader(other))
    from nnviz3d.cli import main

    assert main(["compare", str(runs[0]), str(other), "--no-browser"]) == 1


def test_runs_with_the_same_settings_line_up_exactly(runs):
    frames, report = diff_frames(RunReader(runs[0]), RunReader(runs[1]))
    assert report["exact"] and report["max_offset"] == 0 and report["unaligned"] == 0
    for step, data in frames:
        aligned = decode_probe(data)[0]["compare"]["aligned"]
        assert aligned and all(ab == {"a": step, "b": step} for ab in aligned.values())


def test_runs_probed_at_other_steps_pair_with_the_nearest_step_within_the_tolerance(
    runs, tmp_path_factory
):
    from nnviz3d.compare.runs import say_aligned

    a = runs[0]  # every step 0..5
    # B probes every kind at 0 and 3, and close adds its final weights and gradients at 5
    b = record_run(tmp_path_factory.mktemp("coarse") / "b3.nnv3d", 0.5, every=3)
    frames, report = diff_frames(RunReader(a), RunReader(b))
    # half B's interval: each of A's probes pairs with B's nearest of that kind within 1 step;
    # A's activations at step 5 (2 from B's 3, the last) pair with none
    assert report["tolerance"] == 1 and report["max_offset"] == 1 and not report["exact"]
    assert [s for s, _ in frames] == [0, 1, 2, 3, 4, 5] and report["unaligned"] == 1
    assert "within ±1" in say_aligned(report)
    header, arrays = decode_probe(dict(frames)[2])
    assert header["compare"]["aligned"]["weight"] == {"a": 2, "b": 3}
    sa, sb = stats_at(a, 2, "weight"), stats_at(b, 3, "weight")
    for row, module in enumerate(header["kinds"]["weight"]["modules"]):
        np.testing.assert_array_equal(arrays["weight_stats"][row], sb[module] - sa[module])
    # a stated tolerance: 0 keeps only the common steps, a wide one pairs every step
    assert [s for s, _ in diff_frames(RunReader(a), RunReader(b), 0)[0]] == [0, 3, 5]
    assert len(diff_frames(RunReader(a), RunReader(b), 5)[0]) == 6
