"""Serve a recorded run exactly as the live view showed it: same scene, same frames."""

from __future__ import annotations

from .record import RunReader


def serve_replay(reader: RunReader, *, depth=None, quiet=False, **serving):
    """Load the run's graph and frames into a server; returns the view handle. ``serving``:
    view()'s host, port, open_browser, token and tls."""
    from .server import LiveFeed
    from .viewer import view

    path = reader.path
    feed = LiveFeed(reader_factory=lambda: RunReader(path), live=False)
    for _, step, kinds, data in reader.frames():
        feed.ingest(data, step, kinds)
    feed.scalars.extend(reader.scalar_rows())
    rows = reader.requests()
    if rows:  # the model requests answered during the run answer again, from the recording
        from .record.recorded_requests import RecordedRequests

        feed.requests = RecordedRequests(lambda: RunReader(path), rows, reader.probe_inputs())
    from .tour import replay_view

    feed.recipe = replay_view(reader, depth)  # offers the run's automatic tour (nnviz3d/tour.py)
    return view(graph=reader.graph(), depth=depth, quiet=quiet, feed=feed, **serving)
