"""The response cache: shared by connections and processes; a re-run costs no call."""

from __future__ import annotations

import os
from pathlib import Path

from archon_cli.llm.accountant import CallStats
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import Completion
from tests.fakes import FakeBackend
from tests.llm import req


def test_cache_is_shared_across_connections(tmp_path: Path) -> None:
    a = ResponseCache(tmp_path / "shared.sqlite")
    b = ResponseCache(tmp_path / "shared.sqlite")

    a.put(req(0), Completion(text="from a"))
    hit = b.get(req(0))
    assert hit is not None and hit.text == "from a" and hit.cached
    assert b.get(req(1)) is None
    assert len(a) == 1


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


def test_a_damaged_cache_is_moved_aside_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite"
    cache = ResponseCache(path)
    for i in range(2000):  # enough rows for several pages
        cache.put(req(i, content="x" * 300), Completion(text="y" * 500))
    cache.close()
    with path.open("r+b") as f:  # overwrite pages in the middle: "database disk image is malformed"
        f.seek(4096 * 5)
        f.write(os.urandom(4096 * 3))
    heard: list[str] = []
    rebuilt = ResponseCache(path, on_warning=heard.append)
    assert len(rebuilt) == 0 and len(heard) == 1
    assert "was damaged" in heard[0] and "starting an empty one" in heard[0]
    assert len(list(tmp_path.glob("responses.sqlite.damaged-*"))) == 1
    rebuilt.put(req(0), Completion(text="again"))
    assert rebuilt.get(req(0)) is not None


def test_a_cache_failing_mid_run_is_turned_off_with_one_warning(tmp_path: Path) -> None:
    heard: list[str] = []
    cache = ResponseCache(tmp_path / "c.sqlite", on_warning=heard.append)
    cache._db.close()  # the file vanishes under us, in effect: every statement now fails
    assert cache.get(req(0)) is None
    cache.put(req(0), Completion(text="x"))
    assert cache.get(req(1)) is None
    assert len(heard) == 1 and "going on without it" in heard[0]
