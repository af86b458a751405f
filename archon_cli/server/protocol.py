"""The OpenAI chat-completions wire format as archon serves it: the request it accepts, the
ChatCompletion, the stream chunks and the error body it returns. Pure data: no HTTP, no engine.

Fields of the request that only a model would use (``temperature``, ``max_tokens``, ``top_p``,
``stop``, ``seed``, ``user``, ...) are accepted and ignored: an architecture's own components carry
their sampling settings. Unknown fields are ignored too, as OpenAI-compatible servers do, so any
client's extras pass. What archon cannot honour is refused with a 400 naming the field: ``n`` other
than 1, tools, and content parts that are not text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from archon_cli.llm.types import Message

# ``x-should-retry: false`` tells the official clients (openai, and LiteLLM through it) not to resend:
# the budget is spent, or the provider already failed after archon's own retries.
NO_CLIENT_RETRY = {"x-should-retry": "false"}


@dataclass
class ApiError(Exception):
    """An error answered as OpenAI's ``{"error": {message, type, param, code}}`` with ``status``."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, code: str = "invalid_request", param: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


# -- the request ---------------------------------------------------------------------------------


class _ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Any = None  # a string, a list of text parts, or null: checked by ``_text``


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool | None = None


class _ChatBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    messages: list[_ChatMessage] = Field(min_length=1)
    stream: StrictBool | None = False
    stream_options: _StreamOptions | None = None
    n: int | None = Field(default=None, strict=True)
    tools: list[Any] | None = None


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat-completions request: the model asked for and the conversation as archon's
    messages (``developer`` turns become ``system`` turns; text parts are joined)."""

    model: str
    messages: tuple[Message, ...]
    stream: bool = False
    include_usage: bool = False


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_TYPE_WORDS = {
    "string_type": "a string",
    "list_type": "a list",
    "bool_type": "true or false",
    "int_type": "an integer",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
}


def _describe(exc: ValidationError) -> tuple[str, str]:
    """The first problem as ('path: message', 'path'), in the words a client developer needs."""
    first = exc.errors()[0]
    path = _path(tuple(first["loc"]))
    kind = first["type"]
    if kind == "missing":
        msg = "is required"
    elif kind == "literal_error":
        msg = f"must be one of {first.get('ctx', {}).get('expected', '')}"
    elif kind == "too_short" and path == "messages":
        msg = "must hold at least one message"
    elif kind in _TYPE_WORDS:
        msg = f"must be {_TYPE_WORDS[kind]}"
    else:
        msg = first["msg"][0].lower() + first["msg"][1:]
    return f"'{path}' {msg}" if path else msg, path


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string, null (empty), or a list of ``{"type": "text"}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"'{where}.content' must be a string or a list of text parts", param=f"{where}.content")
    texts = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        text = part.get("text") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(text, str):
            got = f"a {kind!r} part" if isinstance(kind, str) else "something else"
            raise bad_request(
                f'\'{where}.content[{i}]\' must be a text part ({{"type": "text", "text": ...}}), got {got}',
                code="unsupported_content",
                param=f"{where}.content",
            )
        texts.append(text)
    return "\n".join(texts)


def _check_unicode(text: str, param: str) -> None:
    """400 for a lone surrogate (JSON's "\\ud800" escapes allow them; no provider takes them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise bad_request(
            f"'{param}' holds a lone surrogate (\\u{code:04x}), which is not Unicode text", param=param
        ) from None


def shorten(text: str, limit: int = 100) -> str:
    """``text`` cut to ``limit`` characters for a message or a log (a client chooses a model name's length)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a chat-completions body. Raises ``ApiError`` (400) naming the first problem."""
    if not raw.strip():
        raise bad_request("the request body is empty: expected a JSON object", code="invalid_json")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        detail = (
            f" at line {exc.lineno}, column {exc.colno}: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else ""
        )
        raise bad_request(f"the request body is not valid JSON{detail}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise bad_request(f"the request body must be a JSON object, got {type(data).__name__}", code="invalid_json")
    try:
        body = _ChatBody.model_validate(data)
    except ValidationError as exc:
        message, param = _describe(exc)
        raise bad_request(message, param=param or None) from None
    if body.n not in (None, 1):
        raise bad_request("'n' must be 1: an architecture gives one answer per request", param="n")
    if body.tools:
        raise bad_request("'tools' are not supported: an architecture answers with text", param="tools")
    messages: list[Message] = []
    for i, m in enumerate(body.messages):
        where = f"messages[{i}]"
        if m.role in ("tool", "function"):
            raise bad_request(
                f"'{where}.role': {m.role} messages are not supported: an architecture answers text conversations",
                param=f"{where}.role",
            )
        role = "system" if m.role == "developer" else m.role
        messages.append({"role": role, "content": _text(m.content, where)})
    for i, sent in enumerate(messages):
        _check_unicode(sent["content"], f"messages[{i}].content")
    _check_unicode(body.model, "model")
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise bad_request("'messages' must hold a user message with text", param="messages")
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return ChatRequest(body.model, tuple(messages), bool(body.stream), include_usage)


# -- the reply -----------------------------------------------------------------------------------


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def completion_body(
    request_id: str, model: str, created: int, answer: str, usage: dict[str, int], archon: dict[str, Any]
) -> dict[str, Any]:
    """A ``chat.completion`` object; ``archon`` carries the architecture's own figures."""
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
        "archon": archon,
    }


_PIECE = re.compile(r"\s*\S+\s*|\s+")


def answer_pieces(answer: str, words: int = 4) -> list[str]:
    """The answer cut into pieces of a few words each; joined, they give the answer back exactly."""
    tokens = _PIECE.findall(answer)
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def stream_chunks(
    request_id: str,
    model: str,
    created: int,
    answer: str,
    usage: dict[str, int],
    archon: dict[str, Any],
    include_usage: bool,
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer, in OpenAI's order: the role,
    the content in pieces, the finish reason (with ``archon``'s figures), then the usage when the
    client asked for it (``stream_options.include_usage``)."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": request_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in answer_pieces(answer)]
    last = chunk({}, "stop")
    last["archon"] = archon
    chunks.append(last)
    if include_usage:
        chunks.append(
            {
                "id": request_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
        )
    return chunks


def sse_event(data: dict[str, Any] | str) -> bytes:
    """One server-sent event: ``data: <json>`` and a blank line (``[DONE]`` is sent as-is)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


SSE_DONE = sse_event("[DONE]")


def model_card(name: str, created: int, calls: int) -> dict[str, Any]:
    """An entry of ``GET /v1/models``: the architecture's name, and its static cost in ``archon``."""
    return {"id": name, "object": "model", "created": created, "owned_by": "archon", "archon": {"calls": calls}}
