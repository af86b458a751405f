"""Plain data passed through the LLM door. No provider code here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": "user" | "system" | "assistant", "content": "..."}

# HTTP header that carries a request's ``purpose`` to the server (servers ignore it; test servers read it).
PURPOSE_HEADER = "X-Archon-Purpose"


@dataclass(frozen=True)
class CompletionRequest:
    """One logical call to one model.

    ``sample_index`` tells repeated samples of the same prompt apart: it is part of the
    cache key and seeds local sampling, so sample 3 of a prompt is the same text every run.
    ``purpose`` says who asks (a component kind such as ``ranker``, ``verifier:verdict``, or
    ``judge``), for test doubles and logs; it is not part of the cache key and changes no reply.
    """

    model: str
    messages: tuple[Message, ...]
    temperature: float = 0.0
    max_tokens: int = 256
    sample_index: int = 0
    stop: tuple[str, ...] = ()
    api_base: str | None = None
    api_key_env: str | None = None
    timeout: float = 120.0
    purpose: str = ""

    def cache_key(self) -> str:
        """Stable key over everything that changes the reply (not timeout, key name or purpose)."""
        payload = {
            "model": self.model,
            "messages": [dict(m) for m in self.messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "sample_index": self.sample_index,
            "stop": list(self.stop),
            "api_base": self.api_base,
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Completion:
    """A model's reply. ``cached`` replies cost no call; ``attempts`` counts sends incl. retries."""

    text: str
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    attempts: int = 1
    latency: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
