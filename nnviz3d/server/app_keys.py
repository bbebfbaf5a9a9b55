"""The keys under which the viewer's aiohttp app keeps its state, shared by the app
(nnviz3d/server/app.py) and its routes (nnviz3d/server/gltf_route.py) without either
importing the other."""

from __future__ import annotations

import asyncio

from aiohttp import web

from .live_feed import LiveFeed
from .scene_state import SceneState

STATE = web.AppKey("state", SceneState)
CLIENTS = web.AppKey("clients", set)
FEED = web.AppKey("feed", LiveFeed)
FLUSHER = web.AppKey("flusher", asyncio.Task)
