"""``w.step(step=N)``: the loop's own global step. Gaps are fine (the schedule probes the first
step past each multiple), a repeated step merges its metrics, an earlier one is ignored and
said once; ``w.log`` reports metrics without a training step; ``capture_gradients`` takes
the gradients before a loop that zeroes them early."""

import pytest
import torch
from torch import nn

import nnviz3d
from nnviz3d.live.schedule import ProbeSchedule, due_between
from nnviz3d.record import RunReader


def model_and_watch(path, **kwargs):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    kwargs = {"serve": False, "quiet": True, "strict": True, **kwargs}
    return model, nnviz3d.watch(model, torch.randn(1, 4), record=path, **kwargs)


def train_step(model, zero_after=False):
    model.zero_grad()
    loss = model(torch.randn(8, 4)).pow(2).mean()
    loss.backward()
    if zero_after:  # as Hugging Face's Trainer: grads gone before the step is reported
        model.zero_grad(set_to_none=True)
    return loss.item()


def recorded(path):
    with RunReader(path) as reader:
        kinds: dict[str, set[int]] = {}
        for _, step, ks, _ in reader.frames():
            for k in ks:
                kinds.setdefault(k, set()).add(step)
        return kinds, reader.scalar_rows()


def test_due_between_is_the_modulo_rule_for_consecutive_steps():
    for n in (1, 2, 4, 8):
        for s in range(40):
            assert due_between(s - 1, s, n) == (s % n == 0)
    assert due_between(6, 10, 4) and not due_between(8, 11, 4) and due_between(-1, 0, 256)
    schedule = ProbeSchedule(every=4)
    assert schedule.due(5, "grad", prev=3) and not schedule.due(7, "grad", prev=5)


def test_explicit_steps_with_gaps_probe_the_first_step_past_each_multiple(tmp_path):
    path = tmp_path / "gaps.nnv3d"
    model, w = model_and_watch(path, every=4)
    steps = [0, 3, 5, 6, 10, 13, 16]
    with w:
        for s in steps:
            w.step(train_step(model), step=s)
    kinds, rows = recorded(path)
    assert [s for s, _, sc in rows if "loss" in sc] == steps
    assert kinds["weight"] == kinds["grad"] == {0, 5, 10, 13, 16}  # past 0, 4, 8, 12, 16
    assert {0, 5, 16} <= kinds["act"]  # armed for the guessed next step, or the one after
    assert w.stats()["steps"] == len(steps) and w.step_index == 16


def test_a_repeated_step_merges_its_metrics_without_probing_again(tmp_path):
    path = tmp_path / "same.nnv3d"
    model, w = model_and_watch(path, every=1)
    with w:
        w.step(train_step(model), step=3)
        w.step(accuracy=0.5, step=3)  # e.g. a second report at one global step
        w.step(train_step(model), step=4)
    kinds, rows = recorded(path)
    at3 = [sc for s, _, sc in rows if s == 3]
    assert len(at3) == 2 and "loss" in at3[0] and at3[1] == {"accuracy": 0.5}
    assert kinds["grad"] == {3, 4}
    assert w.stats()["steps"] == 2


def test_going_backwards_is_said_once_and_ignored(tmp_path, caplog):
    path = tmp_path / "back.nnv3d"
    model, w = model_and_watch(path, every=1, strict=False)
    with w:
        w.step(train_step(model), step=5)
        w.step(train_step(model), step=3)
        w.step(train_step(model), step=4)
        w.log({"val/acc": 1.0}, step=2)
        w.step(train_step(model), step=6)
    assert caplog.text.count("must not go backwards") == 1
    assert "step=3 came after step 5" in caplog.text
    _, rows = recorded(path)
    assert [s for s, _, _ in rows] == [5, 6]
    assert w.stats()["failures"] == 0
    _, strict = model_and_watch(None, every=1)
    strict.step(1.0, step=5)
    with pytest.raises(ValueError, match="must not go backwards"):
        strict.step(1.0, step=4)
    strict.close()


@pytest.mark.parametrize("bad", ["7", 2.5, True, -1])
def test_a_step_that_is_no_step_number_is_refused(bad, caplog):
    model, w = model_and_watch(None, strict=False)
    w.step(1.0, step=bad)
    w.step(1.0, step=bad)
    assert caplog.text.count("step=") == 1 and w.stats()["steps"] == 0
    w.close()
    _, strict = model_and_watch(None)
    with pytest.raises((TypeError, ValueError), match="step="):
        strict.step(1.0, step=bad)
    strict.close()


def test_log_reports_any_metric_names_without_a_training_step(tmp_path):
    path = tmp_path / "log.nnv3d"
    model, w = model_and_watch(path, every=1)
    with w:
        w.step(train_step(model), step=2)
        w.log({"val/acc": 0.9, "lr": 1e-3})  # at the newest step, 2
        w.log({"val/acc": 0.8}, step=4)  # ahead: step 4 still trains after it
        w.step(train_step(model), step=4)
        w.log({"loss": 0.1}, split="val")
        w.validation(0.2, step=4, **{"top-5": 0.7})
        with pytest.raises(ValueError, match="split"):
            w.log({"x": 1.0}, split="test")
    kinds, rows = recorded(path)
    assert [(s, split, sorted(sc)) for s, split, sc in rows] == [
        (2, "train", ["loss"]),
        (2, "train", ["lr", "val/acc"]),
        (4, "train", ["val/acc"]),
        (4, "train", ["loss"]),
        (4, "val", ["loss"]),
        (4, "val", ["loss", "top-5"]),
    ]
    assert kinds["grad"] == {2, 4} and w.stats()["steps"] == 2


def test_capture_gradients_sees_gradients_a_loop_zeroes_before_the_step(tmp_path):
    path = tmp_path / "early.nnv3d"
    model, w = model_and_watch(path, every=2)
    with w:
        for s in range(1, 7):
            model.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            w.capture_gradients(step=s)
            model.zero_grad(set_to_none=True)
            w.step(1.0, step=s)
    kinds, _ = recorded(path)
    assert kinds["grad"] == {1, 2, 4, 6}  # 1: the first step, past 0
    # without it the gradients are gone by then: no gradient probe, and no failure
    path2 = tmp_path / "late.nnv3d"
    model, w = model_and_watch(path2, every=2)
    with w:
        for s in range(1, 7):
            w.step(train_step(model, zero_after=True), step=s)
    kinds, _ = recorded(path2)
    assert "grad" not in kinds


def test_implicit_steps_are_unchanged(tmp_path):
    path = tmp_path / "plain.nnv3d"
    model, w = model_and_watch(path, every=2)
    with w:
        for _ in range(5):
            w.step(train_step(model))
    kinds, rows = recorded(path)
    assert [s for s, _, _ in rows] == [0, 1, 2, 3, 4]
    assert kinds["grad"] == {0, 2, 4} and kinds["act"] == {0, 2, 4}
