"""Helpers of the LLM door's tests."""

from __future__ import annotations

from archon_cli.llm.gateway import RetryPolicy
from archon_cli.llm.types import CompletionRequest

FAST_RETRY = RetryPolicy(max_attempts=4, initial_wait=0.001, max_wait=0.01, jitter=0.0)


def req(sample_index: int = 0, content: str = "hi", **kw: object) -> CompletionRequest:
    return CompletionRequest(
        model="openai/test",
        messages=({"role": "user", "content": content},),
        sample_index=sample_index,
        **kw,  # type: ignore[arg-type]
    )
