"""Plain data passed through the LLM door. No provider code here."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

Message = dict[str, str]  # {"role": "user" | "system" | "assistant", "content": "..."}

# HTTP header that carries a request's ``purpose`` to the server (servers ignore it; test servers read it).
PURPOSE_HEADER = "X-Archon-Purpose"


@dataclass(frozen=True)
class CompletionRequest:
    """One logical call to one model.

    ``sample_index`` is the request's sample slot: which independent draw of this exact prompt
    (same model, messages and settings) it is. It is part of the cache key and seeds local
    sampling, so slot 3 of a prompt is the same text every run. Inside an architecture the
    query's ``SampleSlots`` sets it; callers outside one (the benchmark judge) set it themselves.
    ``purpose`` says who asks (a component kind such as ``ranker``, ``verifier:verdict``, or
    ``judge``), for test doubles and logs; it is not part of the cache key and changes no reply.
    ``prompt``, when set, asks for a plain text completion instead of a chat reply: the model
    continues this text (a few-shot "Q:/A:" transcript), no chat template applied, and
    ``messages`` is empty.
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
    prompt: str | None = None

    def cache_key(self) -> str:
        """Stable key over everything that changes the reply (not timeout, key name or purpose)."""
        return self._memo("_cache_key", with_slot=True)

    def prompt_key(self) -> str:
        """The cache key without the sample slot: requests sharing it are draws of one prompt."""
        return self._memo("_prompt_key", with_slot=False)

    def _memo(self, name: str, *, with_slot: bool) -> str:
        # Worked out once per request (the gateway asks several times; a digest is ~30 us).
        # Frozen: ``replace`` makes a new request, which works its keys out afresh.
        key = self.__dict__.get(name)
        if key is None:
            key = self._digest(with_slot=with_slot)
            object.__setattr__(self, name, key)
        return key

    def _digest(self, *, with_slot: bool) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in self.messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "api_base": self.api_base,
        }
        if self.prompt is not None:  # only then, so chat requests keep the keys they always had
            payload["prompt"] = self.prompt
        if with_slot:
            payload["sample_index"] = self.sample_index
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class SampleSlots:
    """Hands out the sample slots of one query's requests.

    At temperature > 0 the k-th request of a prompt (same ``prompt_key``) in the query gets slot
    k, so repeated samples and identical components each draw their own sample, never a copy
    of another's. Slots follow the order requests are made, which the architecture fixes, so
    the same architecture shape gets the same slots every run and in every search trial (a
    generator with 3 samples reuses the cached slots 0-2 of one with 5). At temperature 0
    every request stays at slot 0: decoding is greedy, so identical requests are one draw,
    sent once and shared (the extra ones are counted as cache hits).

    A request standing for several samples (one call with ``n``) would take ``n`` slots.
    """

    def __init__(self) -> None:
        self._taken: Counter[str] = Counter()

    def assign(self, request: CompletionRequest) -> CompletionRequest:
        if request.temperature == 0:
            return replace(request, sample_index=0)
        key = request.prompt_key()
        slot = self._taken[key]
        self._taken[key] += 1
        return replace(request, sample_index=slot)


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
