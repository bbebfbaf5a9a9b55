"""The websocket protocol: messages, binary codec, PROTOCOL_VERSION (defined once, here)."""

from .codec import FrameError, decode_frame, encode_frame
from .messages import (
    ALL_MESSAGES, CLIENT_MESSAGES, MAGIC, PROTOCOL_VERSION, Collapse, ErrorMessage, Expand,
    Hello, SceneInfo, Welcome,
)
from .scene_frame import decode_scene, encode_scene

__all__ = ["ALL_MESSAGES", "CLIENT_MESSAGES", "MAGIC", "PROTOCOL_VERSION", "Collapse",
           "ErrorMessage", "Expand", "FrameError", "Hello", "SceneInfo", "Welcome",
           "decode_frame", "decode_scene", "encode_frame", "encode_scene"]
