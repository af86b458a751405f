"""Several samples of one prompt in one request (``n``), against a loopback OpenAI-compatible server:
one request where the route takes ``n``, one per sample where it does not; every sample cached under
its own slot; a partly cached generator asks only for the rest; a failed ``n`` request is retried
as a whole, and the counters and the budget witness hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon_cli.config import parse_architecture
from archon_cli.engine.runner import ArchitectureRunner, QueryResult
from archon_cli.errors import BudgetExceeded
from archon_cli.llm.accountant import Budget, BudgetAccountant, CallStats
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.samples import split_usage
from archon_cli.llm.types import CompletionRequest, Usage
from archon_cli.state import Query
from archon_cli.testing import FaultPlan, FaultServer
from tests.llm import FAST_RETRY

N_MODEL = "openai/fake-model"  # LiteLLM lists `n` for the openai route
NO_N_MODEL = "lemonade/fake-model"  # an OpenAI-compatible route for which LiteLLM lists no `n`
QUESTION = "Name a colour."


def generator(api_base: str, samples: int, model: str = N_MODEL, temperature: float = 0.7) -> Any:
    arch, _ = parse_architecture(
        {
            "name": f"g{samples}",
            "layers": [
                [
                    {
                        "type": "generator",
                        "model": model,
                        "api_base": api_base,
                        "samples": samples,
                        "temperature": temperature,
                        "max_tokens": 16,
                    }
                ]
            ],
        }
    )
    return arch


async def run(gateway: LLMGateway, arch: Any) -> QueryResult:
    result = await ArchitectureRunner(arch, gateway).run(Query.from_prompt(QUESTION))
    assert result.ok, result.error
    return result


def texts(result: QueryResult) -> list[str]:
    return [c.text for c in result.layers[0].candidates]


@pytest.mark.parametrize(("model", "requests"), [(N_MODEL, 1), (NO_N_MODEL, 10)])
async def test_ten_samples_are_one_request_where_n_is_supported_and_ten_where_not(
    tmp_path: Path, model: str, requests: int
) -> None:
    with FaultServer(FaultPlan()) as server:
        gateway = LLMGateway(cache=ResponseCache(tmp_path / "cache.sqlite"))
        result = await run(gateway, generator(server.api_base, 10, model))
        seen = server.stats()
    assert seen["requests"] == result.stats.requests == gateway.stats.requests == requests
    assert seen["n_requests"] == (1 if requests == 1 else 0)
    # Samples are calls either way: the budget and the static count do not change.
    assert result.stats.calls == gateway.stats.calls == seen["choices"] == 10
    assert len(set(texts(result))) == 10  # ten independent samples, not one copied
    # Usage is the server's bill (the prompt once per request, completions summed), shared out.
    assert gateway.stats.prompt_tokens == seen["prompt_tokens"]
    assert gateway.stats.completion_tokens == seen["completion_tokens"]


async def test_one_n_request_gets_the_same_samples_as_ten_requests(tmp_path: Path) -> None:
    """The server's n choices are the next n draws of the prompt, so the two routes agree."""
    with FaultServer(FaultPlan()) as one, FaultServer(FaultPlan()) as ten:
        together = await run(LLMGateway(cache=None), generator(one.api_base, 10, N_MODEL))
        apart = await run(LLMGateway(cache=None), generator(ten.api_base, 10, NO_N_MODEL))
    assert sorted(texts(together)) == sorted(texts(apart))


async def test_a_greedy_call_of_the_prompt_takes_no_draw_from_the_server(tmp_path: Path) -> None:
    """The server's samples of a prompt are the same whether a greedy call of it came before or
    not, so a search whose stage 1 (greedy) runs beside its trials gets the same replies."""
    with FaultServer(FaultPlan()) as after, FaultServer(FaultPlan()) as alone:
        greedy = await run(LLMGateway(cache=None), generator(after.api_base, 1, temperature=0.0))
        sampled = await run(LLMGateway(cache=None), generator(after.api_base, 4))
        only = await run(LLMGateway(cache=None), generator(alone.api_base, 4))
    assert greedy.stats.requests == 1 and texts(sampled) == texts(only)


async def test_the_cache_serves_each_sample_of_an_n_request_on_its_own(tmp_path: Path) -> None:
    with FaultServer(FaultPlan()) as server:
        gateway = LLMGateway(cache=ResponseCache(tmp_path / "cache.sqlite"))
        first = await run(gateway, generator(server.api_base, 10))
        again = await run(gateway, generator(server.api_base, 10))
        fewer = await run(gateway, generator(server.api_base, 3))
        seen = server.stats()
    assert seen["requests"] == 1
    assert (again.stats.calls, again.stats.requests, again.stats.cache_hits) == (0, 0, 10)
    assert texts(again) == texts(first)
    # A generator with fewer samples takes the first slots, each a cache entry of its own.
    assert (fewer.stats.calls, fewer.stats.requests, fewer.stats.cache_hits) == (0, 0, 3)
    assert texts(fewer) == texts(first)[:3]
    # Each sample's share of the usage is served with it: ten shares add up to the bill.
    assert again.stats.prompt_tokens == first.stats.prompt_tokens == seen["prompt_tokens"]
    assert again.stats.completion_tokens == first.stats.completion_tokens == seen["completion_tokens"]


