"""Critic: critique parser, prompt, critiques attached to the right candidates."""

from __future__ import annotations

import copy

import pytest

from archon_cli.components.critic import Critic, CriticConfig, parse_critiques
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM

CANDIDATES = (
    Candidate(text="first text", critique="old critique", origin="g#0"),
    Candidate(text="second text", origin="g#1"),
)


def layer(candidates: tuple[Candidate, ...] = CANDIDATES) -> LayerInput:
    return LayerInput(query=Query.from_prompt("Explain tides."), candidates=candidates)


def test_parse_bracketed_blocks() -> None:
    text = "[1] Strengths: clear. Weaknesses: short.\n[2] Strengths: none. Weaknesses: wrong."
    assert parse_critiques(text, 2) == [
        "Strengths: clear. Weaknesses: short.",
        "Strengths: none. Weaknesses: wrong.",
    ]


def test_parse_keeps_numbered_lists_inside_a_block() -> None:
    text = "[1] Strengths: ok\n[2] Weaknesses:\n1. too long\n2. off topic"
    assert parse_critiques(text, 2) == ["Strengths: ok", "Weaknesses:\n1. too long\n2. off topic"]


@pytest.mark.parametrize(
    "text",
    [
        "Candidate 1: good\nCandidate 2: bad",
        "**Candidate 1:** good\n**Candidate 2:** bad",
        "1. good\n2. bad",
        "1) good\n2) bad",
        "[1] good [2] bad",
    ],
)
def test_parse_tolerated_markers(text: str) -> None:
    assert parse_critiques(text, 2) == ["good", "bad"]


def test_parse_missing_and_out_of_range_blocks() -> None:
    # Block [3] does not exist for two candidates but still ends block [1].
    assert parse_critiques("[1] fine\n[3] stray", 2) == ["fine", None]
    assert parse_critiques("no structure at all", 2) == [None, None]


@pytest.mark.asyncio
async def test_prompt_numbers_candidates_without_old_critiques() -> None:
    llm = ScriptedLLM("[1] Strengths: a Weaknesses: b\n[2] Strengths: c Weaknesses: d")
    query_input = layer()
    before = copy.deepcopy(query_input.query.messages)
    await Critic(CriticConfig()).run(query_input, llm)

    prompt = llm.last_user_content()
    assert "Explain tides." in prompt
    assert "[1] first text" in prompt
    assert "[2] second text" in prompt
    assert "old critique" not in prompt
    assert "[2] Strengths: ... Weaknesses: ..." in prompt
    assert query_input.query.messages == before


@pytest.mark.asyncio
async def test_critiques_attach_to_their_candidates() -> None:
    llm = ScriptedLLM("[2] Strengths: c Weaknesses: d\n[1] Strengths: a Weaknesses: b")
    config = CriticConfig()
    out = await Critic(config).run(layer(), llm)

    assert [c.text for c in out.candidates] == ["first text", "second text"]
    assert [c.origin for c in out.candidates] == ["g#0", "g#1"]
    assert [c.critique for c in out.candidates] == [
        "Strengths: a Weaknesses: b",
        "Strengths: c Weaknesses: d",
    ]
    assert llm.parse_failures["critic"] == 0
    assert config.call_count(2) == (len(llm.requests), len(out.candidates))


@pytest.mark.asyncio
async def test_missing_blocks_give_none_and_one_failure_per_reply() -> None:
    three = (*CANDIDATES, Candidate(text="third text"))
    llm = ScriptedLLM("[2] Strengths: fine")
    out = await Critic(CriticConfig()).run(layer(three), llm)
    assert [c.critique for c in out.candidates] == [None, "Strengths: fine", None]
    assert llm.parse_failures["critic"] == 1


@pytest.mark.asyncio
async def test_empty_input_needs_no_call() -> None:
    llm = ScriptedLLM("x")
    config = CriticConfig()
    out = await Critic(config).run(layer(()), llm)
    assert out.candidates == ()
    assert llm.requests == []
    assert config.call_count(0) == (0, 0)
    assert config.call_count(5) == (1, 5)
