"""Unlucky runs: ``watch`` meets odd metrics, name collisions, a read-only folder, its own
misuse; training always goes on, the recording keeps every frame it can, and each problem is
said once, through logging."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from torch import nn

import nnviz3d
from nnviz3d.record import RunReader


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), torch.randn(1, 4)


def train(model, w, steps: int, **metrics):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(steps):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        w.step(loss=loss.item(), **metrics)


def probe_steps(path) -> list[int]:
    """The steps with probes, each once (close adds a frame at the last step with the final
    weight maps the schedule did not take there)."""
    return list(dict.fromkeys(step for _, step, kinds, _ in RunReader(path).frames() if kinds))


def said(caplog, words: str) -> int:
    return sum(words in r.getMessage() for r in caplog.records if r.name == "nnviz3d")


def test_two_default_named_runs_in_the_same_second_both_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda *_: "20250101-000000")
    model, x = tiny()
    a = nnviz3d.watch(model, x, serve=False, every=1, health=False)
    b = nnviz3d.watch(model, x, serve=False, every=1, health=False)
    c = nnviz3d.watch(model, x, record=tmp_path / "runs", serve=False, every=1, health=False)
    train(model, a, 2)
    for w in (a, b, c):
        w.close()
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == [
        "Sequential-20250101-000000-2.nnv3d",
        "Sequential-20250101-000000-3.nnv3d",
        "Sequential-20250101-000000.nnv3d",
    ]
    assert probe_steps(a.record_path) == [0, 1] and a.record_path != b.record_path
    assert RunReader(b.record_path).summary()["frames"] == 0


def hooked(model) -> bool:
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_an_explicit_name_that_exists_is_still_an_error_and_leaves_nothing(tmp_path):
    model, x = tiny()
    nnviz3d.watch(model, x, record=tmp_path / "r", serve=False).close()
    with pytest.raises(FileExistsError, match="already exists; choose another record= name"):
        nnviz3d.watch(model, x, record=tmp_path / "r", serve=False)
    assert not hooked(model)  # the failed watch() took its probes off the model again


def test_a_watch_that_fails_half_way_undoes_what_it_started(tmp_path):
    model, x = tiny()
    with pytest.raises(ValueError, match="embed= names no module"):
        nnviz3d.watch(
            model, x, record=tmp_path / "r", serve=False, inputs=torch.randn(4, 4), embed="nope"
        )
    assert not hooked(model)
    assert os.listdir(tmp_path) == []  # no recording of a run that never started


def read_only_folder(tmp_path):
    """A folder nothing can be created in (chmod is not enough for root: then /sys)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        return folder
    (folder / "probe").unlink()
    try:
        open("/sys/nnviz3d-probe", "w").close()
    except OSError:
        return "/sys"
    pytest.skip("no read-only folder to be found here")


def test_a_read_only_folder_warns_once_and_trains_unrecorded(tmp_path, caplog):
    model, x = tiny()
    folder = read_only_folder(tmp_path)
    with caplog.at_level(logging.WARNING, logger="nnviz3d"):
        w = nnviz3d.watch(
            model, x, record=os.path.join(folder, "r.nnv3d"), serve=False, every=1, health=False
        )
        train(model, w, 3)
        w.close()
    assert w.record_path is None and w.stats()["frames"] == 3 + 1  # + the final probe
    assert said(caplog, "cannot record to") == 1
    assert said(caplog, "training goes on without a recording") == 1
    with pytest.raises(OSError):
        nnviz3d.watch(model, x, record=os.path.join(folder, "r.nnv3d"), serve=False, strict=True)


