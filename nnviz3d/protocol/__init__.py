"""The websocket protocol: messages, binary codec, PROTOCOL_VERSION (defined once, here)."""

from .codec import FrameError, decode_frame, dumps_json, encode_frame, loads_json
from .messages import (
    ALL_MESSAGES,
    CLIENT_MESSAGES,
    HIST_BINS,
    MAGIC,
    NONFINITE,
    NONFINITE_VALUES,
    OVERLAYS,
    PROBE,
    PROBE_KINDS,
    PROTOCOL_VERSION,
    SCALARS,
    STAT_NAMES,
    Collapse,
    Detail,
    ErrorMessage,
    Expand,
    Follow,
    Hello,
    InputsInfo,
    Inspect,
    LandscapeRequest,
    Progress,
    RecipeInfo,
    SceneInfo,
    Seek,
    Timeline,
    Track,
    Visualise,
    Welcome,
)
from .scene_frame import decode_scene, encode_scene

__all__ = ["ALL_MESSAGES", "CLIENT_MESSAGES", "HIST_BINS", "MAGIC", "NONFINITE",
           "NONFINITE_VALUES", "OVERLAYS", "PROBE", "PROBE_KINDS", "PROTOCOL_VERSION", "SCALARS",
           "STAT_NAMES", "Collapse", "Detail", "ErrorMessage", "Expand", "Follow", "FrameError",
           "Hello", "InputsInfo", "Inspect", "LandscapeRequest", "Progress", "RecipeInfo",
           "SceneInfo", "Seek", "Timeline", "Track", "Visualise", "Welcome", "decode_frame",
           "decode_scene", "dumps_json", "encode_frame", "encode_scene", "loads_json"]
