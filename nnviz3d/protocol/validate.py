"""Parse and validate what a client sends: types, sizes, ranges, known message kinds.

Whatever arrives, the answer is a message dataclass or an :class:`ErrorMessage` saying what
was wrong, never an exception: not JSON (``NaN``/``Infinity`` are not JSON), nested too deep,
a ``type`` that is no string, unknown or missing fields, a value of the wrong type, an integer
beyond what a browser can send exactly (|n| < 2**53), a string with lone surrogates."""

from __future__ import annotations

import dataclasses
import json
import typing

from .codec import dumps_json
from .messages import CLIENT_MESSAGES, ErrorMessage

MAX_CLIENT_MESSAGE = 64 * 1024
"""Bytes; a client never needs more (paths are short)."""
MAX_INT = 2**53 - 1
"""Largest integer a client may send: JavaScript's largest exact one (steps, indices)."""


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_client_message(text: str | bytes):
    """Return the message dataclass, or an :class:`ErrorMessage` saying what was wrong."""
    if len(text) > MAX_CLIENT_MESSAGE:
        return ErrorMessage(
            "bad_message",
            f"message of {len(text)} bytes exceeds the {MAX_CLIENT_MESSAGE}-byte limit",
        )
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return ErrorMessage(
            "bad_message", "message is nested too deeply; send one flat JSON object"
        )
    except ValueError:
        return ErrorMessage("bad_message", "message is not JSON; send one JSON object")
    if not isinstance(data, dict):
        return ErrorMessage("bad_message", "message must be a JSON object with a 'type'")
    kind = data.get("type")
    if not isinstance(kind, str):
        return ErrorMessage(
            "bad_message", f"a message's 'type' must be a string, got {_json_type(kind)}"
        )
    cls = CLIENT_MESSAGES.get(kind)
    if cls is None:
        return ErrorMessage(
            "bad_message",
            f'unknown message type "{_short(kind)}"; expected one of {sorted(CLIENT_MESSAGES)}',
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    extra = set(data) - fields
    if extra:
        return ErrorMessage(
            "bad_message", f"{kind}: unknown fields {[_short(k) for k in sorted(extra)][:5]}"
        )
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING:
                return ErrorMessage("bad_message", f"{kind}: missing field {f.name!r}")
            continue
        problem = _problem(hints[f.name], data[f.name])
        if problem:
            return ErrorMessage("bad_message", f"{kind}.{f.name} {problem}")
    return cls(**data)


def _problem(expected, value) -> str | None:
    """Why ``value`` is not a valid ``expected``, or None."""
    if expected is int:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be an integer, got {_json_type(value)}"
        if not -MAX_INT <= value <= MAX_INT:
            return f"must be an integer of magnitude below 2**53, got {_short(str(value))}"
    elif expected is str:
        if not isinstance(value, str):
            return f"must be a string, got {_json_type(value)}"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (it has a lone surrogate)"
    elif expected is bool and not isinstance(value, bool):
        return f"must be true or false, got {_json_type(value)}"
    return None


def _json_type(value) -> str:
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (list, "an array"),
        (dict, "an object"),
    ):
        if isinstance(value, kind):
            return name
    return "null"


def _short(text: str) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


def to_json(message) -> str:
    return dumps_json(dataclasses.asdict(message))
