"""Calls over replicas (``--router FILE``): a litellm.Router behind the one door, against two
loopback OpenAI-compatible servers. The gateway's retry and counters stay the only ones."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from archon_cli.config.router_file import load_router_file
from archon_cli.errors import ConfigError
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway, RetryPolicy
from archon_cli.llm.router import RouterBackend
from archon_cli.llm.types import CompletionRequest
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import assert_user_error, run_cli

RETRY = RetryPolicy(max_attempts=6, initial_wait=0.01, max_wait=0.05, jitter=0.0)


def router_file(path: Path, api_bases: list[str], **extra: object) -> Path:
    data = {
        "model_list": [
            {
                "model_name": "fake",
                "litellm_params": {"model": "openai/fake-model", "api_base": b, "api_key": "sk-none", "rpm": 6000},
            }
            for b in api_bases
        ],
        "routing_strategy": "simple-shuffle",
        **extra,
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def question(i: int) -> CompletionRequest:
    return CompletionRequest(
        model="fake", messages=({"role": "user", "content": f"What is {i % 9 + 1} + {i % 7 + 1}? #{i}"},), max_tokens=8
    )


async def _ask_all(gateway: LLMGateway, n: int, on_sent: object = None, width: int = 4) -> list[str]:
    sem = asyncio.Semaphore(width)
    done = 0

    async def one(i: int) -> str:
        nonlocal done
        async with sem:
            reply = await gateway.complete(question(i), CallStats())
            done += 1
            if callable(on_sent):
                on_sent(done)
            return reply.text

    return await asyncio.gather(*(one(i) for i in range(n)))


def test_calls_spread_over_replicas_and_one_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    a = FaultServer(FaultPlan(latency=0.02, wrong_rate=0.0, seed=1)).start()
    b = FaultServer(FaultPlan(latency=0.02, wrong_rate=0.0, seed=1)).start()
    try:
        config = load_router_file(router_file(tmp_path / "router.yaml", [a.api_base, b.api_base]))
        gateway = LLMGateway(backend=RouterBackend(config), retry=RETRY)
        gateway.check_routes([("fake", None, None)])

        # Spread: both replicas answer a share of 40 calls.
        texts = asyncio.run(_ask_all(gateway, 40))
        assert all(t.strip() for t in texts)
        first_a, first_b = a.stats()["requests"], b.stats()["requests"]
        assert first_a >= 5 and first_b >= 5 and first_a + first_b == gateway.stats.calls == 40

        # Kill one replica after 10 more replies: the rest of the run goes to the other, all answered.
        def kill_b(done: int) -> None:
            if done == 10:
                b.stop()

        more = asyncio.run(_ask_all(gateway, 80, on_sent=kill_b))
        assert len(more) == 80 and all(t.strip() for t in more)
        assert gateway.stats.failures == 0
        # Every send the gateway counted is a request one of the servers saw (or a refused
        # connection to the dead one): the Router added no request of its own.
        seen = a.stats()["requests"] + b.stats()["requests"]
        assert seen <= gateway.stats.calls == 40 + 80 + gateway.stats.retries
        assert a.stats()["requests"] > first_a + 40
    finally:
        a.stop()
        b.stop()


def test_router_files_that_would_add_a_retry_loop_or_are_malformed_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only retry loop"):
        load_router_file(router_file(tmp_path / "r1.yaml", ["http://x/v1"], router_settings={"num_retries": 3}))
    with pytest.raises(ConfigError, match="only retry loop"):
        load_router_file(
            router_file(tmp_path / "r2.yaml", ["http://x/v1"], router_settings={"fallbacks": [{"a": ["b"]}]})
        )
    with pytest.raises(ConfigError, match="routing_strategy"):
        load_router_file(router_file(tmp_path / "r3.yaml", ["http://x/v1"], routing_strategy="round-the-moon"))
    bad = tmp_path / "r4.yaml"
    bad.write_text("model_list:\n  - litellm_params: {model: openai/x}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="model_name"):
        load_router_file(bad)
    result = run_cli("search", "-b", "tiny-arith", "--budget", "4", "--router", str(bad))
    assert_user_error(result, "model_name")
    config = load_router_file(router_file(tmp_path / "ok.yaml", ["http://x/v1", "http://y/v1"]))
    assert config["router_settings"]["allowed_fails"] == 1 and len(config["model_list"]) == 2


def test_eval_and_run_take_the_router_and_the_redis_cache(tmp_path: Path, redis_url: str) -> None:
    """`archon eval` and `archon run` take --router and --cache-url as search does: an eval's
    calls spread over both replicas, and a second eval over the same Redis sends nothing."""
    arch = tmp_path / "arch.yaml"
    arch.write_text(
        "name: routed\nlayers:\n  - - type: generator\n      model: fake\n      samples: 3\n      temperature: 0.7\n",
        encoding="utf-8",
    )
    with FaultServer(FaultPlan(wrong_rate=0.0, seed=1)) as a, FaultServer(FaultPlan(wrong_rate=0.0, seed=1)) as b:
        routes = router_file(tmp_path / "router.yaml", [a.api_base, b.api_base])

        def evaluate(run_id: str) -> dict[str, object]:
            result = run_cli(
                *("eval", str(arch), "-b", "tiny-arith", "--limit", "12", "--run-id", run_id, "--json"),
                *("--results-dir", str(tmp_path / "results"), "--router", str(routes), "--cache-url", redis_url),
                timeout=240,
            )
            assert result.code == 0, result.stderr
            return json.loads(result.stdout.splitlines()[-1])

        first = evaluate("first")
        seen = (a.stats()["requests"], b.stats()["requests"])
        assert min(seen) > 0 and sum(seen) >= 12  # both replicas served; n may carry a question's samples
        second = evaluate("second")
        assert (a.stats()["requests"], b.stats()["requests"]) == seen  # all from Redis
        assert isinstance(first["score"], float) and second["score"] == first["score"]
        ran = run_cli("run", str(arch), "-p", "What is 2 + 3?", "--router", str(routes), "--no-cache", "--json")
        assert ran.code == 0, ran.stderr
        assert a.stats()["requests"] + b.stats()["requests"] > sum(seen)


async def test_a_plain_completion_goes_through_the_router_as_a_text_completion(tmp_path: Path) -> None:
    """A few-shot transcript (``prompt``) for a router model is a text completion, as the plain
    backend sends it; before, the Router got an empty chat."""
    import types

    sent: dict[str, object] = {}

    class FakeRouter:
        async def atext_completion(self, **kwargs: object) -> object:
            sent.update(kwargs, endpoint="text")
            return types.SimpleNamespace(
                choices=[types.SimpleNamespace(text=" 4")],
                usage=types.SimpleNamespace(prompt_tokens=9, completion_tokens=1),
            )

        async def acompletion(self, **kwargs: object) -> object:
            raise AssertionError("a plain completion was sent as chat")

    backend = RouterBackend(load_router_file(router_file(tmp_path / "router.yaml", ["http://127.0.0.1:9/v1"])))
    backend._router = FakeRouter()
    request = CompletionRequest(model="fake", messages=(), prompt="Q: 2 + 2?\nA:", stop=("\n",))
    text, usage = await backend.complete(request)
    assert (text, usage.prompt_tokens, usage.completion_tokens) == (" 4", 9, 1)
    assert sent["endpoint"] == "text" and sent["prompt"] == "Q: 2 + 2?\nA:" and "messages" not in sent
