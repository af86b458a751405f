"""`archon serve` on the embedded model (SmolLM2, in-process llama.cpp), driven by the official
`openai` client and by LiteLLM. Short replies (a few tokens) keep these under a minute; run them
under the model lock (`flock /tmp/archon-model.lock ...`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from archon_cli.server.request_log import read_request_log
from tests.server import architecture, generator_layer, start_server

pytestmark = pytest.mark.local_model

KEY = "embedded-serve-key-0123456789"


@pytest.fixture(scope="module")
def served(local_model_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("serve-embedded")
    smol = architecture("smol", generator_layer("local/smollm2-135m", max_tokens=6))
    # Two samples and a ranker: three calls on the embedded model per request.
    ranked = architecture(
        "smol-ranked",
        generator_layer("local/smollm2-135m", samples=2, max_tokens=6),
        [{"type": "ranker", "model": "local/smollm2-135m", "top_k": 1, "max_tokens": 8}],
    )
    log = folder / "requests.jsonl"
    with start_server([smol, ranked], api_key=KEY, log=log, cache_dir=folder / "cache") as server:
        yield server.url, log


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key)


def test_whole_and_streamed_answers(served: tuple[str, Path]) -> None:
    url, log = served
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    whole = client(url).chat.completions.create(model="smol-ranked", messages=messages)
    answer = whole.choices[0].message.content or ""
    assert answer.strip() and whole.model == "smol-ranked"
    figures = whole.model_extra["archon"]
    assert figures["calls"] == 3 and [layer["type"] for layer in figures["layers"]] == ["generator", "ranker"]
    assert whole.usage.completion_tokens > len(answer.split()) - 1 and whole.usage.prompt_tokens > 20
    # The same request streamed: served from the cache (0 calls), the same text in pieces.
    chunks = list(
        client(url).chat.completions.create(
            model="smol-ranked", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens
    finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    assert finish.model_extra["archon"]["calls"] == 0 and finish.model_extra["archon"]["cache_hits"] == 3
    statuses = {r["id"]: (r["status"], r["calls"]) for r in read_request_log(log)}
    assert statuses[whole.id] == (200, 3)


def test_32_concurrent_requests(served: tuple[str, Path]) -> None:
    url, _ = served

    async def ask_all() -> list[str]:
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY) as aclient:
            replies = await asyncio.gather(
                *(
                    aclient.chat.completions.create(
                        model="smol", messages=[{"role": "user", "content": f"Say the number {i}."}]
                    )
                    for i in range(32)
                )
            )
        return [r.choices[0].message.content or "" for r in replies]

    answers = asyncio.run(ask_all())
    assert len(answers) == 32 and all(a.strip() for a in answers)


def test_unknown_model_and_wrong_key(served: tuple[str, Path]) -> None:
    url, _ = served
    with pytest.raises(openai.NotFoundError):
        client(url).chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError):
        client(url, "not-the-key").chat.completions.create(model="smol", messages=[{"role": "user", "content": "hi"}])


def test_litellm_calls_the_architecture_as_a_model(served: tuple[str, Path]) -> None:
    import litellm

    url, _ = served
    reply = litellm.completion(
        model="openai/smol",
        api_base=url + "/v1",
        api_key=KEY,
        messages=[{"role": "user", "content": "Name a color."}],
        num_retries=0,
    )
    assert (reply.choices[0].message.content or "").strip() and reply.usage.total_tokens > 0
