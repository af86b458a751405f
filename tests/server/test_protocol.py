"""The OpenAI wire format without HTTP: requests parsed into archon's messages, replies and chunks
in OpenAI's shapes (checked by parsing them with the official `openai` package's own types)."""

from __future__ import annotations

import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from archon_cli.server.protocol import (
    ApiError,
    answer_pieces,
    completion_body,
    parse_chat_request,
    sse_event,
    stream_chunks,
    usage_body,
)


def parse(body: dict[str, object]) -> object:
    return parse_chat_request(json.dumps(body).encode())


def test_messages_become_archons_messages() -> None:
    request = parse(
        {
            "model": "best",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "line one"}, {"type": "text", "text": "two"}]},
                {"role": "assistant", "content": None, "refusal": None},
                {"role": "user", "content": "and?"},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.3,
            "logit_bias": {"1": 2},
        }
    )
    assert request.model == "best" and request.stream and request.include_usage  # type: ignore[attr-defined]
    assert request.messages == (  # type: ignore[attr-defined]
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "line one\ntwo"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "and?"},
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "", "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": [{"role": "tool", "content": "x", "tool_call_id": "1"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": "   "}]}, "messages"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": "y"}},
            "stream_options.include_usage",
        ),
    ],
)
def test_what_archon_cannot_honour_is_400_naming_the_field(body: dict[str, object], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse(body)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("answer", ["", "7", "Paris.", "  leading and trailing  ", "a\n\nb  c\td e f g h i j k l m n"])
def test_pieces_join_back_to_the_answer(answer: str) -> None:
    pieces = answer_pieces(answer)
    assert "".join(pieces) == answer
    assert all(len(p.split()) <= 4 for p in pieces)


def test_bodies_parse_with_the_openai_types() -> None:
    usage = usage_body(30, 12)
    figures = {"calls": 4, "layers": []}
    whole = ChatCompletion.model_validate(
        completion_body("chatcmpl-1", "best", 1700000000, "Hello there.", usage, figures)
    )
    assert whole.choices[0].message.content == "Hello there." and whole.usage is not None
    assert whole.usage.total_tokens == 42 and whole.model_extra == {"archon": figures}
    chunks = [
        ChatCompletionChunk.model_validate(c)
        for c in stream_chunks("chatcmpl-1", "best", 1700000000, "one two three four five six", usage, figures, True)
    ]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three four five six"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    without_usage = stream_chunks("chatcmpl-1", "best", 1, "x", usage, figures, False)
    assert all(c["choices"] and "usage" not in c for c in without_usage)


def test_sse_events() -> None:
    assert sse_event({"a": "é"}) == 'data: {"a":"é"}\n\n'.encode()
    assert sse_event("[DONE]") == b"data: [DONE]\n\n"
