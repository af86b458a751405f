"""Requests: the cache key separates samples and settings, and nothing else."""

from __future__ import annotations

from archon_cli.llm.types import SampleSlots
from tests.llm import req


def test_cache_key_separates_samples_and_settings() -> None:
    base = req()
    assert base.cache_key() == req().cache_key()
    assert base.cache_key() != req(sample_index=1).cache_key()
    assert base.cache_key() != req(temperature=0.7).cache_key()
    assert base.cache_key() != req(max_tokens=10).cache_key()
    assert base.cache_key() != req(content="other").cache_key()
    # Where the key lives, how long we wait and who asks do not change the reply: same key.
    assert base.cache_key() == req(api_key_env="SOME_KEY", timeout=5.0, purpose="ranker").cache_key()


def test_prompt_key_is_the_cache_key_without_the_slot() -> None:
    assert req(sample_index=0).prompt_key() == req(sample_index=7).prompt_key()
    assert req().prompt_key() != req(content="other").prompt_key()
    assert req().prompt_key() != req().cache_key()


def test_sample_slots_count_draws_of_each_prompt() -> None:
    slots = SampleSlots()
    hot = [slots.assign(req(temperature=0.7)) for _ in range(3)]
    other = slots.assign(req(temperature=0.7, content="other"))
    assert [r.sample_index for r in hot] == [0, 1, 2] and other.sample_index == 0
    # Whatever slot a caller asked for, the query's own count decides.
    assert slots.assign(req(sample_index=9, temperature=0.7)).sample_index == 3
    # A new query starts again at slot 0, so the same shape meets the same cached replies.
    assert SampleSlots().assign(req(temperature=0.7)).sample_index == 0


def test_greedy_requests_share_slot_zero() -> None:
    slots = SampleSlots()
    assert {slots.assign(req(sample_index=i, temperature=0.0)).sample_index for i in range(4)} == {0}
    assert len({slots.assign(req(temperature=0.0)).cache_key() for _ in range(3)}) == 1
