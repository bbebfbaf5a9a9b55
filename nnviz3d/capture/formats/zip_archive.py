"""Which kind of torch zip archive a file is, from its entry names (read from the central
directory only: no entry is decompressed), and the checks every torch archive passes before
anything in it is read (:func:`check_zip`)."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from .errors import ModelFileError

ZIP_MAGIC = b"PK\x03\x04"
MAX_INFLATE = 4
"""Entries may not claim more than this many times the archive's size in all (zip bomb)."""
MIN_INFLATE_BYTES = 16 * 1024 * 1024
"""...except that a small archive may always claim this much."""
MAX_ENTRIES = 1_000_000
UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
"""Control characters and backslashes: no torch archive names an entry with them."""


def entry_names(path: Path) -> list[str] | None:
    """Entry names with the archive's top folder stripped, or ``None`` for an unreadable zip."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    return [n.partition("/")[2] or n for n in names]


def archive_kind(head: bytes, path: Path) -> str | None:
    """``"torchscript"``, ``"export"``, ``"state_dict"``, or ``None``."""
    if not head.startswith(ZIP_MAGIC):
        return None
    names = entry_names(path)
    if names is None:
        return None
    if "archive_format" in names or "models/model.json" in names:
        return "export"
    if "constants.pkl" in names or any(n.startswith("code/") for n in names):
        return "torchscript"
    if "data.pkl" in names:
        return "state_dict"
    return None


def inflate_limit(path: Path) -> int:
    """Bytes the entries of the archive at ``path`` may claim in all."""
    return max(os.path.getsize(path) * MAX_INFLATE, MIN_INFLATE_BYTES)


def check_zip(path: Path, expected: str) -> str:
    """The archive's top folder (``name/``) after refusing, in one sentence, a zip whose
    entries are not all plain names under that one folder, a name that appears twice (torch's
    reader and Python's would each take a different copy), or entries claiming more bytes than
    :func:`inflate_limit` allows."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFileError(
            f"{path}: expected {expected}; found a zip that does not read ({type(exc).__name__})"
        ) from None
    if not infos or len(infos) > MAX_ENTRIES:
        raise ModelFileError(f"{path}: expected {expected}; found {len(infos):,} entries")
    names = [i.filename for i in infos]
    top = names[0].partition("/")[0] + "/"
    seen: set[str] = set()
    for name in names:
        parts = name.split("/")
        if (
            UNSAFE_CHARS.search(name)
            or any(p in ("", ".", "..") for p in parts)
            or len(parts) < 2
            or not name.startswith(top)
        ):
            raise ModelFileError(
                f"{path}: expected {expected} whose entries are plain names "
                f"under one folder; found the entry {name[:80]!r}"
            )
        if name in seen:
            raise ModelFileError(
                f"{path}: expected {expected} with each entry once; found "
                f"{name[:80]!r} twice (a hostile file: two readers would "
                f"read different copies)"
            )
        seen.add(name)
    claimed = sum(i.file_size for i in infos)
    if claimed > inflate_limit(path):
        raise ModelFileError(
            f"{path}: expected {expected}; found entries claiming "
            f"{claimed:,} bytes in a file of {os.path.getsize(path):,} "
            f"(a zip bomb or corrupt file)"
        )
    return top


def torch_reader(path_or_buffer, path: Path, expected: str):
    """torch's own archive reader (``torch._C.PyTorchFileReader``), the one ``torch.load``
    and ``torch.export.load`` read with, after refusing names it lists twice."""
    import torch

    try:
        reader = torch._C.PyTorchFileReader(path_or_buffer)
        names = reader.get_all_records()
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelFileError(
            f"{path}: expected {expected}; found an archive torch cannot "
            f"read ({' '.join(str(exc).split())[:120]})"
        ) from None
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ModelFileError(
            f"{path}: expected {expected} with each entry once; found "
            f"{twice[:80]!r} twice (a hostile file: two readers would read "
            f"different copies)"
        )
    return reader, names
