"""The aiohttp application: the built viewer as static files and the websocket at /ws."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from pathlib import Path

from aiohttp import WSMsgType, web

from .. import __version__
from ..protocol import PROTOCOL_VERSION, ErrorMessage, Hello, SceneInfo, Welcome
from ..protocol.messages import SALIENCY_METHODS
from ..protocol.validate import MAX_CLIENT_MESSAGE, parse_client_message, to_json
from .access import install as install_access
from .app_keys import CLIENTS, FEED, FLUSHER, STATE
from .client_session import RATE, ClientSession
from .gltf_route import export_glb
from .hosts import given_hosts
from .live_feed import LiveFeed
from .scene_state import SceneState

log = logging.getLogger("nnviz3d.server")
HANDSHAKE_TIMEOUT = 10.0


def viewer_dir() -> Path:
    """Where the built viewer lives inside the installed package."""
    return Path(str(resources.files("nnviz3d") / "viewer_dist"))


def make_app(
    state: SceneState, feed: LiveFeed | None = None, token: str | None = None, allow_hosts=None
) -> web.Application:
    """The viewer's app; ``token`` is required of every request (nnviz3d/server/access.py);
    ``allow_hosts``: names it answers to beyond this machine's (nnviz3d/server/hosts.py;
    ``$NNVIZ3D_ALLOW_HOSTS`` adds more). ValueError for one that is no host name."""
    app = web.Application(client_max_size=MAX_CLIENT_MESSAGE)
    install_access(app, token, given_hosts(allow_hosts))
    app[STATE] = state
    app[CLIENTS] = set()
    app[FEED] = feed or LiveFeed()
    app.on_startup.append(_start_flusher)
    app.router.add_get("/", index)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/export.glb", export_glb)
    assets = viewer_dir() / "assets"
    if assets.is_dir():
        app.router.add_static("/assets/", assets, show_index=False, follow_symlinks=False)
    app.on_shutdown.append(_close_clients)
    app.on_cleanup.append(_close_feed)
    return app


async def index(request: web.Request) -> web.StreamResponse:
    page = viewer_dir() / "index.html"
    if not page.is_file():
        return web.Response(
            status=503,
            content_type="text/html",
            text=(
                "<h1>nnviz3d viewer not built</h1><p>The web viewer is missing from the "
                f"installed package ({page.parent}). Build it with <code>make demo</code> or "
                "<code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>.</p>"
            ),
        )
    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    # compress=False: permessage-deflate costs ~60x throughput on array frames for <8% size.
    ws = web.WebSocketResponse(compress=False, max_msg_size=MAX_CLIENT_MESSAGE, heartbeat=30)
    await ws.prepare(request)
    state: SceneState = request.app[STATE]
    try:
        msg = await ws.receive(timeout=HANDSHAKE_TIMEOUT)
    except TimeoutError:
        await _refuse(
            ws,
            "handshake_timeout",
            f"no hello within {HANDSHAKE_TIMEOUT:.0f} s; an nnviz3d client sends one first",
        )
        return ws
    if msg.type != WSMsgType.TEXT:
        if not ws.closed:  # (a message over the size limit has closed it with 1009)
            await _refuse(ws, "bad_handshake", "the first message must be a JSON hello")
        return ws
    hello = parse_client_message(msg.data)
    if not isinstance(hello, Hello):
        reason = (
            hello.message
            if isinstance(hello, ErrorMessage)
            else f"expected hello first, got {hello.type}"
        )
        await _refuse(ws, "bad_handshake", reason)
        return ws
    if hello.protocol != PROTOCOL_VERSION:
        await _refuse(
            ws,
            "protocol_mismatch",
            f"this page speaks nnviz3d protocol {hello.protocol} but the server "
            f"(nnviz3d {__version__}) speaks {PROTOCOL_VERSION}: reload the page, "
            f"or upgrade whichever side is older",
        )
        return ws
    await ws.send_str(
        to_json(Welcome(PROTOCOL_VERSION, f"nnviz3d/{__version__}", state.graph.model))
    )
    session = ClientSession(ws)
    _post_scene(session, state)
    clients: set = request.app[CLIENTS]
    feed: LiveFeed = request.app[FEED]
    clients.add(session)
    feed.join(session)
    try:
        async for msg in ws:
            if not session.allow():  # a flood: dropped, said once per burst
                if session.refused == 1 or session.refused % 1000 == 0:
                    session.post(
                        "error",
                        to_json(
                            ErrorMessage(
                                "rate_limited",
                                f"more than {RATE:.0f} messages a second: messages "
                                f"are being dropped; slow down",
                            )
                        ),
                    )
                continue
            if msg.type == WSMsgType.ERROR:  # over the size limit: aiohttp closed it with 1009
                break
            if msg.type != WSMsgType.TEXT:
                session.post(
                    "error",
                    to_json(ErrorMessage("bad_message", "clients send JSON text messages only")),
                )
                continue
            try:
                await _handle(request.app, session, parse_client_message(msg.data))
            except Exception as exc:  # what the checks missed: this message fails, not the session
                log.error(
                    "could not serve a client message %.200r: %r", msg.data, exc, exc_info=True
                )
                session.post(
                    "error",
                    to_json(
                        ErrorMessage(
                            "server_error",
                            f"the server could not serve that message "
                            f"({type(exc).__name__}); the session goes on",
                        )
                    ),
                )
    finally:
        clients.discard(session)
        feed.leave(session)
        session.close()
    return ws


async def _handle(app: web.Application, session: ClientSession, message) -> None:
    state: SceneState = app[STATE]
    feed: LiveFeed = app[FEED]
    if isinstance(message, ErrorMessage):
        session.post("error", to_json(message))
    elif message.type in ("expand", "collapse"):
        op = state.expand if message.type == "expand" else state.collapse
        error = await asyncio.get_running_loop().run_in_executor(None, op, message.path)
        if error:
            session.post("error", to_json(ErrorMessage("not_found", error)))
            return
        broadcast_scene(app)
    elif message.type == "seek":
        await feed.seek(session, message.step)
    elif message.type == "follow":
        feed.follow(session)
    elif message.type == "detail":
        if message.path and message.path not in state.graph:
            session.post(
                "error",
                to_json(
                    ErrorMessage(
                        "not_found",
                        f"no module {message.path!r} in {state.graph.model}; detail "
                        f"takes a dotted module path as shown in the info panel",
                    )
                ),
            )
            return
        await feed.detail(session, message.path or None)
    elif message.type == "track":
        if feed.track is None:
            session.post(
                "error",
                to_json(
                    ErrorMessage(
                        "bad_message", "tracking a unit needs a live training run (nnviz3d.watch)"
                    )
                ),
            )
            return
        try:
            feed.track(message.module, message.unit)
        except ValueError as exc:
            session.post("error", to_json(ErrorMessage("bad_message", str(exc))))
    elif message.type in ("inspect", "visualise", "landscape"):
        error = _request_error(feed, state, message)
        if error:
            session.post("error", to_json(ErrorMessage("bad_message", error)))
            return
        if message.type == "inspect":
            feed.request(session, "inspect", (message.index, message.method, message.target))
        elif message.type == "visualise":
            feed.request(session, "feature", (message.module, message.unit))
        else:
            feed.request(session, "landscape", (message.steps,))
    elif message.type == "hello":
        session.post("error", to_json(ErrorMessage("bad_message", "already said hello")))


def _request_error(feed: LiveFeed, state: SceneState, message) -> str | None:
    """Why a request for the model cannot be served, or None."""
    requests = feed.requests
    if requests is None:
        return (
            f"{message.type} needs the live model and probe inputs: pass inputs= (and "
            f"labels=) to nnviz3d.watch(...); the demo does. A replay has no model."
        )
    if message.type == "inspect":
        if not 0 <= message.index < requests.count:
            return f"inspect.index must be in 0..{requests.count - 1}, got {message.index}"
        if message.method not in SALIENCY_METHODS:
            return f"inspect.method must be one of {SALIENCY_METHODS}, got {message.method!r}"
    elif message.type == "visualise":
        if message.module not in state.graph or not message.module:
            return f"no module {message.module!r} in {state.graph.model}"
        if message.unit < 0:
            return f"visualise.unit must be 0 or more, got {message.unit}"
    elif message.type == "landscape":
        if not 3 <= message.steps <= 61:
            return f"landscape.steps must be in 3..61, got {message.steps}"
        if not requests.can_landscape:
            return (
                "a landscape needs a loss: pass labels= (cross-entropy on the probe "
                "inputs) or loss_fn= to nnviz3d.watch(...)"
            )
    return None


def broadcast_scene(app: web.Application) -> None:
    for session in list(app[CLIENTS]):
        _post_scene(session, app[STATE])


def _post_scene(session: ClientSession, state: SceneState) -> None:
    frame = state.frame
    session.post("scene", to_json(SceneInfo(len(frame), state.blocks, state.version)), frame)


async def _start_flusher(app: web.Application) -> None:
    app[FLUSHER] = asyncio.get_running_loop().create_task(app[FEED].flush_forever())


async def _refuse(ws, code: str, message: str) -> None:
    await ws.send_str(to_json(ErrorMessage(code, message, fatal=True)))
    await ws.close(
        code=4000 + (1 if code == "protocol_mismatch" else 0), message=code.encode()[:120]
    )


async def _close_feed(app: web.Application) -> None:
    app[FEED].close()  # the recording reader opened for seeks


async def _close_clients(app: web.Application) -> None:
    app[FLUSHER].cancel()
    for session in list(app[CLIENTS]):
        session.close()
        try:  # a stalled client may never acknowledge: do not wait for it long
            await asyncio.wait_for(
                session.ws.close(code=1001, message=b"server shutting down"), timeout=1.0
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
