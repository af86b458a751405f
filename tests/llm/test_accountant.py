"""The budget accountant: every send counted, retries included; each send reserves its worst case
first, so a limit holds for what is sent, not only for what has returned."""

from __future__ import annotations

import asyncio

import pytest

from archon_cli.errors import BudgetExceeded, TransientProviderError
from archon_cli.llm.accountant import TOKENS_PAST_MAX, Budget, BudgetAccountant, CallStats, Spend, prompt_token_bound
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest, Usage
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


class _MeteredBackend(FakeBackend):
    """Bills like a provider: prompt words, ``reply_tokens`` (at most max_tokens), priced per token."""

    def __init__(self, reply_tokens: int = 5, per_token: float = 1e-5, delay: float = 0.0) -> None:
        super().__init__(delay=delay)
        self.reply_tokens = reply_tokens
        self.per_token = per_token
        self.billed = Usage()

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        text, _ = await super().complete(request)
        prompt = sum(len(m["content"].split()) for m in request.messages)
        completion = min(self.reply_tokens, request.max_tokens)
        usage = Usage(prompt, completion, self.price(request.model, prompt, completion))
        b = self.billed
        self.billed = Usage(b.prompt_tokens + prompt, b.completion_tokens + completion, b.cost + usage.cost)
        return text, usage

    def price(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens + completion_tokens) * self.per_token


