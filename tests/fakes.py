"""Test doubles for the LLM door: scripted replies, recorded requests, measured overlap."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

from archon_cli.benchmarks.base import Judge
from archon_cli.llm.types import Completion, CompletionRequest, Message, SampleSlots, Usage

Reply = Callable[[CompletionRequest], str]


class ScriptedLLM:
    """Answers each request with ``reply(request)``; records requests, parse failures and overlap.

    Requests get their sample slots as the engine's ``QueryLLM`` gives them. ``delay`` seconds of
    simulated latency let tests see which calls were in flight together.
    """

    def __init__(self, reply: Reply | str = "ok", delay: float = 0.0) -> None:
        self._reply = reply if callable(reply) else (lambda _r, text=reply: text)
        self.delay = delay
        self.requests: list[CompletionRequest] = []
        self.parse_failures: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.slots = SampleSlots()

    async def complete(self, request: CompletionRequest) -> Completion:
        request = self.slots.assign(request)
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            text = self._reply(request)
        finally:
            self.in_flight -= 1
        return Completion(text=text, usage=Usage(prompt_tokens=10, completion_tokens=5))

    def note_parse_failure(self, component: str) -> None:
        self.parse_failures[component] += 1

    def last_user_content(self, index: int = -1) -> str:
        return self.requests[index].messages[-1]["content"]


class FakeBackend:
    """A Backend for the gateway: scripted replies or exceptions per call, counted like a server would."""

    def __init__(self, reply: Reply | str = "ok", errors: list[Exception] | None = None, delay: float = 0.0) -> None:
        self._reply = reply if callable(reply) else (lambda _r, text=reply: text)
        self.errors = list(errors or [])  # raised, in order, by the first calls
        self.delay = delay
        self.sent: list[CompletionRequest] = []
        self.routes_checked: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        self.sent.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.errors:
                raise self.errors.pop(0)
            return self._reply(request), Usage(prompt_tokens=7, completion_tokens=3, cost=0.001)
        finally:
            self.in_flight -= 1

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        self.routes_checked.append(model)


JudgeReply = Callable[[Sequence[Message], int], str]


class ScriptedJudge(Judge):
    """A judge for judge-based benchmarks: ``reply(messages, sample_index)`` (or fixed text, or a
    list of texts used in turn); records every ``(messages, sample_index)`` it was asked."""

    model = "scripted-judge"

    def __init__(self, reply: JudgeReply | str | list[str]) -> None:
        if isinstance(reply, list):
            texts = iter(reply)
            self._reply: JudgeReply = lambda _m, _i: next(texts)
        elif isinstance(reply, str):
            self._reply = lambda _m, _i, text=reply: text  # type: ignore[misc]
        else:
            self._reply = reply
        self.asked: list[tuple[list[Message], int]] = []

    async def ask(self, messages: Sequence[Message], sample_index: int = 0) -> str:
        self.asked.append(([dict(m) for m in messages], sample_index))  # type: ignore[misc]
        return self._reply(messages, sample_index)

    def user_prompts(self) -> list[str]:
        return [messages[-1]["content"] for messages, _ in self.asked]
