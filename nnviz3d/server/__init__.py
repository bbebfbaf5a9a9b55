"""The aiohttp server: static viewer, /ws sessions, the scene every client sees."""

from .app import broadcast_scene, make_app, viewer_dir
from .runner import DEFAULT_PORT, ServerThread
from .scene_state import SceneState

__all__ = ["DEFAULT_PORT", "SceneState", "ServerThread", "broadcast_scene", "make_app",
           "viewer_dir"]
