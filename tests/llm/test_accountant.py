"""The budget accountant: every send counted, retries included; a limit stops the next send."""

from __future__ import annotations

import pytest

from archon_cli.errors import BudgetExceeded, TransientProviderError
from archon_cli.llm.accountant import Budget, BudgetAccountant, CallStats
from archon_cli.llm.gateway import LLMGateway
from tests.fakes import FakeBackend
from tests.llm import FAST_RETRY, req


async def test_total_call_budget_counts_retries_and_stops_before_the_next_call() -> None:
    backend = FakeBackend(errors=[TransientProviderError("500")])
    gw = LLMGateway(backend=backend, accountant=BudgetAccountant(Budget(total_calls=3)), retry=FAST_RETRY)
    stats = CallStats()
    await gw.complete(req(0), stats)  # 2 sends: a failure and its retry
    await gw.complete(req(1), stats)  # the third
    with pytest.raises(BudgetExceeded, match="3 of 3 total calls"):
        await gw.complete(req(2), stats)
    assert len(backend.sent) == 3


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


def test_authorize_send_counts_and_refuses_past_the_limit() -> None:
    accountant = BudgetAccountant(Budget(total_calls=2))
    accountant.authorize_send("openai/a")
    accountant.authorize_send("openai/b")
    with pytest.raises(BudgetExceeded, match="2 of 2 total calls"):
        accountant.authorize_send("openai/a")
    assert accountant.stats.calls == 2 and dict(accountant.per_model) == {"openai/a": 1, "openai/b": 1}


def test_call_stats_merge_and_difference() -> None:
    a = CallStats(calls=3, cache_hits=1, retries=1, prompt_tokens=30, completion_tokens=6, cost=0.5)
    a.parse_failures["ranker"] += 2
    before = a.copy()
    a.merge(CallStats(calls=2, prompt_tokens=5, cost=0.25))
    assert (a.calls, a.prompt_tokens, a.cost, before.calls) == (5, 35, 0.75, 3)
    since = a.since(before)
    assert since.as_dict() == {**CallStats(calls=2, prompt_tokens=5, cost=0.25).as_dict()}
    assert a.record_fields()["parse_failures"] == {"ranker": 2} and "failures" not in a.record_fields()
