"""Cache values are not trusted: an entry in SQLite or Redis whose values cannot be a reply (valid
JSON of the wrong shape, tokens out of range, a cost that is NaN, inf or negative, text null or far
longer than max_tokens allows, a Redis key of another type) is a miss, counted, and replaced by the
reply sent for it. The cache stays on for the rest of the run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from archon_cli.llm.accountant import CallStats
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.cache_redis import KEY_PREFIX, RedisResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import run_cli
from tests.fakes import FakeBackend
from tests.llm import req
from tests.reliability import eval_args, summary_json, write_architecture

GOOD = {"text": "fine", "prompt_tokens": 5, "completion_tokens": 2, "cost": 0.25}
POISON: list[dict[str, Any]] = [
    {**GOOD, "prompt_tokens": -1_000_000},
    {**GOOD, "completion_tokens": 1e30},
    {**GOOD, "prompt_tokens": "12"},
    {**GOOD, "cost": float("nan")},
    {**GOOD, "cost": float("inf")},
    {**GOOD, "cost": -1000.5},
    {**GOOD, "text": None},
    {**GOOD, "text": "x" * 5_000_000},
    {**GOOD, "completion_tokens": True},
]


async def _served(cache: Any, poison: int) -> None:
    """Each poisoned key is a miss, sent again, counted and replaced; the cache stays on."""
    backend = FakeBackend(reply=lambda r: f"reply {r.sample_index}")
    gateway = LLMGateway(backend=backend, cache=cache)
    stats = CallStats()
    for i in range(poison):
        completion = await gateway.complete(req(i), stats)
        assert completion.text == f"reply {i}" and not completion.cached
    assert len(backend.sent) == poison and cache.bad_entries == poison
    assert 0 <= stats.cost < 1 and 0 <= stats.prompt_tokens < 1000  # what the fake billed, not the poison
    for i in range(poison):  # replaced: hits now, nothing sent
        hit = cache.get(req(i))
        assert hit is not None and hit.text == f"reply {i}"
    assert len(backend.sent) == poison and cache.bad_entries == poison


async def test_poisoned_sqlite_entries_are_misses_counted_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    db = sqlite3.connect(str(path))  # a table anyone could have made: no types, no constraints
    db.execute("CREATE TABLE responses (key PRIMARY KEY, model, text, prompt_tokens, completion_tokens, cost, created)")
    poison = [p for p in POISON if p["completion_tokens"] is not True]  # SQLite stores True as 1, a fine count
    for i, bad in enumerate(poison):
        db.execute(
            "INSERT INTO responses VALUES (?, 'openai/test', ?, ?, ?, ?, 0)",
            (req(i).cache_key(), bad["text"], bad["prompt_tokens"], bad["completion_tokens"], bad["cost"]),
        )
    db.commit()
    db.close()
    await _served(ResponseCache(path), len(poison))


async def test_poisoned_redis_values_and_keys_of_another_type_are_misses(redis_url: str) -> None:
    cache = RedisResponseCache(redis_url)
    for i, bad in enumerate(POISON):
        cache._db.set(KEY_PREFIX + req(i).cache_key(), json.dumps(bad))
    n = len(POISON)
    cache._db.set(KEY_PREFIX + req(n).cache_key(), json.dumps([1, 2]))
    cache._db.hset(KEY_PREFIX + req(n + 1).cache_key(), "text", "a hash")  # WRONGTYPE for GET
    await _served(cache, n + 2)


def test_a_poisoned_cache_is_counted_in_the_eval_summary(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(seed=4)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        first = run_cli(*eval_args(arch, tmp_path / "a", tmp_path / "cache", 6), timeout=180)
        assert first.code == 0, first.stderr
        db = sqlite3.connect(str(tmp_path / "cache" / "responses.sqlite"))
        db.execute("UPDATE responses SET cost = -1000.5, prompt_tokens = 1000000000000")
        db.commit()
        db.close()
        sent = server.stats()["requests"]
        second = run_cli(*eval_args(arch, tmp_path / "b", tmp_path / "cache", 6), timeout=180)
        assert second.code == 0, second.stderr
        summary = summary_json(second.stdout)
        assert summary["this_run"]["bad_cache_entries"] == 6 and summary["this_run"]["calls"] == 6
        assert server.stats()["requests"] == sent + 6
        assert 0 <= summary["cost_per_query"] < 1 and summary["tokens_per_query"] < 10_000
        third = run_cli(*eval_args(arch, tmp_path / "c", tmp_path / "cache", 6), timeout=180)
    again = summary_json(third.stdout)
    assert again["this_run"]["bad_cache_entries"] == 0 and again["this_run"]["cache_hits"] == 6


async def test_a_cancelled_sender_does_not_cancel_the_request_waiting_on_its_reply() -> None:
    """Two queries ask the same thing at once: the second waits on the first's send. When the
    first is cancelled (its server client left), the second sends it itself (it was cancelled too,
    and its client got a 500)."""
    import asyncio

    backend = FakeBackend(reply="shared", delay=0.2)
    gateway = LLMGateway(backend=backend)
    first = asyncio.ensure_future(gateway.complete(req(0), CallStats()))
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(gateway.complete(req(0), CallStats()))
    await asyncio.sleep(0.05)
    first.cancel()
    completion = await second
    assert completion.text == "shared" and len(backend.sent) == 2
