"""Several samples of one prompt in one request (``n``): how many a route takes, and how the reply's
usage is shared out.

A generator (or a fuser with ``samples > 1``) asks for ``k`` samples of one prompt. Where the
provider takes ``n`` (LiteLLM lists it among the route's OpenAI parameters: OpenAI, vLLM,
OpenAI-compatible servers) the gateway sends them as one request with ``n = k``; elsewhere (Anthropic,
the embedded model) one request per sample. Each sample keeps its own slot and cache key either way.

Usage of an ``n``-request is reported for the whole request: the prompt once, the completion tokens
summed over the choices (OpenAI and vLLM do so). It is shared out evenly over the samples the reply
carried (integer tokens, the remainder to the first samples), so the samples' usages add up to
what the provider reported, and each sample, served again from the cache later, counts its share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from archon_cli.llm.types import CompletionRequest, Usage

# OpenAI's own limit on ``n``; larger groups are split into several requests.
MAX_SAMPLES_PER_REQUEST = 128

T = TypeVar("T")


class SamplingBackend(Protocol):
    """What a backend offers to send several samples in one request (optional: without it, the
    gateway sends one request per sample)."""

    def samples_per_request(self, request: CompletionRequest) -> int:
        """How many samples of ``request`` one request may carry (1: no ``n`` on this route)."""
        ...

    async def complete_samples(self, request: CompletionRequest, n: int) -> tuple[list[str], Usage]:
        """One request for ``n`` samples: the texts of the choices that came back (possibly fewer
        than ``n``, never none) and the whole request's usage."""
        ...


def split_usage(usage: Usage, k: int) -> list[Usage]:
    """``usage`` of one request shared evenly over its ``k`` samples; the parts add up to it."""
    if k <= 1:
        return [usage]
    prompt, prompt_rest = divmod(usage.prompt_tokens, k)
    completion, completion_rest = divmod(usage.completion_tokens, k)
    return [
        Usage(prompt + (i < prompt_rest), completion + (i < completion_rest), usage.cost / k) for i in range(k)
    ]


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive groups of at most ``size``."""
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class SampleCaps:
    """Samples per request for each route (model, api_base): what the backend says, lowered for a
    server that answered an ``n``-request with fewer choices (a server that ignores ``n``, like
    some OpenAI-compatible ones, gives one: its route falls back to one request per sample)."""

    def __init__(self) -> None:
        self._learned: dict[tuple[str, str | None], int] = {}
        self._said: dict[tuple[str, str | None], int] = {}

    def cap(self, backend: object, request: CompletionRequest) -> int:
        route = (request.model, request.api_base)
        said = self._said.get(route)
        if said is None:
            ask = getattr(backend, "samples_per_request", None)
            has_n = callable(ask) and callable(getattr(backend, "complete_samples", None))
            said = max(1, min(int(ask(request)), MAX_SAMPLES_PER_REQUEST)) if has_n and ask else 1
            self._said[route] = said
        return min(said, self._learned.get(route, said))

    def learn(self, request: CompletionRequest, asked: int, got: int) -> None:
        """An ``n = asked`` request came back with ``got`` choices (fewer)."""
        if 0 < got < asked:
            route = (request.model, request.api_base)
            self._learned[route] = min(self._learned.get(route, got), got)
