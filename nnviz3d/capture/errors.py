"""Errors raised by capture, each with one message that says what went wrong and what to do."""

from __future__ import annotations


class CaptureError(RuntimeError):
    """A model could not be captured. ``str(err)`` is the whole message, ready to print."""

    def __init__(
        self,
        message: str,
        *,
        attempts: list[tuple[str, str]] | None = None,
        module: str | None = None,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts or []
        """``(strategy, one-line reason)`` for every strategy tried."""
        self.module = module
        """Path of the module whose forward raised, when a strategy could tell."""
