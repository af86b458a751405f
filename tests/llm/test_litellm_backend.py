"""The LiteLLM backend: routes and keys checked without touching the environment, embedded models
answered from the backend's own pool, the request's purpose sent as a header."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from archon_cli.errors import ProviderError, TransientProviderError, UserError
from archon_cli.llm.litellm_backend import LiteLLMBackend
from archon_cli.llm.local_models import LocalModelPool, LocalReply
from archon_cli.llm.types import CompletionRequest
from archon_cli.testing import FaultPlan, FaultServer


def test_a_blank_key_is_missing_and_the_environment_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-1234")
    LiteLLMBackend().check_route("openai/gpt-4o")  # (LiteLLM sets its own variables once, on import)
    monkeypatch.setenv("OPENAI_API_KEY", "")
    before = dict(os.environ)
    with pytest.raises(UserError, match="missing API key for 'openai/gpt-4o': set OPENAI_API_KEY"):
        LiteLLMBackend().check_route("openai/gpt-4o")
    assert dict(os.environ) == before


def test_unroutable_model_and_named_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="cannot be routed"):
        LiteLLMBackend().check_route("nosuchprovider-model")
    monkeypatch.delenv("ARCHON_TEST_KEY", raising=False)
    with pytest.raises(UserError, match="set ARCHON_TEST_KEY"):
        LiteLLMBackend().check_route("openai/gpt-4o", api_key_env="ARCHON_TEST_KEY")


@dataclass
class _Model:
    reply: str | Exception

    async def complete(self, request: CompletionRequest) -> LocalReply:
        if isinstance(self.reply, Exception):
            raise self.reply
        return LocalReply(text=f"{self.reply} #{request.sample_index}", prompt_tokens=5, completion_tokens=2)


class _Pool(LocalModelPool):
    def __init__(self, model: _Model) -> None:
        super().__init__()
        self.model = model
        self.asked: list[str] = []

    def get(self, name: str) -> _Model:  # type: ignore[override]
        self.asked.append(name)
        return self.model


async def test_embedded_models_are_answered_from_the_backends_pool() -> None:
    pool = _Pool(_Model("seven"))
    backend = LiteLLMBackend(pool)
    text, usage = await backend.complete(
        CompletionRequest(model="local/smollm2-135m", messages=({"role": "user", "content": "3 + 4?"},), sample_index=2)
    )
    assert (text, usage.prompt_tokens, usage.completion_tokens, usage.cost) == ("seven #2", 5, 2, 0.0)
    assert pool.asked == ["smollm2-135m"]


async def test_a_llama_failure_is_transient() -> None:
    backend = LiteLLMBackend(_Pool(_Model(RuntimeError("llama_decode returned -1"))))
    request = CompletionRequest(model="local/smollm2-135m", messages=({"role": "user", "content": "x"},))
    with pytest.raises(TransientProviderError, match="local/smollm2-135m: RuntimeError: llama_decode returned -1"):
        await backend.complete(request)


async def test_a_prompt_over_the_local_context_window_is_permanent() -> None:
    """The same prompt can never fit: not retried (it was, six times, before a 502)."""
    backend = LiteLLMBackend(_Pool(_Model(ValueError("Requested tokens (9000) exceed context window of 8192"))))
    request = CompletionRequest(model="local/smollm2-135m", messages=({"role": "user", "content": "x"},))
    with pytest.raises(ProviderError, match="does not fit the context window") as caught:
        await backend.complete(request)
    assert not isinstance(caught.value, TransientProviderError)


async def test_the_purpose_reaches_the_server_as_a_header() -> None:
    messages = ({"role": "user", "content": "Question:\nWhat is 2 + 2?\n\nCandidate answers:\n\n[1] 5\n\n[2] 4\n"},)
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        backend = LiteLLMBackend()
        ranked, _ = await backend.complete(
            CompletionRequest(model="openai/fake-model", messages=messages, api_base=server.api_base, purpose="ranker")
        )
        plain, _ = await backend.complete(
            CompletionRequest(model="openai/fake-model", messages=messages, api_base=server.api_base)
        )
    assert ranked == "[2] > [1]"  # the fault server ranks only when told a ranker asks
    assert plain == "4"


# -- every send is ours: no resend under our door, 4xx refusals fail at once ----------------------


@pytest.mark.parametrize(
    ("fault", "status", "provider_says"),
    [("error_422", 422, "injected unprocessable entity"), ("error_403", 403, "injected permission denied")],
)
async def test_a_4xx_refusal_is_sent_once_and_permanent(fault: str, status: int, provider_says: str) -> None:
    """LiteLLM's drop_params path sent a 422'd request twice and then returned nothing (read as a
    transient "no choices"); a 403 came back as a generic APIError, read as transient."""
    with FaultServer(FaultPlan(**{fault: 1.0})) as server:
        request = CompletionRequest(
            model="openai/fake-model", messages=({"role": "user", "content": "hi"},), api_base=server.api_base
        )
        with pytest.raises(ProviderError) as caught:
            await LiteLLMBackend().complete(request)
        seen = server.stats()["requests"]
    assert seen == 1
    assert not isinstance(caught.value, TransientProviderError)
    assert str(status) in str(caught.value) and provider_says in str(caught.value)


async def test_parameters_a_model_refuses_are_dropped_before_sending() -> None:
    """o-series models take no temperature but 1: dropped here (LiteLLM's drop_params is off)."""
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        backend = LiteLLMBackend()
        request = CompletionRequest(
            model="openai/o1", messages=({"role": "user", "content": "What is 2 + 3?"},), api_base=server.api_base
        )
        assert (await backend.complete(request))[0] == "5"
        assert (await backend.complete(request))[0] == "5"
        assert server.stats()["requests"] == 2


def test_price_comes_from_the_cost_map_and_embedded_models_are_free() -> None:
    backend = LiteLLMBackend()
    assert backend.price("openai/gpt-4o-mini", 1000, 1000) == pytest.approx(0.00015 + 0.0006)
    assert backend.price("local/smollm2-135m", 1000, 1000) == 0.0
    assert backend.price("openai/no-such-model", 1000, 1000) == 0.0


async def test_a_plain_completion_goes_to_the_text_completion_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few-shot transcript (``prompt``) is sent as a text completion, never as chat messages."""
    import types

    import archon_cli.llm.litellm_backend as module

    sent: dict[str, object] = {}

    async def atext_completion(**kwargs: object) -> object:
        sent.update(kwargs, endpoint="text")
        choice = types.SimpleNamespace(text=" 4")
        return types.SimpleNamespace(
            choices=[choice], usage=types.SimpleNamespace(prompt_tokens=9, completion_tokens=1)
        )

    async def acompletion(**kwargs: object) -> object:
        raise AssertionError("a plain completion was sent as chat")

    fake = types.SimpleNamespace(
        atext_completion=atext_completion,
        acompletion=acompletion,
        UnsupportedParamsError=type("UnsupportedParamsError", (Exception,), {}),
        completion_cost=lambda **_: 0.0,
    )
    monkeypatch.setattr(module, "_lib", lambda: fake)
    request = CompletionRequest(
        model="openai/fake-model", messages=(), prompt="Q: 2 + 2?\nA:", stop=("\n",), api_base="http://127.0.0.1:9"
    )
    text, usage = await LiteLLMBackend().complete(request)
    assert (text, usage.prompt_tokens) == (" 4", 9)
    assert sent["endpoint"] == "text" and sent["prompt"] == "Q: 2 + 2?\nA:" and "messages" not in sent
    assert sent["stop"] == ["\n"]


async def test_a_self_hosted_model_without_a_price_costs_zero_and_a_priced_one_keeps_its_price() -> None:
    """A model on one's own server that LiteLLM's price map lacks is registered once at price 0 (so
    LiteLLM stops searching its map on every reply); a model the map prices keeps that price."""
    from archon_cli.llm.litellm_backend import _lib

    lib = _lib()
    messages = ({"role": "user", "content": "What is 2 + 3?"},)
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        backend = LiteLLMBackend()
        unpriced = CompletionRequest(model="openai/archon-test-unpriced", messages=messages, api_base=server.api_base)
        with pytest.raises(Exception):  # noqa: B017 - LiteLLM's own "not mapped" error
            lib.get_model_info(model=unpriced.model)
        text, usage = await backend.complete(unpriced)
        assert (text, usage.cost) == ("5", 0.0) and usage.completion_tokens > 0
        assert lib.get_model_info(model=unpriced.model)["input_cost_per_token"] == 0.0

        priced = CompletionRequest(model="openai/gpt-4o-mini", messages=messages, api_base=server.api_base)
        text, usage = await backend.complete(priced)
    expected = backend.price("openai/gpt-4o-mini", usage.prompt_tokens, usage.completion_tokens)
    assert text == "5" and expected > 0 and usage.cost == pytest.approx(expected)


def test_litellm_is_imported_without_collections_and_leaves_them_on() -> None:
    """No collection runs during LiteLLM's import (each would walk its growing heap for nothing);
    afterwards collections are on again, with what the import built frozen out of them."""
    script = (
        "import gc\n"
        "from archon_cli.llm.litellm_backend import load_litellm\n"
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: runs.append(phase))\n"
        "load_litellm()\n"
        "print(len(runs), gc.isenabled(), gc.get_freeze_count() > 100_000)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["0", "True", "True"], out.stdout + out.stderr
