"""Recordings named by URL (``s3://``, ``gs://``, ``file://``, ``memory://``...): fetched
through fsspec (when installed) into a local temporary file, since SQLite needs a real file.

A URL is untrusted like the file it names: the size it claims is checked against a cap before
anything is read, the download stops at the cap whatever was claimed, and a file that does not
start like an SQLite file is refused after its first bytes. Each problem is one
:class:`RunFileError` naming the URL. Copies are deleted when the process exits.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

from .run_file import SQLITE_MAGIC, SUFFIX, RunFileError

MAX_BYTES = 4 << 30
"""The largest recording fetched (4 GiB)."""
CHUNK = 1 << 20
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_copies: list[str] = []


def is_url(name: str) -> bool:
    """``scheme://...`` (a Windows path like ``C:\\x`` is not one)."""
    return bool(_URL.match(str(name)))


def local_copy(name: str, max_bytes: int = MAX_BYTES) -> str:
    """``name`` itself when it is a local path; for a URL, the path of a local copy."""
    if not is_url(name):
        return name
    try:
        import fsspec
    except ImportError:
        raise RunFileError(
            f"{name}: reading a recording from a URL needs fsspec "
            f"(pip install fsspec, plus s3fs or gcsfs for s3:// or gs://)"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(name)
        info = fs.info(path)
    except ImportError as exc:  # the scheme's own package (s3fs, gcsfs) is missing
        raise RunFileError(f"{name}: {exc}") from None
    except FileNotFoundError:
        raise RunFileError(f"{name}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - any backend's error, said in one line
        raise RunFileError(f"{name}: cannot be read ({type(exc).__name__}: {exc})") from None
    if info.get("type") not in (None, "file"):
        raise RunFileError(f"{name}: is a {info.get('type')}, not a recording")
    size = info.get("size")
    if not isinstance(size, int) or size < 0:
        raise RunFileError(f"{name}: the storage does not say its size; not fetched")
    if size > max_bytes:
        raise RunFileError(
            f"{name}: {size:,} bytes is more than the {max_bytes:,} a "
            f"recording may be fetched at; copy it locally first"
        )
    folder = tempfile.mkdtemp(prefix="nnviz3d-remote-")
    _copies.append(folder)
    local = Path(folder) / f"run{SUFFIX}"
    try:
        _download(fs, path, local, name, max_bytes)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return str(local)


def _download(fs, path: str, local: Path, name: str, max_bytes: int) -> None:
    done = 0
    try:
        with fs.open(path, "rb") as src, open(local, "wb") as dst:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                if done == 0 and not chunk.startswith(SQLITE_MAGIC[: len(chunk)]):
                    raise RunFileError(f"{name}: not a recording (not an SQLite file)")
                done += len(chunk)
                if done > max_bytes:
                    raise RunFileError(
                        f"{name}: more than {max_bytes:,} bytes (the cap on "
                        f"a fetched recording); copy it locally first"
                    )
                dst.write(chunk)
    except RunFileError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise RunFileError(f"{name}: download failed ({type(exc).__name__}: {exc})") from None
    if done < len(SQLITE_MAGIC):
        raise RunFileError(f"{name}: not a recording ({done} bytes)")


@atexit.register
def _remove_copies() -> None:
    for folder in _copies:
        shutil.rmtree(folder, ignore_errors=True)