@pytest.mark.parametrize("limit", [Budget(total_tokens=300), Budget(dollars=0.003)])
async def test_token_and_dollar_limits_hold_for_what_is_sent(limit: Budget) -> None:
    """Fifty sends at once: each reserves its worst case before it goes, so what is spent stays
    within the limit (it overshot 16x when only what had returned was compared)."""
    backend = _MeteredBackend(delay=0.01)
    gw = LLMGateway(backend=backend, accountant=BudgetAccountant(limit))
    results = await asyncio.gather(
        *(gw.complete(req(i, max_tokens=16), CallStats()) for i in range(50)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert refused and len(refused) + len(backend.sent) == 50
    spent = gw.accountant.spent
    assert (spent.tokens, spent.dollars) == (backend.billed.total_tokens, pytest.approx(backend.billed.cost))
    assert spent.tokens <= (limit.total_tokens or 10**9) and spent.dollars <= (limit.dollars or 1.0)
    # Reservations free what replies did not use: far more sends fit than worst cases would.
    worst = gw.worst_case(req(0, max_tokens=16))
    fits = limit.total_tokens // worst.tokens if limit.total_tokens else int(limit.dollars / worst.dollars)  # type: ignore[operator]
    assert len(backend.sent) > fits
    assert gw.accountant.held == Spend()


async def test_a_send_whose_worst_case_cannot_fit_is_refused_before_it_goes() -> None:
    backend = _MeteredBackend()
    gw = LLMGateway(backend=backend, accountant=BudgetAccountant(Budget(total_tokens=100)))
    with pytest.raises(BudgetExceeded, match=r"0 of 100 tokens used \(the next call may use up to"):
        await gw.complete(req(0, max_tokens=256), CallStats())
    assert backend.sent == []


def test_reserve_settle_release() -> None:
    accountant = BudgetAccountant(Budget(total_calls=3, total_tokens=100))
    first = accountant.try_reserve("m", Spend(calls=1, tokens=60))
    assert first is not None and accountant.held == Spend(1, 60)
    assert accountant.try_reserve("m", Spend(calls=1, tokens=60)) is None  # wait: the first may use less
    accountant.settle(first, Usage(prompt_tokens=10, completion_tokens=5))
    assert accountant.spent == Spend(1, 15) and accountant.held == Spend()
    # One request carrying several samples reserves them together.
    several = accountant.try_reserve("m", Spend(calls=1, tokens=3 * 25))
    assert several is not None
    accountant.release(several)  # never sent: nothing counted
    assert accountant.spent == Spend(1, 15) and accountant.held == Spend()
    failed = accountant.try_reserve("m", Spend(calls=1, tokens=80))
    assert failed is not None
    accountant.settle(failed)  # a failed send is a call, with no tokens known
    accountant.settle(failed)  # settling twice counts once
    assert accountant.spent == Spend(2, 15) and dict(accountant.per_model) == {"m": 2}
    with pytest.raises(BudgetExceeded, match="tokens"):
        accountant.try_reserve("m", Spend(calls=1, tokens=86))
    last = accountant.try_reserve("m", Spend(calls=1, tokens=85))
    assert last is not None
    accountant.settle(last)
    with pytest.raises(BudgetExceeded, match="3 of 3 total calls sent"):
        accountant.try_reserve("m", Spend(calls=1))


async def test_a_reservation_waits_for_sends_in_flight_to_settle() -> None:
    accountant = BudgetAccountant(Budget(total_tokens=100))
    first = await accountant.reserve("m", Spend(calls=1, tokens=70))
    waiting = asyncio.ensure_future(accountant.reserve("m", Spend(calls=1, tokens=70)))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    accountant.settle(first, Usage(prompt_tokens=20, completion_tokens=10))
    second = await asyncio.wait_for(waiting, 1.0)
    assert second.worst.tokens == 70 and accountant.held.tokens == 70


def test_call_stats_merge_and_difference() -> None:
    a = CallStats(calls=3, cache_hits=1, retries=1, prompt_tokens=30, completion_tokens=6, cost=0.5)
    a.parse_failures["ranker"] += 2
    before = a.copy()
    a.merge(CallStats(calls=2, prompt_tokens=5, cost=0.25))
    assert (a.calls, a.prompt_tokens, a.cost, before.calls) == (5, 35, 0.75, 3)
    since = a.since(before)
    assert since.as_dict() == {**CallStats(calls=2, prompt_tokens=5, cost=0.25).as_dict()}
    assert a.record_fields()["parse_failures"] == {"ranker": 2} and "failures" not in a.record_fields()


@pytest.mark.local_model
async def test_the_prompt_bound_holds_for_the_embedded_models(local_model_available: None) -> None:
    """The reservation's prompt bound is never below what the models' own tokenizers count, chat
    template included (short, symbol-heavy and non-Latin prompts are the tight cases); a reply may
    run a few tokens past max_tokens to finish a multi-byte character (llama.cpp does)."""
    from archon_cli.llm.local_models import LocalModelPool

    prompts = [
        ({"role": "user", "content": "a"},),
        ({"role": "user", "content": "}{)(*&^%$#@!~`|" * 30},),
        ({"role": "user", "content": "日本語の文章、ελληνικά, ру́сский. " * 10},),
        ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 3?"}),
    ]
    pool = LocalModelPool()
    for name in ("smollm2-135m", "gemma-3-270m"):
        for messages in prompts:
            request = CompletionRequest(model=f"local/{name}", messages=messages, max_tokens=4)
            reply = await pool.get(name).complete(request)
            assert 0 < reply.prompt_tokens <= prompt_token_bound(messages), (name, messages, reply.prompt_tokens)
            assert reply.completion_tokens <= 4 + TOKENS_PAST_MAX


def test_settled_grants_of_workers_free_what_they_held() -> None:
    """A search worker's grant, settled with what it spent, no longer holds room (two settled grants
    of 75 left 150 held, and a parallel search stopped at 168 of 400 calls)."""
    accountant = BudgetAccountant(Budget(total_calls=400))
    first = accountant.try_reserve("search-workers", Spend(75, 0, 0.0))
    second = accountant.try_reserve("search-workers", Spend(75, 0, 0.0))
    assert first is not None and second is not None and accountant.held == Spend(150, 0, 0.0)
    accountant.settle_stats(first, CallStats(calls=40, requests=40))
    assert accountant.held == Spend(75, 0, 0.0)
    accountant.settle_stats(second, CallStats(calls=70, requests=70))
    assert accountant.held == Spend() and accountant.spent.calls == 110
    # What is left can be granted whole: 400 - 110.
    assert accountant.try_reserve("search-workers", Spend(290, 0, 0.0)) is not None
