"""Loss landscapes (Li et al. 2018) on real torch models: a convex bowl with a closed form,
exact weight restoration, filter normalisation, trajectory PCA, the .npz file and the CLI."""

import itertools
import json
import math
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from nnviz3d.analysis.landscape import (
    Landscape,
    LandscapeFileError,
    filter_normalised_direction,
    loss_landscape,
    project_trajectory,
)
from nnviz3d.cli import main


class Quadratic(nn.Module):
    """A "model" whose loss is vec(W - C)^T A vec(W - C), with the weights at the minimum."""

    def __init__(self, rows: int = 3, cols: int = 4) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        c = torch.randn(rows, cols, generator=g, dtype=torch.float64)
        m = torch.randn(rows * cols, rows * cols, generator=g, dtype=torch.float64)
        self.weight = nn.Parameter(c.clone())
        self.register_buffer("c", c)
        self.register_buffer(
            "a", m @ m.T + rows * cols * torch.eye(rows * cols, dtype=torch.float64)
        )

    def loss(self) -> torch.Tensor:
        e = (self.weight - self.c).flatten()
        return e @ self.a @ e


def quadratic_loss(model):
    return model.loss()


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def mlp_loss_fn():
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    return lambda m: nn.functional.cross_entropy(m(x), y)


def test_convex_quadratic_is_a_bowl_matching_the_closed_form():
    model = Quadratic()
    land = loss_landscape(model, quadratic_loss, steps=9, span=0.5, seed=3)
    g = torch.Generator().manual_seed(3)
    d1 = filter_normalised_direction(model, g)[0].flatten()
    d2 = filter_normalised_direction(model, g)[0].flatten()
    expected = np.empty((9, 9))
    for i, b in enumerate(land.betas):
        for j, a in enumerate(land.alphas):
            e = a * d1 + b * d2
            expected[i, j] = float(e @ model.a @ e)
    np.testing.assert_allclose(land.losses, expected, rtol=1e-5, atol=1e-5)
    assert land.losses.shape == (9, 9) and land.center_loss == 0.0
    assert land.minimum() == (0.0, 0.0, 0.0)
    assert np.unravel_index(land.losses.argmin(), land.losses.shape) == (4, 4)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                ray = [land.losses[4 + k * di, 4 + k * dj] for k in range(5)]
                assert all(u < v for u, v in itertools.pairwise(ray)), (di, dj, ray)
    assert land.directions == "filter-normalised Gaussian, seed 3" and land.nonfinite == 0
    assert land.seconds_per_point == pytest.approx(land.seconds / 81)


def test_given_directions_and_grid_orientation():
    """Rows are betas, columns alphas: a loss that only depends on alpha varies along rows."""
    model = Quadratic(1, 2)
    d1 = [torch.tensor([[1.0, 0.0]], dtype=torch.float64)]
    d2 = [torch.tensor([[0.0, 1.0]], dtype=torch.float64)]
    land = loss_landscape(
        model, lambda m: float(m.weight[0, 0] - m.c[0, 0]), steps=3, directions=(d1, d2)
    )
    np.testing.assert_allclose(land.losses, [[-1, 0, 1]] * 3)
    assert land.directions == "given directions"
    with pytest.raises(ValueError, match="shape"):
        loss_landscape(model, quadratic_loss, steps=3, directions=([torch.zeros(3)], d2))


