"""`archon serve` applies an adaptive vote's stopping rule per request: the model card shows the
static count (the cap), each reply what the request spent."""

from __future__ import annotations

import httpx

from archon_cli.testing import FaultPlan, FaultServer
from tests.server import architecture, generator_layer, start_server


def test_each_request_stops_once_its_vote_is_decided() -> None:
    with FaultServer(FaultPlan(wrong_rate=0.0)) as provider:
        arch = architecture(
            "adaptive",
            generator_layer("openai/fake-model", provider.api_base, samples=10),
            [{"type": "majority_vote", "stop": {"rule": "beta", "confidence": 0.95}}],
        )
        with start_server([arch]) as server:
            card = httpx.get(f"{server.url}/v1/models", timeout=30).json()["data"][0]
            assert card["archon"]["calls"] == 10
            for question, answer in (("What is 3 + 4?", "7"), ("What is 9 - 5?", "4")):
                body = {"model": "adaptive", "messages": [{"role": "user", "content": question}]}
                reply = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=60).json()
                assert reply["choices"][0]["message"]["content"] == answer
                assert reply["archon"]["calls"] == 4  # four agreeing samples decide beta 0.95
        seen = provider.stats()
        assert seen["choices"] == 8 and seen["requests"] == 6  # per request: n = 2, then two of n = 1
