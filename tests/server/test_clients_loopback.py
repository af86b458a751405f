"""`archon serve` driven by real clients (the official `openai` package, LiteLLM, raw HTTP) with a
loopback fault-injecting server as the architectures' provider: its 500s and 429s are retried by
archon's gateway and never reach the client; a provider that keeps failing is a 502."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from archon_cli.llm.accountant import Budget
from archon_cli.server.request_log import read_request_log
from archon_cli.testing import FaultPlan, FaultServer
from tests.server import gen_rank, one_call, start_server

KEY = "serve-test-key-1234567890"
ARITH = "What is {a} + {b}? Answer with just the number."


@pytest.fixture(scope="module")
def provider() -> Iterator[FaultServer]:
    with FaultServer(FaultPlan(latency=0.02, error_500=0.2, error_429=0.2, retry_after=0.01, wrong_rate=0.0)) as server:
        yield server


@pytest.fixture(scope="module")
def served(provider: FaultServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Two architectures behind one server, with a key and a request log; yields (url, log path)."""
    log = tmp_path_factory.mktemp("serve") / "requests.jsonl"
    server = start_server([one_call(provider.api_base), gen_rank(provider.api_base)], api_key=KEY, log=log)
    try:
        yield server.url, log
    finally:
        server.stop()


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=2)


def test_models_are_listed(served: tuple[str, Path]) -> None:
    models = client(served[0]).models.list()
    assert [m.id for m in models.data] == ["one-call", "gen-rank"]
    assert client(served[0]).models.retrieve("gen-rank").model_extra["archon"] == {"calls": 4}


def test_non_streaming_answer_usage_and_figures(served: tuple[str, Path], provider: FaultServer) -> None:
    url, log = served
    before = provider.stats()["requests"]
    reply = client(url).chat.completions.create(
        model="gen-rank", messages=[{"role": "user", "content": ARITH.format(a=3, b=4)}], temperature=1.3, top_p=0.5
    )
    assert reply.object == "chat.completion" and reply.model == "gen-rank"
    assert reply.choices[0].message.content == "7" and reply.choices[0].finish_reason == "stop"
    figures = reply.model_extra["archon"]
    # Every send reached the provider, retries included, and the reply says so.
    sent = provider.stats()["requests"] - before
    # A generator's samples go in one request with n (issue 16): the server saw ``requests``; calls
    # count samples, resends included, so calls minus retries is the architecture's static count.
    assert figures["requests"] == sent >= 2 and figures["calls"] - figures["retries"] == 4
    assert [layer["type"] for layer in figures["layers"]] == ["generator", "ranker"]
    assert [layer["calls"] for layer in figures["layers"]][1] >= 1
    # usage: the tokens of all four calls (the fault server counts words, at least one per reply),
    # not just the final answer's one.
    assert reply.usage.completion_tokens >= 4 and reply.usage.prompt_tokens > 4 * 9
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    logged = next(r for r in read_request_log(log) if r["id"] == reply.id)
    assert logged["status"] == 200 and logged["requests"] == sent and logged["calls"] == figures["calls"]
    assert logged["tokens"] == reply.usage.total_tokens
    assert logged["model"] == "gen-rank" and logged["latency"] > 0 and logged["error"] is None


