"""Majority vote: winner by extracted answer, deterministic ties, no model calls."""

from __future__ import annotations

import pytest

from archon_cli.components.majority_vote import MajorityVote, MajorityVoteConfig, majority
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM


def cands(*texts: str) -> tuple[Candidate, ...]:
    return tuple(Candidate(text=t, origin=f"g#{i}") for i, t in enumerate(texts))


def test_most_common_answer_wins_in_incoming_order() -> None:
    candidates = cands("The answer is 5.", "I get 4", "so \\boxed{4}", "Answer: 5", "It is 4.0")
    assert [c.origin for c in majority(candidates)] == ["g#1", "g#2", "g#4"]


def test_tie_goes_to_the_answer_seen_first() -> None:
    assert [c.text for c in majority(cands("x = 7", "x = 3", "it is 3", "7"))] == ["x = 7", "7"]
    assert [c.text for c in majority(cands("it is 3", "x = 7", "7", "x = 3"))] == [
        "it is 3",
        "x = 3",
    ]


def test_candidates_without_an_answer_are_ignored() -> None:
    candidates = cands("no idea", "no clue", "maybe 2", "nothing")
    assert [c.text for c in majority(candidates)] == ["maybe 2"]


def test_no_answer_anywhere_keeps_the_first_candidate() -> None:
    candidates = cands("no idea", "no clue")
    assert majority(candidates) == candidates[:1]
    assert majority(()) == ()


def test_letters_and_case_are_normalised() -> None:
    candidates = cands("The answer is (B).", "\\boxed{Paris}", "B", "\\boxed{paris}", "**B**")
    assert [c.origin for c in majority(candidates)] == ["g#0", "g#2", "g#4"]


@pytest.mark.asyncio
async def test_run_makes_no_call_and_matches_call_count() -> None:
    llm = ScriptedLLM("never")
    config = MajorityVoteConfig()
    candidates = (Candidate(text="1", critique="kept"), Candidate(text="2"), Candidate(text="1"))
    out = await MajorityVote(config).run(LayerInput(query=Query.from_prompt("q"), candidates=candidates), llm)
    assert out.candidates == (candidates[0], candidates[2])
    assert out.candidates[0].critique == "kept"
    assert llm.requests == []
    assert config.call_count(3) == (len(llm.requests), 3)
    assert config.models() == []
