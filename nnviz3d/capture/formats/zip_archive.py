"""Which kind of torch zip archive a file is, from its entry names (read from the central
directory only: no entry is decompressed)."""

from __future__ import annotations

import zipfile
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"


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
