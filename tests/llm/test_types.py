"""Requests: the cache key separates samples and settings, and nothing else."""

from __future__ import annotations

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