def test_an_odd_metric_is_dropped_alone_and_every_frame_kept(tmp_path, caplog):
    """One non-numeric metric used to make every step's probe frame fail: none recorded."""
    model, x = tiny()
    path = tmp_path / "m.nnv3d"
    odd = {"note": "abc", "pair": torch.ones(2), "cplx": 1j, "": 1.0, "n" * 300: 2.0}
    fine = {
        "t0": torch.tensor(0.5),
        "t1": torch.tensor([0.75]),
        "np": np.float32(0.25),
        "npi": np.int64(3),
        "flag": True,
        "skipped": None,
        "nan": math.nan,
        "inf": -math.inf,
    }
    with caplog.at_level(logging.WARNING, logger="nnviz3d"):
        with nnviz3d.watch(model, x, record=path, serve=False, every=1, health=False) as w:
            train(model, w, 4, **odd, **fine)
            w.validation(loss=1.5, note="abc", accuracy=np.float64(0.5))
    assert probe_steps(path) == [0, 1, 2, 3]
    rows = RunReader(path).scalar_rows()
    assert [split for _, split, _ in rows] == ["train"] * 4 + ["val"]
    first = rows[0][2]
    assert set(first) == {"loss", "t0", "t1", "np", "npi", "flag", "nan", "inf"}
    assert (first["t0"], first["t1"], first["np"], first["npi"], first["flag"]) == (
        0.5,
        0.75,
        0.25,
        3.0,
        1.0,
    )
    assert math.isnan(first["nan"]) and first["inf"] == -math.inf  # recorded, not dropped
    assert rows[-1][2] == {"loss": 1.5, "accuracy": 0.5}
    for name in ("'note'", "'pair'", "'cplx'", "''", "'nnnnn"):
        assert said(caplog, f"metric {name}") == 1, (name, caplog.text)
    assert w.stats()["failures"] == 0


def test_strict_mode_raises_on_an_odd_metric():
    model, x = tiny()
    w = nnviz3d.watch(model, x, record=False, serve=False, strict=True)
    with pytest.raises(TypeError, match="metric 'note' is not recorded"):
        w.step(loss=1.0, note="abc")
    w.close()


def test_alarms_and_warnings_are_said_once_on_stderr(tmp_path):
    """No logging configured: each message once, on stderr (Python's last-resort handler),
    never also printed to stdout."""
    script = textwrap.dedent(f"""
        import torch, nnviz3d
        from torch import nn
        torch.manual_seed(0)
        m = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))
        w = nnviz3d.watch(m, torch.randn(1, 20), record={str(tmp_path / "r")!r}, serve=False,
                          every=1)
        opt = torch.optim.SGD(m.parameters(), lr=0.5)
        for i in range(30):
            loss = (m(torch.randn(32, 20)).squeeze(-1) - torch.randn(32) * 10).pow(2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
            w.step(loss=loss.item(), note="abc")
        w.close()
        print("trained", flush=True)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "trained"  # nothing else on stdout
    lines = [line for line in proc.stderr.splitlines() if line.startswith("nnviz3d")]
    alarms = [line for line in lines if line.startswith("nnviz3d health:")]
    assert alarms and len(alarms) == len(set(alarms)), proc.stderr
    assert sum("metric 'note'" in line for line in lines) == 1


def test_close_twice_and_a_failing_with_block_close_the_run_cleanly(tmp_path, caplog):
    model, x = tiny()
    path = tmp_path / "e.nnv3d"
    with pytest.raises(ZeroDivisionError):
        with nnviz3d.watch(model, x, record=path, serve=False, every=1, health=False) as w:
            train(model, w, 3)
            1 / 0  # noqa: B018 - the user's own bug, inside the with-block
    w.close()
    assert probe_steps(path) == [0, 1, 2]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert not os.path.exists(f"{path}-wal")  # closed and whole: one file again


def test_a_failing_close_does_not_hide_the_users_exception(tmp_path, caplog):
    model, x = tiny()
    with pytest.raises(KeyError, match="users own"):
        with nnviz3d.watch(model, x, record=tmp_path / "f", serve=False, every=1) as w:
            train(model, w, 2)

            def broken(*_):
                raise RuntimeError("flush failed")

            w.worker.close = broken
            raise KeyError("users own")
    assert said(caplog, "could not flush the recording at close") == 1
    assert all(not m._forward_hooks for m in model.modules())  # the rest still closed


def test_two_watchers_on_one_model_each_record_everything(tmp_path):
    model, x = tiny()
    a = nnviz3d.watch(
        model, x, record=tmp_path / "a", serve=False, every=1, health=False, strict=True
    )
    b = nnviz3d.watch(
        model, x, record=tmp_path / "b", serve=False, every=1, health=False, strict=True
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(3):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        a.step(loss=loss.item())
        b.step(loss=loss.item())
    a.close()
    b.close()
    assert probe_steps(a.record_path) == probe_steps(b.record_path) == [0, 1, 2]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
