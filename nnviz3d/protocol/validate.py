"""Parse and validate what a client sends: types, sizes, known message kinds."""

from __future__ import annotations

import dataclasses
import json
import typing

from .messages import CLIENT_MESSAGES, ErrorMessage

MAX_CLIENT_MESSAGE = 64 * 1024
"""Bytes; a client never needs more (paths are short)."""


def parse_client_message(text: str | bytes):
    """Return the message dataclass, or an :class:`ErrorMessage` saying what was wrong."""
    if len(text) > MAX_CLIENT_MESSAGE:
        return ErrorMessage("bad_message", f"message of {len(text)} bytes exceeds the "
                                           f"{MAX_CLIENT_MESSAGE}-byte limit")
    try:
        data = json.loads(text)
    except ValueError:
        return ErrorMessage("bad_message", "message is not JSON; send one JSON object")
    if not isinstance(data, dict):
        return ErrorMessage("bad_message", "message must be a JSON object with a 'type'")
    kind = data.get("type")
    cls = CLIENT_MESSAGES.get(kind)
    if cls is None:
        return ErrorMessage("bad_message", f"unknown message type {kind!r}; expected one of "
                                           f"{sorted(CLIENT_MESSAGES)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - fields
    if extra:
        return ErrorMessage("bad_message", f"{kind}: unknown fields {sorted(extra)}")
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING:
                return ErrorMessage("bad_message", f"{kind}: missing field {f.name!r}")
            continue
        expected = hints[f.name]
        value = data[f.name]
        if expected is int and (not isinstance(value, int) or isinstance(value, bool)):
            return ErrorMessage("bad_message", f"{kind}.{f.name} must be an integer")
        if expected is str and not isinstance(value, str):
            return ErrorMessage("bad_message", f"{kind}.{f.name} must be a string")
        if expected is bool and not isinstance(value, bool):
            return ErrorMessage("bad_message", f"{kind}.{f.name} must be true or false")
    return cls(**data)


def to_json(message) -> str:
    return json.dumps(dataclasses.asdict(message), separators=(",", ":"))
