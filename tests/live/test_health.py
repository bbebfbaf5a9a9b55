"""Deliberately broken training runs raise the right alarm at the right layer; a healthy run
raises none; each alarm is logged once."""

import numpy as np
import torch
from torch import nn

import nnviz3d
from nnviz3d import zoo
from nnviz3d.live.health import HealthMonitor, HealthThresholds


def run(model, steps, make_batch, lr=0.01, opt="sgd"):
    w = nnviz3d.watch(model, make_batch()[0][:1], serve=False, record=False, every=1, strict=True)
    optim = (torch.optim.SGD if opt == "sgd" else torch.optim.Adam)(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = make_batch()
        loss = (
            nn.functional.mse_loss(model(x).squeeze(-1), y)
            if y.dtype.is_floating_point
            else nn.functional.cross_entropy(model(x), y)
        )
        optim.zero_grad()
        loss.backward()
        optim.step()
        w.step(loss=loss.item())
    w.close()
    return w.health.history


def first(history, alarm):
    return next((a for a in history if a["alarm"] == alarm), None)


def test_huge_learning_rate_explodes_then_goes_nan(capsys, caplog):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    history = run(model, 40, lambda: (torch.randn(32, 20), torch.randn(32) * 10), lr=0.5)
    boom, nan = first(history, "exploding"), first(history, "nan")
    assert boom is not None and nan is not None
    assert boom["step"] < nan["step"]
    out = capsys.readouterr().out
    for a in history:  # logged once each, however many steps it held, and not printed
        assert caplog.text.count(a["message"]) == 1 and a["message"] not in out


def test_a_bias_that_kills_its_relus_is_dead_at_that_layer():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2)
    )
    with torch.no_grad():
        model[2].bias.fill_(-100.0)
    history = run(model, 3, lambda: (torch.randn(16, 8), torch.randint(0, 2, (16,))))
    dead = [a for a in history if a["alarm"] == "dead"]
    assert [a["module"] for a in dead] == ["3"]
    assert dead[0]["step"] == 0 and dead[0]["value"] == 1.0


def test_deep_sigmoid_stack_vanishes_at_the_bottom():
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 1))
    history = run(model, 3, lambda: (torch.randn(32, 16), torch.randn(32)))
    vanishing = {a["module"] for a in history if a["alarm"] == "vanishing"}
    assert "0" in vanishing and "40" not in vanishing  # first Linear yes, the head no


def test_a_healthy_run_raises_nothing():
    torch.manual_seed(0)
    model, _ = zoo.digits_cnn()
    model.train()
    history = run(
        model,
        40,
        lambda: (torch.randn(32, 1, 8, 8), torch.randint(0, 10, (32,))),
        lr=1e-3,
        opt="adam",
    )
    assert history == []


def test_stalled_layer_and_thresholds_are_configurable():
    reported = []
    mon = HealthMonitor(HealthThresholds(stalled_captures=2), report=reported.append)
    stats = np.zeros((1, 8), np.float32)
    stats[0, 1] = stats[0, 4] = 1.0  # std and norm of a healthy gradient
    for step in range(3):
        mon.check(
            step,
            {
                "grad": {"modules": ["fc"], "stats": stats},
                "weight": {
                    "modules": ["fc"],
                    "stats": stats,
                    "update": np.array([0.0 if step else np.nan]),
                },
            },
        )
    assert [a["alarm"] for a in mon.history] == ["stalled"] and len(reported) == 1


