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
        feed.latest[",".join(kinds)] = (step, data)
        feed.frames += 1
        feed.first_step = step if feed.first_step < 0 else min(feed.first_step, step)
        feed.last_step = max(feed.last_step, step)
    feed.scalar_rows = reader.scalar_rows()
    return view(graph=reader.graph(), depth=depth, host=host, port=port,
                open_browser=open_browser, quiet=quiet, feed=feed)
