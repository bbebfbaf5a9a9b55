import json
import pathlib

import pytest

from nnviz3d.protocol import Collapse, ErrorMessage, Expand, Hello
from nnviz3d.protocol.codegen import generate
from nnviz3d.protocol.validate import MAX_CLIENT_MESSAGE, parse_client_message

GENERATED = pathlib.Path(__file__).parents[2] / "web" / "src" / "protocol.gen.ts"


def test_generated_typescript_is_up_to_date():
    assert GENERATED.read_text() == generate(), (
        "web/src/protocol.gen.ts is stale: run "
        "`python -m nnviz3d.protocol.codegen web/src/protocol.gen.ts`"
    )


def test_generated_file_says_do_not_edit_and_carries_docs():
    text = GENERATED.read_text()
    assert "Do not edit" in text and "export const PROTOCOL_VERSION" in text
    assert "/** The client's PROTOCOL_VERSION. */" in text


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"type":"hello","protocol":1,"client":"x"}', Hello(1, "x")),
        ('{"type":"expand","path":"a.b"}', Expand("a.b")),
        ('{"type":"collapse","path":"a"}', Collapse("a")),
    ],
)
def test_valid_client_messages(text, expected):
    assert parse_client_message(text) == expected


@pytest.mark.parametrize(
    "text,reason",
    [
        ("not json", "not JSON"),
        ("[1,2]", "JSON object"),
        ('{"type":"launch_missiles"}', "unknown message type"),
        ('{"type":"expand"}', "missing field 'path'"),
        ('{"type":"expand","path":3}', "must be a string"),
        ('{"type":"hello","protocol":"1","client":"x"}', "must be an integer"),
        ('{"type":"hello","protocol":true,"client":"x"}', "must be an integer"),
        ('{"type":"expand","path":"a","extra":1}', "unknown fields"),
        (json.dumps({"type": "expand", "path": "x" * MAX_CLIENT_MESSAGE}), "exceeds"),
    ],
)
def test_bad_client_messages_get_an_error_reply(text, reason):
    reply = parse_client_message(text)
    assert isinstance(reply, ErrorMessage) and reply.code == "bad_message"
    assert reason in reply.message
