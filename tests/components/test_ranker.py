"""Ranker: ranking parser, prompt, top_k selection, critiques kept aligned, call count."""

from __future__ import annotations

import copy

import pytest

from archon_cli.components.ranker import Ranker, RankerConfig, parse_ranking
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM

CANDIDATES = (
    Candidate(text="alpha answer", critique="alpha critique", origin="g#0"),
    Candidate(text="beta answer", critique="beta critique", origin="g#1"),
    Candidate(text="gamma answer", origin="g#2"),
)


def layer(candidates: tuple[Candidate, ...] = CANDIDATES, prompt: str = "Which?") -> LayerInput:
    return LayerInput(query=Query.from_prompt(prompt), candidates=candidates)


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("[2] > [1] > [3]", 3, [1, 0, 2]),
        ("[3]>[1]", 3, [2, 0, 1]),  # unnamed candidates follow in incoming order
        ("3, 1, 2", 3, [2, 0, 1]),  # bare numbers
        ("[5] > [2] > [2] > [1]", 3, [1, 0, 2]),  # out of range and repeats ignored
        ("Ranking: [ 2 ] > [ 3 ]", 3, [1, 2, 0]),
        # Bracketed numbers win over bare ones in the explanation.
        ("[2] is best, it says 3 apples, then [1]", 3, [1, 0, 2]),
    ],
)
def test_parse_ranking(text: str, n: int, expected: list[int]) -> None:
    assert parse_ranking(text, n) == expected


@pytest.mark.parametrize(("text", "n"), [("I cannot decide.", 3), ("[0] > [7]", 3), ("score 3.5", 5), ("", 2)])
def test_parse_ranking_unparseable(text: str, n: int) -> None:
    assert parse_ranking(text, n) is None


@pytest.mark.asyncio
async def test_prompt_shows_query_numbered_candidates_and_critiques() -> None:
    llm = ScriptedLLM("[1] > [2] > [3]")
    query_input = layer(prompt="What is best?")
    before = copy.deepcopy(query_input.query.messages)
    await Ranker(RankerConfig()).run(query_input, llm)

    prompt = llm.last_user_content()
    assert "What is best?" in prompt
    assert "[1] alpha answer" in prompt
    assert "Critique of [1]: alpha critique" in prompt
    assert "[2] beta answer" in prompt
    assert "Critique of [2]: beta critique" in prompt
    assert "[3] gamma answer" in prompt
    assert "Critique of [3]" not in prompt
    assert "[2] > [1] > [3]" in prompt  # the format example
    assert query_input.query.messages == before


@pytest.mark.asyncio
async def test_top_k_follows_ranking_and_critiques_stay_aligned() -> None:
    llm = ScriptedLLM("Best to worst: [2] > [3] > [1]")
    config = RankerConfig(top_k=2)
    out = await Ranker(config).run(layer(), llm)

    assert [c.text for c in out.candidates] == ["beta answer", "gamma answer"]
    assert [c.critique for c in out.candidates] == ["beta critique", None]
    assert [c.origin for c in out.candidates] == ["g#1", "g#2"]
    assert llm.parse_failures["ranker"] == 0
    assert config.call_count(3) == (len(llm.requests), len(out.candidates))


@pytest.mark.asyncio
async def test_unparseable_reply_keeps_incoming_order_and_counts_failure() -> None:
    llm = ScriptedLLM("They are all good.")
    out = await Ranker(RankerConfig(top_k=2)).run(layer(), llm)
    assert [c.text for c in out.candidates] == ["alpha answer", "beta answer"]
    assert llm.parse_failures["ranker"] == 1


@pytest.mark.asyncio
async def test_top_k_larger_than_input_keeps_all_ranked() -> None:
    llm = ScriptedLLM("[3] > [2] > [1]")
    out = await Ranker(RankerConfig(top_k=10)).run(layer(), llm)
    assert [c.text for c in out.candidates] == ["gamma answer", "beta answer", "alpha answer"]


@pytest.mark.asyncio
async def test_single_candidate_needs_no_call() -> None:
    llm = ScriptedLLM("[1]")
    config = RankerConfig(top_k=3)
    out = await Ranker(config).run(layer(CANDIDATES[:1]), llm)
    assert out.candidates == CANDIDATES[:1]
    assert llm.requests == []
    assert config.call_count(1) == (0, 1)


@pytest.mark.asyncio
async def test_empty_input_needs_no_call() -> None:
    llm = ScriptedLLM("[1]")
    config = RankerConfig()
    out = await Ranker(config).run(layer(()), llm)
    assert out.candidates == ()
    assert llm.requests == []
    assert config.call_count(0) == (0, 0)


def test_call_count_for_generator_four_then_top_two() -> None:
    assert RankerConfig(top_k=2).call_count(4) == (1, 2)