def state_of(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_bit_for_bit(model, before):
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def test_weights_and_modes_are_restored_exactly():
    model, loss_fn = mlp(), mlp_loss_fn()
    model.train()
    model[1].eval()
    before, modes = state_of(model), [m.training for m in model.modules()]
    seen, calls = [], []
    land = loss_landscape(
        model,
        lambda m: (seen.append(m.training), loss_fn(m))[1],
        steps=5,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert_bit_for_bit(model, before)
    assert [m.training for m in model.modules()] == modes
    assert not any(seen), "the loss is evaluated in eval mode"
    assert calls == [(k, 25) for k in range(1, 26)]
    assert np.isfinite(land.losses).all() and land.center_loss > 0


def test_weights_are_restored_when_loss_fn_raises_midway():
    model, loss_fn = mlp(), mlp_loss_fn()
    before, calls = state_of(model), []

    def failing(m):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("data loader broke")
        return loss_fn(m)

    with pytest.raises(RuntimeError, match="data loader broke"):
        loss_landscape(model, failing, steps=5)
    assert_bit_for_bit(model, before)
    assert model.training


def test_nonfinite_losses_become_nan_and_are_counted():
    model = Quadratic()
    bad = {0: math.nan, 1: math.inf, 2: -math.inf}
    calls = []

    def loss_fn(m):
        calls.append(1)
        return bad.get(len(calls) - 2, m.loss())  # call 1 is the centre

    land = loss_landscape(model, loss_fn, steps=3)
    assert land.nonfinite == 3 and np.isnan(land.losses[0]).all()
    assert np.isfinite(land.losses[1:]).all()
    assert land.summary()["nonfinite"] == 3


def test_filter_normalisation():
    model = nn.Sequential(nn.Conv2d(2, 5, 3), nn.BatchNorm2d(5), nn.Flatten(), nn.Linear(5, 4))
    d = filter_normalised_direction(model, torch.Generator().manual_seed(0))
    params = list(model.parameters())
    assert [x.shape for x in d] == [p.shape for p in params]
    for x, p in zip(d, params):
        if p.dim() >= 2:
            torch.testing.assert_close(x.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
            assert not torch.allclose(x, p.detach())
        else:
            assert torch.count_nonzero(x) == 0, "biases and BatchNorm parameters get 0"
    again = filter_normalised_direction(model, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(d, again))


def test_trajectory_on_a_known_plane_is_recovered():
    g = np.random.default_rng(0)
    final = g.normal(size=50)
    u, v = np.linalg.qr(g.normal(size=(50, 2)))[0].T
    t = np.linspace(-1, 1, 9)
    x, y = 3 * t, 0.5 * (t**2 - (t**2).mean())  # uncorrelated, distinct variances
    snapshots = [torch.tensor(final + a * u + b * v) for a, b in zip(x, y)]
    coords, pca = project_trajectory(snapshots, torch.tensor(final))
    np.testing.assert_allclose(np.abs(coords), np.abs(np.stack([x, y], 1)), atol=1e-9)
    assert coords[0, 0] >= 0 and coords[0, 1] >= 0
    assert pca.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert pca.explained_variance_ratio[0] > pca.explained_variance_ratio[1]
    np.testing.assert_allclose(np.linalg.norm(pca.vectors, axis=1), 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        project_trajectory(snapshots[:1], final)


def test_trajectory_of_state_dicts_drives_the_landscape_directions():
    model = Quadratic(2, 3)
    final = model.weight.detach().clone()
    g = torch.Generator().manual_seed(0)
    u, v = torch.randn(2, 2, 3, generator=g, dtype=torch.float64)
    snapshots = [{"weight": final + k * u + (k % 3) * v, "c": model.c} for k in range(5, 0, -1)]
    land = loss_landscape(model, quadratic_loss, steps=5, span=None, trajectory=snapshots)
    assert land.directions.startswith("PCA of 5 trajectory snapshots")
    traj = land.trajectory
    assert traj.coords.shape == (5, 2) and traj.losses.shape == (5,)
    assert traj.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert land.alphas[-1] == pytest.approx(1.2 * np.abs(traj.coords).max())
    for (_a, _b), loss, snap in zip(traj.coords, traj.losses, snapshots):
        e = (snap["weight"] - model.c).flatten()  # the snapshots lie in the plane
        assert loss == pytest.approx(float(e @ model.a @ e), rel=1e-9)
    assert torch.equal(model.weight.detach(), final)


def test_save_and_load_round_trip(tmp_path):
    model = Quadratic()
    land = loss_landscape(
        model,
        quadratic_loss,
        steps=3,
        trajectory=[
            model.weight.detach() + 1,
            model.weight.detach() + torch.eye(3, 4, dtype=torch.float64),
        ],
    )
    path = land.save(tmp_path / "sub" / "bowl")
    assert path == tmp_path / "sub" / "bowl"  # exactly the path given, no suffix added
    back = Landscape.load(path)
    for key in ("alphas", "betas", "losses"):
        np.testing.assert_array_equal(getattr(back, key), getattr(land, key))
    assert (back.center_loss, back.directions, back.nonfinite) == (
        land.center_loss,
        land.directions,
        land.nonfinite,
    )
    np.testing.assert_array_equal(back.trajectory.coords, land.trajectory.coords)
    assert back.summary() == land.summary()


def test_load_rejects_what_is_not_a_landscape(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(LandscapeFileError, match="not a loss landscape"):
        Landscape.load(text)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(LandscapeFileError, match="no 'nnviz3d-landscape' format key"):
        Landscape.load(other)
    newer = tmp_path / "newer.npz"
    np.savez(newer, format=np.array("nnviz3d-landscape"), version=np.array(99))
    with pytest.raises(LandscapeFileError, match="version 99"):
        Landscape.load(newer)
    with pytest.raises(LandscapeFileError, match="no such file"):
        Landscape.load(tmp_path / "missing.npz")


SPEC_FILE = """
import torch
from torch import nn


def _parts():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    return model, lambda m: nn.functional.cross_entropy(m(x), y)


def pair():
    return _parts()


def with_snapshots():
    model, loss_fn = _parts()
    final = nn.utils.parameters_to_vector(model.parameters()).detach()
    g = torch.Generator().manual_seed(1)
    u, v = torch.randn(2, final.numel(), generator=g)
    snaps = [final + k * 0.1 * u + (k % 2) * 0.05 * v for k in range(4, -1, -1)]
    return {"model": model, "loss_fn": loss_fn, "snapshots": snaps}


def module_only():
    return _parts()[0]


def no_loss():
    return {"model": _parts()[0]}
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(textwrap.dedent(SPEC_FILE))
    return path


def test_cli_writes_a_landscape_that_loads_back(spec_file, tmp_path, capsys):
    out = tmp_path / "tiny.npz"
    assert main(["landscape", f"{spec_file}:pair", "--steps", "5", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Sequential: 5x5 grid" in captured.out and "centre loss" in captured.out
    assert "ms per point" in captured.out and f"wrote {out}" in captured.out
    assert "landscape 25/25 points" in captured.err
    land = Landscape.load(out)
    assert land.losses.shape == (5, 5) and land.trajectory is None


def test_cli_json_with_a_trajectory(spec_file, tmp_path, capsys):
    out = tmp_path / "traj.npz"
    assert (
        main(["landscape", f"{spec_file}:with_snapshots", "--steps", "3", "--json", "-o", str(out)])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["file"] == str(out) and doc["model"] == "Sequential" and doc["steps"] == 3
    assert doc["directions"].startswith("PCA of 5") and doc["trajectory"]["points"] == 5
    assert doc["min_loss"] <= doc["center_loss"] <= doc["max_loss"]
    assert Landscape.load(out).trajectory.coords.shape == (5, 2)


@pytest.mark.parametrize(
    "attr, message",
    [
        (
            "module_only",
            ("module_only() returned Sequential; a landscape SPEC must return (model, loss_fn)"),
        ),
        ("no_loss", "returned a dict without loss_fn"),
        ("missing", "has no attribute"),
    ],
)
def test_cli_bad_spec_is_a_clear_error(spec_file, tmp_path, capsys, attr, message):
    assert main(["landscape", f"{spec_file}:{attr}", "-o", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nnviz3d: error: bad SPEC") and message in err
    assert "Traceback" not in err and not (tmp_path / "x.npz").exists()


def test_cli_recording_needs_the_model(tmp_path, capsys):
    assert main(["landscape", str(tmp_path / "run.nnv3d")]) == 2
    err = capsys.readouterr().err
    assert "is a recording" in err and "statistics, not weights" in err and "SPEC" in err


def test_cli_needs_a_spec_or_demo(capsys):
    assert main(["landscape"]) == 2
    assert "SPEC or --demo" in capsys.readouterr().err


def test_digits_demo_trains_and_keeps_a_trajectory():
    from nnviz3d.analysis.landscape import digits_demo

    demo = digits_demo(steps=30, snapshots=10)
    assert type(demo["model"]).__name__ == "DigitsCNN" and not demo["model"].training
    assert len(demo["snapshots"]) == 11  # the initial weights, then every 3 of 30 steps
    land = loss_landscape(
        demo["model"], demo["loss_fn"], steps=3, span=None, trajectory=demo["snapshots"]
    )
    assert land.trajectory.coords[-1] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert land.losses[1, 1] == land.center_loss < land.trajectory.losses[0]


def test_cli_module_spec_of_inspect_is_explained(capsys):
    assert main(["landscape", "nnviz3d.zoo:digits_cnn"]) == 1
    err = capsys.readouterr().err
    assert "loss_fn is a Tensor, not a callable" in err and "inspect and view" in err


def test_directions_and_trajectory_together_are_refused():
    model = Quadratic(1, 2)
    d = [torch.ones(1, 2, dtype=torch.float64)]
    with pytest.raises(ValueError, match="not both"):
        loss_landscape(
            model, quadratic_loss, directions=(d, d), trajectory=[torch.zeros(2), torch.ones(2)]
        )
