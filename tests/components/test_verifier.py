"""Verifier: verdict parser, the two-call chain per candidate, selection, concurrency."""

from __future__ import annotations

import copy

import pytest

from archon_cli.components.verifier import Verifier, VerifierConfig, parse_verdict
from archon_cli.llm.types import CompletionRequest
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM

CANDIDATES = (
    Candidate(text="4", critique="c-four", origin="g#0"),
    Candidate(text="5", critique="c-five", origin="g#1"),
    Candidate(text="four", critique="c-word", origin="g#2"),
)


def layer(candidates: tuple[Candidate, ...] = CANDIDATES) -> LayerInput:
    return LayerInput(query=Query.from_prompt("What is 2+2?"), candidates=candidates)


def is_verdict_call(request: CompletionRequest) -> bool:
    return "Reasoning about the proposed answer" in request.messages[-1]["content"]


def answer_of(request: CompletionRequest) -> str:
    content = request.messages[-1]["content"]
    return content.split("Proposed answer:\n", 1)[1].split("\n", 1)[0]


def scripted(verdicts: dict[str, str]) -> ScriptedLLM:
    """Reasoning replies name the answer; verdict replies come from ``verdicts``."""

    def reply(request: CompletionRequest) -> str:
        answer = answer_of(request)
        if is_verdict_call(request):
            return verdicts[answer]
        return f"REASONING-FOR-{answer}"

    return ScriptedLLM(reply, delay=0.05)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Verdict: correct", True),
        ("Verdict: incorrect", False),
        ("verdict: **Correct**", True),
        ("The answer is not correct.", False),
        ("This is incorrect.", False),
        ("Yes", True),
        ("No.", False),
        ("True", True),
        ("false", False),
        ("Valid", True),
        ("invalid answer", False),
        ("There are no errors, so the answer is correct.", True),
        # The last verdict label decides.
        ("Verdict: correct or incorrect?\nVerdict: incorrect", False),
    ],
)
def test_parse_verdict(text: str, expected: bool) -> None:
    assert parse_verdict(text) is expected


@pytest.mark.parametrize("text", ["", "Hmm, hard to say.", "Verdict: unclear"])
def test_parse_verdict_unparseable(text: str) -> None:
    assert parse_verdict(text) is None


@pytest.mark.asyncio
async def test_keeps_correct_candidates_in_order_and_chains_calls() -> None:
    llm = scripted({"4": "Verdict: correct", "5": "Verdict: incorrect", "four": "Verdict: correct"})
    query_input = layer()
    before = copy.deepcopy(query_input.query.messages)
    config = VerifierConfig()
    out = await Verifier(config).run(query_input, llm)

    assert [c.text for c in out.candidates] == ["4", "four"]
    assert [c.critique for c in out.candidates] == ["c-four", "c-word"]
    assert config.call_count(3) == (len(llm.requests), 3)
    # Each candidate: reasoning first, then a verdict call that quotes that reasoning.
    for candidate in CANDIDATES:
        mine = [r for r in llm.requests if answer_of(r) == candidate.text]
        assert [is_verdict_call(r) for r in mine] == [False, True]
        assert "What is 2+2?" in mine[0].messages[-1]["content"]
        assert f"REASONING-FOR-{candidate.text}" in mine[1].messages[-1]["content"]
        assert "Verdict: incorrect" in mine[1].messages[-1]["content"]
    assert query_input.query.messages == before


@pytest.mark.asyncio
async def test_chains_run_concurrently() -> None:
    llm = scripted({"4": "Verdict: correct", "5": "Verdict: correct", "four": "Verdict: correct"})
    await Verifier(VerifierConfig()).run(layer(), llm)
    # Three chains in flight together; within a chain the calls never overlap.
    assert llm.max_in_flight == 3
    assert len(llm.requests) == 6


@pytest.mark.asyncio
async def test_none_verified_keeps_all() -> None:
    llm = scripted({"4": "incorrect", "5": "Verdict: incorrect", "four": "No."})
    out = await Verifier(VerifierConfig()).run(layer(), llm)
    assert out.candidates == CANDIDATES
    assert llm.parse_failures["verifier"] == 0


@pytest.mark.asyncio
async def test_unparseable_verdict_is_not_verified_and_counted() -> None:
    llm = scripted({"4": "I am not sure.", "5": "Verdict: correct", "four": "???"})
    out = await Verifier(VerifierConfig()).run(layer(), llm)
    assert [c.text for c in out.candidates] == ["5"]
    assert llm.parse_failures["verifier"] == 2


@pytest.mark.asyncio
async def test_empty_input_needs_no_call() -> None:
    llm = ScriptedLLM("Verdict: correct")
    out = await Verifier(VerifierConfig()).run(layer(()), llm)
    assert out.candidates == ()
    assert llm.requests == []
    assert VerifierConfig().call_count(0) == (0, 0)
