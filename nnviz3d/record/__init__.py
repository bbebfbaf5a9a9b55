"""SQLite recordings of runs and their replay."""

from .run_file import FORMAT_VERSION, SUFFIX, RunFileError, RunReader, RunWriter

__all__ = ["FORMAT_VERSION", "SUFFIX", "RunFileError", "RunReader", "RunWriter"]