def broken_run(budget, seed=0, steps=30, every=None):
    """An MLP trained with a huge learning rate under the default schedule (or ``every``):
    it explodes, then turns NaN. Returns the alarms' (alarm, module, step), in order, and
    the watcher's probe coverage."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
    )
    data = [(torch.randn(32, 20), torch.randn(32) * 10) for _ in range(steps)]
    w = nnviz3d.watch(
        model, data[0][0][:1], serve=False, record=False, budget=budget, every=every, strict=True
    )
    optim = torch.optim.SGD(model.parameters(), lr=0.5)
    for x, y in data:
        loss = nn.functional.mse_loss(model(x).squeeze(-1), y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        w.step(loss=loss.item())
    w.close()
    return [(a["alarm"], a["module"], a["step"]) for a in w.health.history], w.stats()


def test_alarms_fire_at_the_same_steps_in_two_runs_whatever_the_schedule():
    """The same seed twice under the default budget, once with a budget so small that the
    gradient probe runs every 256 steps, and once probing everything every step: exploding,
    vanishing and NaN alarms name the same layers at the same steps in all four, because they
    are judged on the every-step gradient norms, not on the scheduled probes."""
    a, stats_a = broken_run(0.05)
    b, _ = broken_run(0.05)
    sparse, stats_sparse = broken_run(0.0001)
    dense, _ = broken_run(0.05, every=1)
    # every layer with gradients alarms at the same steps (layers without parameters, here
    # the ReLUs, are seen by activation probes only, when those run: the schedule's business)
    kept = {"exploding", "vanishing", "nan"}
    pick = [
        [x for x in run if x[0] in kept and x[1] in {"0", "2", "4"}]
        for run in (a, b, sparse, dense)
    ]
    assert pick[0] and {x[0] for x in pick[0]} >= {"exploding", "nan"}
    assert pick[0] == pick[1] == pick[2] == pick[3], pick
    # the sparse run really skipped gradient probes where alarms fired
    assert stats_sparse["coverage"]["grad"]["probes"] < stats_a["steps"]
    fired = {x[2] for x in pick[0]}
    assert fired - set(range(4)), "alarms only in the calibration steps prove nothing"


SCRIPT = """
import torch
from torch import nn
import nnviz3d
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
x = torch.randn(32, 20)
with nnviz3d.watch(model, x[:1], serve=False, record=RECORD) as w:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(20):
        loss = nn.functional.mse_loss(model(x).squeeze(-1), torch.randn(32) * 10)
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item(), note="not a number")
"""


def test_every_alarm_and_warning_is_said_once_on_stderr(tmp_path):
    """A real process with Python's default logging: a run that explodes, turns NaN and
    reports a bad metric at every step says each thing once, on stderr, nothing on stdout."""
    import subprocess
    import sys

    script = SCRIPT.replace("RECORD", repr(str(tmp_path / "run.nnv3d")))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert any("exploding" in ln for ln in lines) and any("NaN" in ln for ln in lines)
    assert sum("'note'" in ln for ln in lines) == 1
    assert len(lines) == len(set(lines)), lines
    said = [
        (ln.split(": ")[1], ln.split(" at step")[0].split(": ")[-1])
        for ln in lines
        if "nnviz3d health" in ln
    ]
    assert len(said) == len(set(said))  # one line per (layer, alarm)
    assert out.stdout == ""


def test_real_digits_under_adam_grow_their_gradients_without_an_alarm():
    """The digits CNN leaving its initialisation on real digits: its first layers' gradient
    norms grow ~3,000-fold over 280 healthy steps (0.003 to 10). A baseline that follows
    training (the median of the last 64 norms) stays quiet; the first three norms alone
    raised four 'exploding' alarms here."""
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    d = load_digits()
    xs = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16
    ys = torch.tensor(d.target)
    model, _ = zoo.digits_cnn()
    model.train()
    w = nnviz3d.watch(model, xs[:1], serve=False, record=False, strict=True)
    optim = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(300):
        b = torch.randint(0, len(xs), (64,))
        loss = nn.functional.cross_entropy(model(xs[b]), ys[b])
        optim.zero_grad()
        loss.backward()
        optim.step()
        w.step(loss=loss.item())
    w.close()
    assert loss.item() < 1.0  # it learned
    assert [a for a in w.health.history if a["alarm"] in ("exploding", "vanishing", "nan")] == []
