"""Serve a recorded run exactly as the live view showed it: same scene, same frames."""

from __future__ import annotations

from .record import RunReader


def serve_replay(reader: RunReader, *, depth=None, host="127.0.0.1", port=None,
                 open_browser=True, quiet=False):
    """Load the run's graph and frames into a server; returns the view handle."""
    from .server import LiveFeed
    from .viewer import view

    path = reader.path
    feed = LiveFeed(reader_factory=lambda: RunReader(path), live=False)
    for _, step, kinds, data in reader.frames():
        feed.ingest(data, step, kinds)
    feed.scalar_rows = reader.scalar_rows()
    return view(graph=reader.graph(), depth=depth, host=host, port=port,
                open_browser=open_browser, quiet=quiet, feed=feed)
