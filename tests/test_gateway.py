"""The LLM door: cache keys per sample, retries, budget limits, in-flight sharing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from archon_cli.errors import BudgetExceeded, ProviderError, TransientProviderError
from archon_cli.llm.accountant import Budget, BudgetAccountant, CallStats
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway, RetryPolicy
from archon_cli.llm.types import CompletionRequest
from tests.fakes import FakeBackend

FAST_RETRY = RetryPolicy(max_attempts=4, initial_wait=0.001, max_wait=0.01, jitter=0.0)


def req(sample_index: int = 0, content: str = "hi", **kw: object) -> CompletionRequest:
    return CompletionRequest(
        model="openai/test",
        messages=({"role": "user", "content": content},),
        sample_index=sample_index,
        **kw,  # type: ignore[arg-type]
    )


def test_cache_key_separates_samples_and_settings() -> None:
    base = req()
    assert base.cache_key() == req().cache_key()
    assert base.cache_key() != req(sample_index=1).cache_key()
    assert base.cache_key() != req(temperature=0.7).cache_key()
    assert base.cache_key() != req(max_tokens=10).cache_key()
    assert base.cache_key() != req(content="other").cache_key()
    # Where the key lives, how long we wait and who asks do not change the reply: same key.
    assert base.cache_key() == req(api_key_env="SOME_KEY", timeout=5.0, purpose="ranker").cache_key()


async def test_cached_rerun_costs_zero_calls(tmp_path: Path) -> None:
    backend = FakeBackend(reply=lambda r: f"reply {r.sample_index}")
    cache = ResponseCache(tmp_path / "c.sqlite")
    gw = LLMGateway(backend=backend, cache=cache)
    stats = CallStats()
    first = [await gw.complete(req(i), stats) for i in range(3)]
    assert [c.text for c in first] == ["reply 0", "reply 1", "reply 2"]
    assert len(backend.sent) == 3 and stats.calls == 3 and stats.cache_hits == 0
    # A new gateway on the same cache file (a new process, in effect) sends nothing.
    gw2 = LLMGateway(backend=backend, cache=ResponseCache(tmp_path / "c.sqlite"))
    stats2 = CallStats()
    again = [await gw2.complete(req(i), stats2) for i in range(3)]
    assert [c.text for c in again] == ["reply 0", "reply 1", "reply 2"]
    assert all(c.cached for c in again)
    assert len(backend.sent) == 3 and stats2.calls == 0 and stats2.cache_hits == 3
    # The query's figures keep the architecture's usage; the run spent nothing.
    assert stats2.tokens == 3 * 10 and gw2.stats.tokens == 0 and gw2.stats.cost == 0.0


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


async def test_total_call_budget_counts_retries_and_stops_before_the_next_call() -> None:
    backend = FakeBackend(errors=[TransientProviderError("500")])
    gw = LLMGateway(backend=backend, accountant=BudgetAccountant(Budget(total_calls=3)), retry=FAST_RETRY)
    stats = CallStats()
    await gw.complete(req(0), stats)  # 2 sends: a failure and its retry
    await gw.complete(req(1), stats)  # the third
    with pytest.raises(BudgetExceeded, match="3 of 3 total calls"):
        await gw.complete(req(2), stats)
    assert len(backend.sent) == 3


async def test_per_query_call_limit() -> None:
    gw = LLMGateway(backend=FakeBackend())
    q = gw.for_query(calls_limit=2)
    await q.complete(req(0))
    await q.complete(req(1))
    with pytest.raises(BudgetExceeded, match="more than 2 calls"):
        await q.complete(req(2))


async def test_token_and_dollar_limits() -> None:
    backend = FakeBackend()  # 10 tokens and $0.001 per call
    gw = LLMGateway(backend=backend, accountant=BudgetAccountant(Budget(total_tokens=20)))
    stats = CallStats()
    await gw.complete(req(0), stats)
    await gw.complete(req(1), stats)
    with pytest.raises(BudgetExceeded, match="tokens"):
        await gw.complete(req(2), stats)
    gw2 = LLMGateway(backend=FakeBackend(), accountant=BudgetAccountant(Budget(dollars=0.0015)))
    await gw2.complete(req(0), stats)
    await gw2.complete(req(1), stats)
    with pytest.raises(BudgetExceeded, match=r"\$"):
        await gw2.complete(req(2), stats)


async def test_model_limit_bounds_calls_in_flight() -> None:
    backend = FakeBackend(delay=0.02)
    gw = LLMGateway(backend=backend, model_limits={"openai/test": 2})
    stats = CallStats()
    await asyncio.gather(*(gw.complete(req(i), stats) for i in range(8)))
    assert backend.max_in_flight == 2 and len(backend.sent) == 8


def test_cache_is_shared_across_connections(tmp_path: Path) -> None:
    a = ResponseCache(tmp_path / "shared.sqlite")
    b = ResponseCache(tmp_path / "shared.sqlite")
    from archon_cli.llm.types import Completion

    a.put(req(0), Completion(text="from a"))
    hit = b.get(req(0))
    assert hit is not None and hit.text == "from a" and hit.cached
    assert b.get(req(1)) is None
    assert len(a) == 1
