"""``nnviz3d.view(model, example_inputs)``: serve a model's 3D scene; returns at once."""

from __future__ import annotations

import html
import logging
import os
import webbrowser

from .graph import Graph

log = logging.getLogger("nnviz3d")


class ViewHandle:
    """A running viewer. ``url`` to open; ``close()`` stops the server."""

    def __init__(self, graph: Graph, server, state) -> None:
        self.graph = graph
        self.server = server
        self.state = state

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    embeddings = None
    """The EmbeddingService when ``view(..., embed=...)`` embeds the probe set."""

    opener = None
    """The private file the browser was opened on (see :func:`open_privately`), or None."""

    def close(self) -> None:
        if self.embeddings is not None:
            self.embeddings.close()
        if self.opener is not None:
            import shutil

            shutil.rmtree(self.opener.parent, ignore_errors=True)
            self.opener = None
        self.server.close()

    def __enter__(self) -> ViewHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<nnviz3d view of {self.graph.model} at {self.url}>"

    def _repr_html_(self) -> str:  # Jupyter shows a link
        url, name = html.escape(self.url, quote=True), html.escape(str(self.graph.model))
        return f'<a href="{url}" target="_blank" rel="noopener">nnviz3d: {name}</a>'


def view(
    model=None,
    example_inputs=None,
    *,
    graph: Graph | None = None,
    depth: int | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    open_browser: bool = True,
    quiet: bool = False,
    feed=None,
    inputs=None,
    labels=None,
    embed=None,
    embed_method: str = "umap",
    recipe=None,
    weights=None,
    token: str | None = None,
    tls=None,
    allow_hosts=None,
    max_connections: int | None = None,
) -> ViewHandle:
    """Capture ``model`` (or take a ready ``graph``) and serve its 3D scene in the background.

    Prints the URL and opens a browser unless ``open_browser=False``. Works from scripts, the
    REPL and Jupyter; ``handle.close()`` stops it. A port in use is replaced by a free one
    (and said so). ``feed`` (a :class:`~nnviz3d.server.LiveFeed`) streams training data.
    ``embed=[layers]`` with a probe set ``inputs=`` (and ``labels=``) shows each layer's
    feature embedding (PCA at once, then ``embed_method``), as ``watch`` does during training.
    ``recipe`` (nnviz3d/recipe.py) sets the view: colours, toggles, bookmarks.
    ``weights`` (``{module: {param: tensor}}``, nnviz3d/capture/weight_frame.py; by default the
    parameters of ``model``) gives the blocks weight statistics, histograms and weight maps,
    as a training run's step 0 does; ``weights=False`` shows the topology alone.
    ``token``: the access token every request must carry (generated when ``host`` is not a
    loopback address; nnviz3d/server/access.py). ``tls=True`` serves HTTPS with a self-signed
    certificate (made on first use), ``tls=(certfile, keyfile)`` with yours: headsets on the
    LAN need a secure context for WebXR (nnviz3d/server/tls.py).
    ``allow_hosts``: host names the server answers to besides this machine's own (localhost,
    its addresses): a name that reaches it through a reverse proxy or your DNS; every other
    ``Host`` is refused, a guard against DNS rebinding (nnviz3d/server/hosts.py).
    ``max_connections``: open connections at most (default 256, or an eighth of ``ulimit -n``
    when lower), so a flood of connections never takes the training's file descriptors
    (nnviz3d/server/connections.py).
    The browser opens on a private local file that forwards to the URL, so the token is
    never on a command line (nnviz3d/viewer.py ``open_privately``).
    """
    from .log import use_stderr
    from .server import SceneState, ServerThread, make_app

    use_stderr(quiet)
    if graph is None:
        if model is None:
            raise TypeError("view() needs a model (or graph=...)")
        from .capture import capture_graph

        graph = capture_graph(model, example_inputs)
    if embed and (model is None or inputs is None):
        raise ValueError(
            "embed= needs the model and its probe set: view(model, x, inputs=..., "
            "labels=..., embed=[...])"
        )
    if weights is None and model is not None and feed is None:
        weights = _live_weights(model)
    if (embed or recipe or weights) and feed is None:
        from .server import LiveFeed

        feed = LiveFeed()
        if weights:
            _add_weights(feed, weights, quiet)
    if recipe is not None:
        feed.recipe = recipe.client_view()
    from .server.access import choose_token

    token = choose_token(host, token)
    context = _tls_context(tls)
    state = SceneState(graph, depth)
    server = ServerThread(
        make_app(state, feed, token, allow_hosts),
        host,
        port,
        ssl_context=context,
        token=token,
        max_connections=max_connections,
    )
    handle = ViewHandle(graph, server, state)
    if embed:
        handle.embeddings = _embed_once(
            model, inputs, labels, embed, embed_method, server, feed, quiet
        )
    if not quiet:
        if server.note:
            log.warning("nnviz3d: %s; using port %d instead", server.note, server.port)
        print(f"nnviz3d: viewing {graph.model} at {handle.url}", flush=True)
        if context is not None or token is not None:
            _print_remote(handle.url, context is not None)
    if open_browser:
        handle.opener = open_privately(handle.url, token)
    return handle


