"""The response cache in Redis (``--cache-url``), against a real redis-server on a loopback port:
same keys and rules as SQLite, shared by every process that names the same URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_cli.errors import ProviderError, UserError
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.cache_redis import KEY_PREFIX, RedisResponseCache, check_cache_url
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import Completion, Usage
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import assert_user_error, run_cli
from tests.fakes import FakeBackend
from tests.llm import FAST_RETRY, req
from tests.redis_server import redis_server


def test_same_keys_as_sqlite_and_shared_by_connections(redis_url: str) -> None:
    a, b = RedisResponseCache(redis_url), RedisResponseCache(redis_url)
    a.put(req(0), Completion(text="slot 0", usage=Usage(5, 2, 0.25)))
    hit = b.get(req(0))
    assert hit is not None and hit.text == "slot 0" and hit.cached and hit.attempts == 0
    assert (hit.usage.prompt_tokens, hit.usage.completion_tokens, hit.usage.cost) == (5, 2, 0.25)
    assert b.get(req(1)) is None  # another sample slot is another draw
    assert b.get(req(0, temperature=0.7)) is None  # other sampling settings
    assert b.get(req(0, content="other")) is None
    assert len(a) == 1
    raw = json.loads(a._db.get(KEY_PREFIX + req(0).cache_key()))
    assert raw["model"] == "openai/test" and raw["text"] == "slot 0"


async def test_a_second_gateway_sends_nothing_and_failures_are_not_stored(redis_url: str) -> None:
    backend = FakeBackend(reply=lambda r: f"reply {r.sample_index}", errors=[ProviderError("refused")])
    gw = LLMGateway(backend=backend, cache=RedisResponseCache(redis_url), retry=FAST_RETRY)
    with pytest.raises(ProviderError):
        await gw.complete(req(9), CallStats())
    assert gw.cache is not None and gw.cache.get(req(9)) is None  # successful replies only
    first = [await gw.complete(req(i), CallStats()) for i in range(3)]
    sent = len(backend.sent)
    gw2 = LLMGateway(backend=backend, cache=RedisResponseCache(redis_url))
    stats = CallStats()
    again = [await gw2.complete(req(i), stats) for i in range(3)]
    assert [c.text for c in again] == [c.text for c in first] and all(c.cached for c in again)
    assert len(backend.sent) == sent and stats.calls == 0 and stats.cache_hits == 3


def test_a_server_lost_mid_run_turns_the_cache_off_with_one_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    with redis_server(tmp_path / "r") as (url, proc):
        cache = RedisResponseCache(url, on_warning=warnings.append, timeout=1.0)
        cache.put(req(0), Completion(text="kept"))
        proc.kill()
        proc.wait()
        assert cache.get(req(0)) is None and cache.get(req(1)) is None
        cache.put(req(2), Completion(text="lost"))
    assert len(warnings) == 1 and "going on without it" in warnings[0]


def test_bad_urls_and_unreachable_servers_are_one_line_errors() -> None:
    for url in ("http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:6379/abc"):
        with pytest.raises(UserError):
            check_cache_url(url)
    with pytest.raises(UserError, match="cannot reach the Redis server"):
        RedisResponseCache("redis://127.0.0.1:1/0", timeout=0.5)
    result = run_cli("search", "-b", "tiny-arith", "--budget", "4", "--cache-url", "redis://127.0.0.1:1/0")
    assert_user_error(result, "cannot reach the Redis server")
    result = run_cli("search", "-b", "tiny-arith", "--budget", "4", "--cache-url", "redis://h/0", "--no-cache")
    assert_user_error(result, "--cache-url or --no-cache")


def test_a_second_search_over_the_same_redis_sends_no_request(tmp_path: Path, redis_url: str) -> None:
    with FaultServer(FaultPlan(latency=0.01, seed=2)) as server:
        pool = tmp_path / "pool.yaml"
        pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {server.api_base}\n", encoding="utf-8")

        def search(results: str) -> list[str]:
            return [
                *("search", "-b", "tiny-arith", "--budget", "3", "--pool", str(pool), "--algorithm", "random"),
                *("--trials", "3", "--limit", "6", "--test-limit", "4", "--final-k", "1", "--seed", "2"),
                *("--results-dir", str(tmp_path / results), "--cache-url", redis_url, "--json"),
            ]

        first = run_cli(*search("first"), timeout=240)
        assert first.code == 0, first.stderr
        sent = server.stats()["requests"]
        assert sent > 0
        second = run_cli(*search("second"), timeout=240)
        assert second.code == 0, second.stderr
        assert server.stats()["requests"] == sent
    a, b = json.loads(first.stdout.splitlines()[-1]), json.loads(second.stdout.splitlines()[-1])
    assert b["calls_sent_this_run"] == 0 and a["best"]["arch_id"] == b["best"]["arch_id"]
