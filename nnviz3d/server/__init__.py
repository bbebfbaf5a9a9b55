"""The aiohttp server: static viewer, /ws sessions, the scene every client sees."""

from .app import FEED, broadcast_scene, make_app, viewer_dir
from .live_feed import LiveFeed
from .runner import DEFAULT_PORT, ServerThread
from .scene_state import SceneState

__all__ = [
    "DEFAULT_PORT",
    "FEED",
    "LiveFeed",
    "SceneState",
    "ServerThread",
    "broadcast_scene",
    "make_app",
    "viewer_dir",
]
