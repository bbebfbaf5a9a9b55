"""Serving in the foreground: what ``nnviz3d view``, ``replay``, ``compare`` and a finished
``demo`` do once the viewer is up."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("nnviz3d")


def serve_until_interrupted(handle) -> None:
    """Keep the process (and the server thread of ``handle``) alive until Ctrl-C, then close
    the handle. The KeyboardInterrupt goes on to the caller (the CLI exits with status 130)."""
    log.info("nnviz3d: press Ctrl-C to stop")
    try:
        threading.Event().wait()
    finally:
        handle.close()
