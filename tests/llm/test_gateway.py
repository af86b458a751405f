"""The gateway: retries with backoff, permanent errors, in-flight sharing, per-query and per-model limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from archon_cli.errors import BudgetExceeded, ProviderError, TransientProviderError
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway, RetryPolicy
from tests.fakes import FakeBackend
from tests.llm import FAST_RETRY, req


async def test_identical_requests_in_flight_are_sent_once() -> None:
    backend = FakeBackend(reply="same", delay=0.05)
    gw = LLMGateway(backend=backend)
    stats = CallStats()
    results = await asyncio.gather(*(gw.complete(req(0), stats) for _ in range(5)))
    assert [r.text for r in results] == ["same"] * 5
    assert len(backend.sent) == 1
    assert stats.calls == 1 and stats.cache_hits == 4


async def test_transient_errors_are_retried_and_counted() -> None:
    backend = FakeBackend(errors=[TransientProviderError("503"), TransientProviderError("429")])
    gw = LLMGateway(backend=backend, retry=FAST_RETRY)
    stats = CallStats()
    reply = await gw.complete(req(), stats)
    assert reply.text == "ok" and reply.attempts == 3
    assert len(backend.sent) == 3
    assert stats.calls == 3 and stats.retries == 2 and gw.stats.retries == 2


async def test_retry_after_is_honoured() -> None:
    backend = FakeBackend(errors=[TransientProviderError("429", retry_after=0.3)])
    gw = LLMGateway(backend=backend, retry=RetryPolicy(max_attempts=3, initial_wait=0.0, max_wait=5.0, jitter=0.0))
    started = time.perf_counter()
    await gw.complete(req(), CallStats())
    assert time.perf_counter() - started >= 0.3


async def test_permanent_error_fails_at_once() -> None:
    backend = FakeBackend(errors=[ProviderError("401 invalid key")])
    gw = LLMGateway(backend=backend, retry=FAST_RETRY)
    stats = CallStats()
    with pytest.raises(ProviderError, match="401 invalid key"):
        await gw.complete(req(), stats)
    assert len(backend.sent) == 1 and stats.failures == 1


async def test_retries_give_up_after_max_attempts() -> None:
    backend = FakeBackend(errors=[TransientProviderError("500")] * 10)
    gw = LLMGateway(backend=backend, retry=FAST_RETRY)
    with pytest.raises(TransientProviderError, match="after 4 attempts"):
        await gw.complete(req(), CallStats())
    assert len(backend.sent) == 4


async def test_per_query_call_limit() -> None:
    gw = LLMGateway(backend=FakeBackend())
    q = gw.for_query(calls_limit=2)
    await q.complete(req(0))
    await q.complete(req(1))
    with pytest.raises(BudgetExceeded, match="more than 2 calls"):
        await q.complete(req(2))


async def test_model_limit_bounds_calls_in_flight() -> None:
    backend = FakeBackend(delay=0.02)
    gw = LLMGateway(backend=backend, model_limits={"openai/test": 2})
    stats = CallStats()
    await asyncio.gather(*(gw.complete(req(i), stats) for i in range(8)))
    assert backend.max_in_flight == 2 and len(backend.sent) == 8
