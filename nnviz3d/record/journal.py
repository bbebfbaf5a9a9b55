"""Which SQLite journal a recording uses: WAL on local disks, the rollback journal on network
filesystems.

WAL needs shared memory (the ``-shm`` file, mapped by every process) and POSIX locks that
network filesystems (NFS, SMB, sshfs, Ceph, Lustre...) do not give reliably: SQLite says not to
use WAL there (https://www.sqlite.org/wal.html). The rollback journal (``journal_mode=DELETE``)
only needs file locks, which those filesystems give as well as they can.

``record_journal`` (``watch(..., record_journal=)``, or the ``NNVIZ3D_RECORD_JOURNAL``
environment variable when the argument is ``"auto"``) is ``"wal"``, ``"rollback"`` or
``"auto"``: the filesystem type of the folder the recording goes to, from
``/proc/self/mountinfo`` (Linux; elsewhere ``auto`` means WAL), decides.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "NNVIZ3D_RECORD_JOURNAL"
CHOICES = ("auto", "wal", "rollback")
NETWORK_FS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "fuse.sshfs",
        "sshfs",
        "ceph",
        "fuse.ceph",
        "glusterfs",
        "fuse.glusterfs",
        "lustre",
        "gpfs",
        "9p",
        "beegfs",
        "afs",
        "ocfs2",
        "gfs2",
        "fuse.s3fs",
        "fuse.gcsfuse",
        "fuse.rclone",
        "fuse.juicefs",
        "davfs",
        "fuse.davfs2",
        "virtiofs",
        "fuse.blobfuse",
        "fuse.blobfuse2",
        "pvfs2",
        "orangefs",
        "fuse.lizardfs",
        "fuse.moosefs",
        "wekafs",
        "panfs",
        "quobyte",
        "fuse.quobyte",
        "vboxsf",
        "prl_fs",
    }
)
"""Filesystem types (mountinfo's field after the ``-``) where WAL is not used."""
MOUNTINFO = "/proc/self/mountinfo"


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit() and len(field) >= i + 4:
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts(text: str) -> list[tuple[str, str]]:
    """``(mount point, filesystem type)`` of each well-formed line of a mountinfo text."""
    out = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if sep < 5 or sep + 1 >= len(fields) or not fields[sep + 1]:
            continue
        out.append((_unescape(fields[4]), fields[sep + 1]))
    return out


def filesystem_type(path: str | Path, mountinfo: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (its deepest mount point that is a
    prefix of the resolved path), or None when unknown (no mountinfo: not Linux)."""
    if mountinfo is None:
        try:
            mountinfo = Path(MOUNTINFO).read_text(errors="replace")
        except OSError:
            return None
    target = Path(os.path.realpath(path))
    best, kind = -1, None
    for point, fstype in mounts(mountinfo):
        p = Path(point)
        if (target == p or p in target.parents) and len(p.parts) > best:
            best, kind = len(p.parts), fstype
    return kind


def journal_mode(path: str | Path, choice: str = "auto", mountinfo: str | None = None) -> str:
    """``"wal"`` or ``"rollback"`` for a recording at ``path`` (its folder is examined: the
    file may not exist yet)."""
    if choice == "auto":
        choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"record_journal must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice != "auto":
        return choice
    folder = Path(path).parent
    fstype = filesystem_type(folder if str(folder) else ".", mountinfo)
    return "rollback" if fstype in NETWORK_FS else "wal"