async def test_a_partly_cached_generator_asks_only_for_the_rest(tmp_path: Path) -> None:
    with FaultServer(FaultPlan()) as server:
        gateway = LLMGateway(cache=ResponseCache(tmp_path / "cache.sqlite"))
        three = await run(gateway, generator(server.api_base, 3))
        assert server.stats()["choices"] == 3
        ten = await run(gateway, generator(server.api_base, 10))
        seen = server.stats()
    assert seen["requests"] == 2 and seen["n_requests"] == 2
    assert seen["choices"] == 3 + 7  # the second request asked for the 7 missing samples only
    assert (ten.stats.calls, ten.stats.requests, ten.stats.cache_hits) == (7, 1, 3)
    assert texts(ten)[:3] == texts(three)
    assert len(set(texts(ten))) == 10


async def test_a_failed_n_request_is_retried_as_a_whole_and_counted_once(tmp_path: Path) -> None:
    """The first request (n = 10) is answered HTTP 500; the resend asks for all ten again. Its
    samples count once (calls - retries), the resend's ten as retries; the witness holds."""
    with FaultServer(FaultPlan(fail_first=1)) as server:
        gateway = LLMGateway(cache=ResponseCache(tmp_path / "cache.sqlite"), retry=FAST_RETRY)
        result = await run(gateway, generator(server.api_base, 10))
        seen = server.stats()
    assert seen["by_kind"]["error_500"] == 1 and seen["by_kind"]["ok"] == 1
    assert seen["n_requests"] == 2 and seen["choices"] == 10  # both asked for n = 10
    stats = result.stats
    assert (stats.calls, stats.retries, stats.requests) == (20, 10, 2)
    assert stats.calls - stats.retries == 10  # the samples, once
    assert gateway.stats.calls == 20 and gateway.stats.retries == 10 and gateway.stats.requests == 2
    assert seen["requests"] <= gateway.stats.requests  # the budget witness
    assert seen["requests"] <= gateway.stats.calls
    assert len(set(texts(result))) == 10


async def test_a_server_that_ignores_n_gets_the_missing_samples_one_request_each(tmp_path: Path) -> None:
    """Some OpenAI-compatible servers answer one choice whatever n says: the other nine are sent
    again (as retries), one request each, and the route is remembered."""
    with FaultServer(FaultPlan(ignore_n=True)) as server:
        gateway = LLMGateway(cache=None)
        first = await run(gateway, generator(server.api_base, 10))
        assert server.stats()["requests"] == 1 + 9
        second = await run(gateway, generator(server.api_base, 10, temperature=0.5))
        seen = server.stats()
    assert (first.stats.calls, first.stats.retries, first.stats.requests) == (10 + 9, 9, 10)
    assert len(set(texts(first))) == 10
    assert (second.stats.calls, second.stats.retries, second.stats.requests) == (10, 0, 10)
    assert seen["requests"] == 20 and seen["choices"] == 20


async def test_at_temperature_zero_ten_samples_are_one_draw(tmp_path: Path) -> None:
    with FaultServer(FaultPlan()) as server:
        gateway = LLMGateway(cache=None)
        result = await run(gateway, generator(server.api_base, 10, temperature=0.0))
        seen = server.stats()
    assert seen["requests"] == 1 and seen["n_requests"] == 0
    assert (result.stats.calls, result.stats.cache_hits) == (1, 9)
    assert len(set(texts(result))) == 1


async def test_an_n_request_reserves_all_its_samples_against_the_budget() -> None:
    with FaultServer(FaultPlan()) as server:
        arch = generator(server.api_base, 10)
        # Calls per query: the query needs ten calls, nothing is sent.
        gateway = LLMGateway(cache=None)
        query = gateway.for_query(calls_limit=9)
        request = CompletionRequest(
            model=N_MODEL, messages=({"role": "user", "content": QUESTION},), temperature=0.7, api_base=server.api_base
        )
        with pytest.raises(BudgetExceeded):
            await query.complete_samples(request, 10)
        # A whole-run limit of 9 calls: the one request would carry ten samples, so it is refused.
        tight = LLMGateway(cache=None, accountant=BudgetAccountant(Budget(total_calls=9)))
        with pytest.raises(BudgetExceeded, match=r"0 of 9 total calls sent \(the next request carries 10 samples\)"):
            await ArchitectureRunner(arch, tight).run(Query.from_prompt(QUESTION))
        # A limit of 10 pays for exactly the ten samples, in one request.
        exact = LLMGateway(cache=None, accountant=BudgetAccountant(Budget(total_calls=10)))
        paid = await run(exact, arch)
        seen = server.stats()
    assert tight.stats.calls == tight.stats.requests == 0
    assert paid.stats.calls == exact.stats.calls == 10 and exact.stats.requests == 1
    assert seen["requests"] == 1


def test_usage_is_shared_out_over_the_samples_and_adds_up() -> None:
    parts = split_usage(Usage(prompt_tokens=23, completion_tokens=41, cost=0.3), 4)
    assert [p.prompt_tokens for p in parts] == [6, 6, 6, 5]
    assert [p.completion_tokens for p in parts] == [11, 10, 10, 10]
    assert sum(p.prompt_tokens for p in parts) == 23 and sum(p.completion_tokens for p in parts) == 41
    assert sum(p.cost for p in parts) == pytest.approx(0.3)
    assert split_usage(Usage(5, 5, 0.1), 1) == [Usage(5, 5, 0.1)]


def test_call_stats_count_requests_apart_from_calls() -> None:
    stats = CallStats(calls=10, requests=1)
    other = CallStats(calls=3, requests=3, retries=1)
    stats.merge(other)
    assert (stats.calls, stats.requests) == (13, 4)
    assert stats.since(other).requests == 1
    assert stats.record_fields()["requests"] == 4
