"""Fuser: prompt shape, multi-turn handling, length control, concurrency, call count."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from archon_cli.components.fuser import Fuser, FuserConfig, build_messages, word_target
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM

CANDIDATES = (
    Candidate(text="Paris is the capital.", critique="Correct but terse.", origin="g#0"),
    Candidate(text="It is Lyon, a big city in France.", origin="g#1"),
    Candidate(text="Paris", critique="No explanation.", origin="g#2"),
)


def layer(query: Query, candidates: tuple[Candidate, ...] = CANDIDATES) -> LayerInput:
    return LayerInput(query=query, candidates=candidates)


@pytest.mark.asyncio
async def test_prompt_numbers_candidates_with_critiques_and_quotes_query() -> None:
    llm = ScriptedLLM("  Paris is the capital of France.  ")
    out = await Fuser(FuserConfig()).run(layer(Query.from_prompt("Capital of France?")), llm)

    prompt = llm.last_user_content()
    assert "Capital of France?" in prompt
    assert "[1] Paris is the capital." in prompt
    assert "Critique of [1]: Correct but terse." in prompt
    assert "[2] It is Lyon, a big city in France." in prompt
    assert "Critique of [2]" not in prompt  # candidate 2 has no critique
    assert "Critique of [3]: No explanation." in prompt
    assert prompt.index("[1]") < prompt.index("[2]") < prompt.index("[3]")
    assert [m["role"] for m in llm.requests[0].messages] == ["user"]
    assert [c.text for c in out.candidates] == ["Paris is the capital of France."]


@pytest.mark.asyncio
async def test_new_candidates_have_no_critique_and_a_fuser_origin() -> None:
    llm = ScriptedLLM(lambda r: f"answer {r.sample_index}", delay=0.05)
    config = FuserConfig(samples=3, model="m1")
    out = await Fuser(config).run(layer(Query.from_prompt("q")), llm)

    assert [c.text for c in out.candidates] == ["answer 0", "answer 1", "answer 2"]
    assert [c.origin for c in out.candidates] == ["fuser:m1#0", "fuser:m1#1", "fuser:m1#2"]
    assert all(c.critique is None for c in out.candidates)
    assert sorted(r.sample_index for r in llm.requests) == [0, 1, 2]
    assert all(r.temperature == 0.7 for r in llm.requests)
    # The samples are independent, so all three are in flight together.
    assert llm.max_in_flight == 3
    assert config.call_count(len(CANDIDATES)) == (len(llm.requests), len(out.candidates))


@pytest.mark.asyncio
async def test_multi_turn_keeps_earlier_turns_and_does_not_mutate_query() -> None:
    messages = (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": "Apple."},
        {"role": "user", "content": "Another one?"},
    )
    query = Query(messages=messages)
    before = copy.deepcopy(messages)
    llm = ScriptedLLM("Banana.")
    await Fuser(FuserConfig()).run(layer(query), llm)

    sent = llm.requests[0].messages
    assert list(sent[:3]) == list(before[:3])
    assert sent[-1]["role"] == "user"
    assert "Another one?" in sent[-1]["content"]
    assert "[1] Paris is the capital." in sent[-1]["content"]
    assert len(sent) == 4
    assert query.messages == before
    assert all(a is not b for a, b in zip(sent, query.messages, strict=True))


def test_build_messages_returns_new_dicts() -> None:
    query = Query.from_prompt("q")
    built = build_messages(query, CANDIDATES, length_control=False)
    built[0]["content"] = "changed"
    assert query.messages[0]["content"] == "q"


def test_length_control_adds_only_a_word_target() -> None:
    query = Query.from_prompt("q")
    plain = build_messages(query, CANDIDATES, length_control=False)[0]["content"]
    controlled = build_messages(query, CANDIDATES, length_control=True)[0]["content"]
    # Candidate lengths are 4, 8 and 1 words: the median is 4.
    assert word_target(CANDIDATES) == 4
    extra = [line for line in controlled.splitlines() if line not in plain.splitlines()]
    assert len(extra) == 1
    assert "about 4 words" in extra[0]
    assert "words long" not in plain


@pytest.mark.asyncio
async def test_length_control_changes_nothing_else_in_the_request() -> None:
    plain_llm, controlled_llm = ScriptedLLM("x"), ScriptedLLM("x")
    query = Query.from_prompt("q")
    await Fuser(FuserConfig()).run(layer(query), plain_llm)
    await Fuser(FuserConfig(length_control=True)).run(layer(query), controlled_llm)
    plain, controlled = plain_llm.requests[0], controlled_llm.requests[0]
    assert (plain.max_tokens, plain.temperature, plain.model, plain.sample_index) == (
        controlled.max_tokens,
        controlled.temperature,
        controlled.model,
        controlled.sample_index,
    )
    assert plain.messages != controlled.messages


@pytest.mark.asyncio
async def test_empty_input_makes_no_call() -> None:
    llm = ScriptedLLM("x")
    config = FuserConfig(samples=4)
    out = await Fuser(config).run(layer(Query.from_prompt("q"), ()), llm)
    assert out.candidates == ()
    assert llm.requests == []
    assert config.call_count(0) == (0, 0)
    assert config.call_count(3) == (4, 4)


@pytest.mark.parametrize("samples", [0, 65])
def test_samples_bounds(samples: int) -> None:
    with pytest.raises(ValidationError):
        FuserConfig(samples=samples)


def test_unknown_setting_is_rejected() -> None:
    with pytest.raises(ValidationError):
        FuserConfig.model_validate({"type": "fuser", "sample": 2})
