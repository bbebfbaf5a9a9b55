"""SQLite recordings of runs and their replay."""

from .run_file import FORMAT_VERSION, SUFFIX, RunFileError, RunWriter
from .run_reader import RunReader

__all__ = ["FORMAT_VERSION", "SUFFIX", "RunFileError", "RunReader", "RunWriter"]