def test_streaming_matches_the_whole_answer(served: tuple[str, Path]) -> None:
    url, _ = served
    prompt = "Tell me something about rivers and the sea."
    whole = client(url).chat.completions.create(model="one-call", messages=[{"role": "user", "content": prompt}])
    stream = client(url).chat.completions.create(
        model="one-call",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content and text.startswith("Reply ")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_raw_stream_is_sse_ending_with_done(served: tuple[str, Path]) -> None:
    url, _ = served
    body = {"model": "one-call", "stream": True, "messages": [{"role": "user", "content": ARITH.format(a=1, b=1)}]}
    reply = httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
    events = [e for e in reply.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    last = json.loads(events[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "stop" and last["archon"]["calls"] >= 1


def test_32_concurrent_requests_all_answered(served: tuple[str, Path], provider: FaultServer) -> None:
    url, _ = served
    provider.reset()

    async def ask_all() -> list[str]:
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as aclient:
            replies = await asyncio.gather(
                *(
                    aclient.chat.completions.create(
                        model="one-call", messages=[{"role": "user", "content": ARITH.format(a=100 + i, b=i)}]
                    )
                    for i in range(32)
                )
            )
        return [r.choices[0].message.content or "" for r in replies]

    answers = asyncio.run(ask_all())
    assert answers == [str(100 + 2 * i) for i in range(32)]
    stats = provider.stats()
    # The faults happened, were retried by archon (max_retries=0 on the client) and never passed on.
    assert stats["by_kind"]["error_500"] > 0 and stats["by_kind"]["error_429"] > 0
    assert stats["by_kind"]["ok"] == 32 and stats["max_in_flight"] > 1


def test_unknown_model_is_404(served: tuple[str, Path]) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client(served[0]).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    error = caught.value.body
    assert caught.value.status_code == 404 and error["code"] == "model_not_found"
    assert "one-call" in error["message"] and "gen-rank" in error["message"]


def test_wrong_or_missing_key_is_401_and_never_echoed(served: tuple[str, Path]) -> None:
    url, log = served
    wrong = "sk-wrong-key-abcdef0123456789"
    with pytest.raises(openai.AuthenticationError) as caught:
        client(url, wrong).chat.completions.create(model="one-call", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401 and wrong not in str(caught.value.body)
    with pytest.raises(openai.AuthenticationError):
        client(url, wrong).models.list()
    missing = httpx.post(url + "/v1/chat/completions", json={"model": "one-call", "messages": []}, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(url + "/health", timeout=10).status_code == 200  # load balancers need no key
    text = log.read_text(encoding="utf-8")
    assert wrong not in text and KEY not in text and "401" in text


def test_litellm_openai_route(served: tuple[str, Path]) -> None:
    import litellm

    url, _ = served
    reply = litellm.completion(
        model="openai/gen-rank",
        api_base=url + "/v1",
        api_key=KEY,
        messages=[{"role": "user", "content": ARITH.format(a=20, b=22)}],
        num_retries=0,
    )
    assert reply.choices[0].message.content == "42"
    assert reply.usage.completion_tokens >= 4
    chunks = list(
        litellm.completion(
            model="openai/one-call",
            api_base=url + "/v1",
            api_key=KEY,
            messages=[{"role": "user", "content": ARITH.format(a=5, b=6)}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "11"
    with pytest.raises(litellm.NotFoundError):
        litellm.completion(
            model="openai/nope", api_base=url + "/v1", api_key=KEY, messages=[{"role": "user", "content": "x"}]
        )


# -- provider failure and budgets: servers of their own ------------------------------------------


def test_provider_failing_after_retries_is_502_and_not_resent(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with FaultServer(FaultPlan(error_500=1.0)) as provider:
        with (
            start_server([one_call(provider.api_base)], log=log, max_attempts=3) as server,
            pytest.raises(openai.InternalServerError) as caught,
        ):
            client(server.url).chat.completions.create(model="one-call", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 502 and caught.value.body["code"] == "provider_error"
        assert "after 3 attempts" in caught.value.body["message"]
        # archon sent its 3 attempts; the client (max_retries=2) did not resend on our 502.
        assert provider.stats()["requests"] == 3
        assert [r["status"] for r in read_request_log(log)] == [502]
        assert read_request_log(log)[0]["calls"] == 3


def test_total_budget_spent_is_429(tmp_path: Path) -> None:
    with (
        FaultServer(FaultPlan()) as provider,
        start_server([one_call(provider.api_base)], budget=Budget(total_calls=3)) as server,
    ):
        c = client(server.url)
        for i in range(3):
            c.chat.completions.create(model="one-call", messages=[{"role": "user", "content": f"q {i}"}])
        with pytest.raises(openai.RateLimitError) as caught:
            c.chat.completions.create(model="one-call", messages=[{"role": "user", "content": "q 4"}])
        assert caught.value.status_code == 429 and caught.value.body["code"] == "budget_spent"
        assert "3 of 3 total calls" in caught.value.body["message"]
        health = httpx.get(server.url + "/health", timeout=10).json()
        assert provider.stats()["requests"] == 3 and health["spent"]["calls"] == 3
        assert health["statuses"] == {"200": 3, "429": 1}
