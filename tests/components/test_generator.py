"""Generator prompt styles: zero-shot chat, few-shot chat turns, few-shot "Q:/A:" completion,
answer-format instruction and system prompt; what reaches the one door (the gateway's backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.benchmarks.tiny_arith import INSTRUCTION, TinyArith, generate
from archon_cli.components.generator import Generator, GeneratorConfig
from archon_cli.config.architecture import Architecture, parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import ConfigError
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from archon_cli.state import LayerInput, Query
from tests.fakes import FakeBackend, ScriptedLLM

QUESTION = generate()[0]  # add-000: "What is 2 + 3?"


def arch(**generator: object) -> Architecture:
    return Architecture.model_validate({"name": "styled", "layers": [[{"type": "generator", **generator}]]})


async def sent(architecture: Architecture, delay: float = 0.0) -> tuple[list[CompletionRequest], str]:
    """The requests the architecture's run on QUESTION sends through the gateway, and its answer."""
    backend = FakeBackend(reply="5", delay=delay)
    runner = ArchitectureRunner(architecture, LLMGateway(backend=backend))
    response = await TinyArith().respond(QUESTION, runner.run_safely)
    return backend.sent, response.answer


async def test_default_chat_sends_the_benchmark_turn_unchanged() -> None:
    requests, answer = await sent(arch(temperature=0.0))
    assert answer == "5"
    assert [r.messages for r in requests] == [({"role": "user", "content": "What is 2 + 3?" + INSTRUCTION},)]
    assert requests[0].prompt is None


async def test_few_shot_completion_sends_a_plain_transcript_through_the_door() -> None:
    requests, _ = await sent(arch(prompt_format="few_shot_completion", shots=3, answer_format="", temperature=0.0))
    (request,) = requests
    examples = TinyArith().few_shot(QUESTION)[:3]
    expected = "\n".join([*(f"Q: {q}\nA: {a}" for q, a in examples), "Q: What is 2 + 3?", "A:"])
    assert request.prompt == expected and request.messages == ()
    assert request.stop == ("\n",)  # one-line answers: stop at the end of the line
    assert all(q != QUESTION.turns[0] and "+" in q for q, _ in examples)  # same category, never the question
    # the prompt is part of the cache key: two completion prompts never share a reply
    other = CompletionRequest(model=request.model, messages=(), prompt=expected + " ")
    assert other.cache_key() != request.cache_key()


async def test_few_shot_chat_shows_the_examples_as_earlier_turns() -> None:
    requests, _ = await sent(arch(prompt_format="few_shot_chat", shots=2, system_prompt="Be brief.", temperature=0.0))
    messages = list(requests[0].messages)
    (q1, a1), (q2, a2) = TinyArith().few_shot(QUESTION)[:2]
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": q1 + INSTRUCTION},
        {"role": "assistant", "content": a1},
        {"role": "user", "content": q2 + INSTRUCTION},
        {"role": "assistant", "content": a2},
        {"role": "user", "content": "What is 2 + 3?" + INSTRUCTION},
    ]


async def test_answer_format_replaces_the_benchmark_instruction() -> None:
    requests, _ = await sent(arch(answer_format=" Reply with digits only.", temperature=0.0))
    assert requests[0].messages[-1]["content"] == "What is 2 + 3? Reply with digits only."


async def test_samples_of_one_style_draw_their_own_slots_and_greedy_ones_share_one() -> None:
    hot, _ = await sent(arch(prompt_format="few_shot_completion", samples=3, temperature=0.7))
    assert sorted(r.sample_index for r in hot) == [0, 1, 2]
    cold, _ = await sent(arch(prompt_format="few_shot_completion", samples=3, temperature=0.0), delay=0.01)
    assert len(cold) == 1  # identical greedy requests are one draw, sent once


async def test_a_query_that_is_no_benchmark_question_is_prompted_zero_shot() -> None:
    llm = ScriptedLLM("4")
    config = GeneratorConfig(prompt_format="few_shot_completion", temperature=0.0)
    out = await Generator(config).run(LayerInput(query=Query.from_prompt("What is 2 + 2?")), llm)
    assert out.candidates[0].text == "4"
    assert llm.requests[0].prompt == "Q: What is 2 + 2?\nA:"


def test_shots_without_a_few_shot_format_are_refused() -> None:
    data = {"name": "x", "layers": [[{"type": "generator", "shots": 4}]]}
    with pytest.raises(ConfigError, match="shots"):
        parse_architecture(data)
    with pytest.raises(ConfigError, match="prompt_format"):
        parse_architecture({"name": "x", "layers": [[{"type": "generator", "prompt_format": "three_shot"}]]})


def test_an_ensemble_may_mix_styles_of_one_model() -> None:
    architecture, warnings = parse_architecture(
        {
            "name": "styles-vote",
            "layers": [
                [
                    {"type": "generator", "temperature": 0},
                    {"type": "generator", "temperature": 0, "prompt_format": "few_shot_completion"},
                    {"type": "generator", "temperature": 0, "prompt_format": "few_shot_chat", "answer_format": ""},
                ],
                [{"type": "majority_vote"}],
            ],
        }
    )
    assert architecture.static_calls() == 3 and warnings == []


def test_a_completion_request_reaches_the_embedded_model_as_plain_text_on_a_chat_model(tmp_path: Path) -> None:
    from archon_cli.llm.local_models import LocalModelPool, LocalSettings

    model = LocalModelPool(LocalSettings(model_dir=tmp_path)).get("smollm2-135m")
    model._path = tmp_path / "model.gguf"  # no model file is read to shape the request
    request = CompletionRequest(
        model="local/smollm2-135m", messages=(), prompt="Q: 1 + 1?\nA: 2\nQ: 2 + 2?\nA:", stop=("\n",)
    )
    body = model.worker_request(request)
    assert body["chat"] is False and body["prompt"] == request.prompt and "messages" not in body
    assert body["params"]["stop"][0] == "\n"
    chat = model.worker_request(
        CompletionRequest(model="local/smollm2-135m", messages=({"role": "user", "content": "hi"},))
    )
    assert chat["chat"] is True and chat["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.local_model
async def test_the_embedded_model_answers_a_few_shot_completion_in_one_line(local_model_available: None) -> None:
    architecture = arch(prompt_format="few_shot_completion", answer_format="", temperature=0.0, max_tokens=16)
    gateway = LLMGateway()
    runner = ArchitectureRunner(architecture, gateway)
    questions = generate()[:6]  # two of each category
    answers = [(await TinyArith().respond(q, runner.run_safely)).answer for q in questions]
    # the transcript's examples set the shape: a bare number, stopped at the end of its line
    assert all(a.strip().lstrip("-").isdigit() and "\n" not in a for a in answers), answers
    assert gateway.stats.calls == len(questions) and gateway.stats.completion_tokens <= 6 * len(questions)
