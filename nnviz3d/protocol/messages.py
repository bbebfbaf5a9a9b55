"""Every message of the websocket protocol, defined once.

JSON messages travel as websocket *text* frames; scenes and (later) probe frames travel as
*binary* frames (:mod:`nnviz3d.protocol.codec`): a small JSON header plus raw little-endian
arrays. The viewer's TypeScript types are generated from this file
(``python -m nnviz3d.protocol.codegen``); a test fails when the generated file is stale.

Handshake: the client sends :class:`Hello` first; the server answers :class:`Welcome` (then
the whole current scene) or :class:`ErrorMessage` and closes.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL_VERSION = 1
"""Bumped on every incompatible change; client and server must agree exactly."""

MAGIC = "NV3D"
"""First four bytes of every binary frame."""


@dataclass
class Hello:
    """Client -> server, first message."""

    protocol: int
    """The client's PROTOCOL_VERSION."""
    client: str
    """Who is connecting, e.g. ``nnviz3d-web/0.1.0``."""
    type: str = "hello"


@dataclass
class Welcome:
    """Server -> client: handshake accepted; the scene follows."""

    protocol: int
    """The server's PROTOCOL_VERSION (equal to the client's)."""
    server: str
    """Server name and version, e.g. ``nnviz3d/0.1.0``."""
    model: str
    """Name of the model being shown."""
    type: str = "welcome"


@dataclass
class ErrorMessage:
    """Server -> client: something the client sent was refused; shown in the page."""

    code: str
    """Machine-readable reason: ``protocol_mismatch``, ``bad_message``, ``not_found``..."""
    message: str
    """One sentence for a person: what was wrong and what to do."""
    fatal: bool = False
    """True when the server closes the connection after this message."""
    type: str = "error"


@dataclass
class SceneInfo:
    """Server -> client: a scene of ``bytes`` bytes follows (for a loading indicator)."""

    bytes: int
    """Size of the binary scene frame that follows."""
    blocks: int
    """Number of blocks in it."""
    version: int
    """Scene version: increases every time the server's scene changes."""
    type: str = "scene_info"


@dataclass
class Expand:
    """Client -> server: open a collapsed group (every viewer sees the change)."""

    path: str
    """Module path of the group, dotted (``transformer.h.3``)."""
    type: str = "expand"


@dataclass
class Collapse:
    """Client -> server: close an expanded group into one block."""

    path: str
    """Module path of the group, dotted."""
    type: str = "collapse"


CLIENT_MESSAGES = {m.type: m for m in (Hello, Expand, Collapse)}
SERVER_MESSAGES = {m.type: m for m in (Welcome, ErrorMessage, SceneInfo)}
ALL_MESSAGES = (Hello, Welcome, ErrorMessage, SceneInfo, Expand, Collapse)
