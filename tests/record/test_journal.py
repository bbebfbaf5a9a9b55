"""Recordings on network filesystems use the rollback journal, never WAL (whose shared memory
and locks such filesystems do not give): detected from mountinfo, or forced."""

from __future__ import annotations

import sqlite3

import pytest

from nnviz3d.record import RunReader, RunWriter
from nnviz3d.record.journal import ENV, filesystem_type, journal_mode, mounts
from tests.conftest import zoo_graph
from tests.record.frames import probe_frame

MOUNTINFO = """\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
25 22 0:22 / /proc rw,nosuid - proc proc rw
40 22 0:40 / /mnt/shared rw,relatime shared:20 - nfs4 server:/export rw,vers=4.2
41 40 0:41 / /mnt/shared/local rw - tmpfs tmpfs rw
42 22 0:42 / /home/me/my\\040runs rw - fuse.sshfs me@host:/runs rw
43 22 0:43 / /lus rw - lustre 10.0.0.1@tcp:/fs rw
garbage line without separator
44 22 0:44 / /short - 
"""


def test_mountinfo_is_read_with_escapes_and_bad_lines_skipped():
    points = dict(mounts(MOUNTINFO))
    assert points["/mnt/shared"] == "nfs4" and points["/home/me/my runs"] == "fuse.sshfs"
    assert "/short" not in points


@pytest.mark.parametrize(
    "path, fstype, mode",
    [
        ("/mnt/shared/run.nnv3d", "nfs4", "rollback"),
        ("/mnt/shared/deep/er/run.nnv3d", "nfs4", "rollback"),
        ("/mnt/shared/local/run.nnv3d", "tmpfs", "wal"),  # the deepest mount point wins
        ("/mnt/sharedx/run.nnv3d", "ext4", "wal"),  # a prefix of the name is not a parent
        ("/home/me/my runs/a.nnv3d", "fuse.sshfs", "rollback"),
        ("/lus/project/a.nnv3d", "lustre", "rollback"),
        ("/tmp/a.nnv3d", "ext4", "wal"),
    ],
)
def test_network_filesystems_are_detected(path, fstype, mode, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert filesystem_type(path.rsplit("/", 1)[0], MOUNTINFO) == fstype
    assert journal_mode(path, "auto", MOUNTINFO) == mode


def test_the_option_and_the_environment_force_a_journal(monkeypatch):
    assert journal_mode("/mnt/shared/r.nnv3d", "wal", MOUNTINFO) == "wal"
    assert journal_mode("/tmp/r.nnv3d", "rollback", MOUNTINFO) == "rollback"
    monkeypatch.setenv(ENV, "rollback")
    assert journal_mode("/tmp/r.nnv3d", "auto", MOUNTINFO) == "rollback"
    assert journal_mode("/tmp/r.nnv3d", "wal", MOUNTINFO) == "wal"  # the argument wins
    with pytest.raises(ValueError, match="record_journal must be one of"):
        journal_mode("/tmp/r.nnv3d", "memory")
    monkeypatch.setenv(ENV, "nope")
    with pytest.raises(ValueError, match="'nope'"):
        journal_mode("/tmp/r.nnv3d")


def test_no_mountinfo_means_wal(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr("nnviz3d.record.journal.MOUNTINFO", str(tmp_path / "absent"))
    assert journal_mode(tmp_path / "r.nnv3d") == "wal"


@pytest.mark.parametrize("journal", ["rollback", "wal"])
def test_a_recording_with_either_journal_replays(tmp_path, journal):
    path = tmp_path / "r.nnv3d"
    w = RunWriter(path, zoo_graph("digits_cnn"), journal=journal)
    assert w.journal == journal
    mode = w.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == ("wal" if journal == "wal" else "delete")
    frames = [probe_frame(s, ["weight"], {"loss": 1.0 / (s + 1)}) for s in range(4)]
    for s, data in enumerate(frames[:2]):
        w.append(s, ["weight"], "train", {"loss": 1.0 / (s + 1)}, data)
    w.commit()
    with RunReader(path) as live:  # read while the run goes on
        assert live.at_step(5) == [frames[1]]
    if journal == "rollback":
        assert not (tmp_path / "r.nnv3d-wal").exists() and not (tmp_path / "r.nnv3d-shm").exists()
    for s, data in enumerate(frames[2:], 2):
        w.append(s, ["weight"], "train", {"loss": 1.0 / (s + 1)}, data)
    w.close()
    with RunReader(path) as r:
        assert [d for *_, d in r.frames()] == frames
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_watch_takes_record_journal(tmp_path):
    import torch

    import nnviz3d

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    x = torch.randn(2, 3)
    with nnviz3d.watch(
        model,
        x,
        record=tmp_path / "r.nnv3d",
        serve=False,
        every=1,
        record_journal="rollback",
        strict=True,
    ) as w:
        assert w._recorder.journal == "rollback"
        for _ in range(3):
            model(x).sum().backward()
            w.step(loss=1.0)
    with RunReader(w.record_path) as r:
        assert r.summary()["steps"] == 3
    with pytest.raises(ValueError, match="record_journal must be one of"):
        nnviz3d.watch(
            model, x, record=tmp_path / "s.nnv3d", serve=False, record_journal="sometimes"
        )
    assert not (tmp_path / "s.nnv3d").exists()