def open_privately(url: str, secret: str | None):
    """Open ``url`` in the browser; with a ``secret`` in it, through a file only this user
    can read that forwards to it (as Jupyter does), so the secret is not on the browser's
    command line (``/proc/*/cmdline`` is readable by every user). Returns the file to delete
    when the server closes, or None."""
    page = None
    if secret:
        import atexit
        import html
        import shutil
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp(prefix="nnviz3d-open-"))  # 0700
        atexit.register(shutil.rmtree, folder, True)  # if close() is never called
        page = folder / "open.html"
        link = html.escape(url, quote=True)
        fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(
                f'<!DOCTYPE html><meta charset="utf-8"><title>nnviz3d</title>'
                f'<meta http-equiv="refresh" content="0;url={link}">'
                f'<p>Opening <a href="{link}">the nnviz3d viewer</a>…</p>\n'
            )
    try:
        webbrowser.open(page.as_uri() if page else url)
    except Exception:  # no browser on this machine: the URL was printed
        pass
    return page


def _tls_context(tls):
    """None for plain HTTP; an SSL context for ``True`` (self-signed) or ``(cert, key)``."""
    if not tls:
        return None
    from .server.tls import self_signed, ssl_context

    cert, key = tls if isinstance(tls, tuple | list) else self_signed()
    return ssl_context(cert, key)


def _print_remote(url: str, tls: bool) -> None:
    """The URL for another device (a headset) as a QR code, and what to expect."""
    from .server.tls import qr_text

    print(qr_text(url), end="", flush=True)
    if tls:
        print(
            "nnviz3d: the certificate is self-signed unless you gave one: the headset's "
            "browser warns once; accept it to get a secure context (needed for VR)",
            flush=True,
        )


WEIGHTS_LIMIT = 1_000_000_000
"""Parameters above which ``view`` does not summarise weights by default (minutes of CPU)."""


def _live_weights(model):
    """The parameters of a module not on the meta device and not too big, else None."""
    from .capture.weight_frame import module_weights

    params = list(model.parameters())
    if not params or any(p.is_meta for p in params):
        return None
    if sum(p.numel() for p in params) > WEIGHTS_LIMIT:
        return None
    return module_weights(model)


def _add_weights(feed, weights, quiet: bool) -> None:
    """Summarise ``weights`` into the feed as step 0 (statistics, histograms, matrices)."""
    import time

    from .capture.weight_frame import weight_frame
    from .protocol.probe_frame import decode_probe
    from .record.run_file import MATRICES

    t0 = time.perf_counter()
    data = weight_frame(weights)
    header, _ = decode_probe(data)
    feed.ingest(data, 0, list(header["kinds"]) + ([MATRICES] if header["matrices"] else []))
    seconds = time.perf_counter() - t0
    if not quiet and seconds > 1:
        log.info("nnviz3d: summarised the weights of %d modules in %.1f s", len(weights), seconds)


def _embed_once(model, inputs, labels, embed, method, server, feed, quiet):
    """One embedding of each layer of a model that is not training."""
    from .embed.service import EmbeddingService

    layers = [embed] if isinstance(embed, str) else list(embed)
    missing = [p for p in layers if p not in dict(model.named_modules())]
    if missing:
        raise ValueError(f"embed= names no module of the model: {missing}")
    loop = server.loop
    service = EmbeddingService(
        model,
        inputs,
        labels,
        layers,
        method=method,
        quiet=quiet,
        publish=lambda layer, data, step: loop.call_soon_threadsafe(
            feed.publish_embedding, layer, data
        ),
        notify=lambda *a: loop.call_soon_threadsafe(feed.embedding_news, *a),
    )
    service.at_step(0, force=True)
    return service
