"""Unit test evaluator: result parser, prompt, scoring, stable top_k, concurrency."""

from __future__ import annotations

import copy

import pytest

from archon_cli.components.unit_test_evaluator import (
    UnitTestEvaluator,
    UnitTestEvaluatorConfig,
    parse_test_results,
)
from archon_cli.llm.types import CompletionRequest
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM

CANDIDATES = (
    Candidate(text="ans-A", critique="crit-A"),
    Candidate(text="ans-B", critique="crit-B"),
    Candidate(text="ans-C"),
    Candidate(text="ans-D", critique="crit-D"),
)
TESTS = ("Gives a number", "Number is 4", "Explains why")


def layer(candidates: tuple[Candidate, ...] = CANDIDATES, tests: tuple[str, ...] = TESTS) -> LayerInput:
    return LayerInput(query=Query.from_prompt("2+2?"), candidates=candidates, unit_tests=tests)


def by_candidate(replies: dict[str, str]) -> ScriptedLLM:
    def reply(request: CompletionRequest) -> str:
        content = request.messages[-1]["content"]
        return next(text for name, text in replies.items() if name in content)

    return ScriptedLLM(reply, delay=0.05)


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("1: PASS\n2: FAIL\n3: PASS", 3, [True, False, True]),
        ("1: pass\n3: yes", 3, [True, False, True]),  # missing test 2 fails
        ("Test 2 - Passed\n[1] FAIL", 2, [False, True]),
        ("1. true\n2. false\n9: PASS", 2, [True, False]),  # out of range ignored
        ("1: PASS\n1: FAIL", 2, [True, False]),  # the first result for a test counts
        ("PASS\nFAIL.", 3, [True, False, False]),  # unnumbered lines in order
    ],
)
def test_parse_test_results(text: str, n: int, expected: list[bool]) -> None:
    assert parse_test_results(text, n) == expected


@pytest.mark.parametrize("text", ["", "The answer looks fine.", "1. The answer gives a number", "no idea"])
def test_parse_test_results_unparseable(text: str) -> None:
    assert parse_test_results(text, 3) is None


@pytest.mark.asyncio
async def test_prompt_shows_query_candidate_and_numbered_tests() -> None:
    llm = ScriptedLLM("1: PASS\n2: PASS\n3: PASS")
    query_input = layer(CANDIDATES[:1])
    before = copy.deepcopy(query_input.query.messages)
    await UnitTestEvaluator(UnitTestEvaluatorConfig()).run(query_input, llm)
    prompt = llm.last_user_content()
    assert "2+2?" in prompt
    assert "ans-A" in prompt
    assert "1. Gives a number\n2. Number is 4\n3. Explains why" in prompt
    assert "1: PASS" in prompt
    assert query_input.query.messages == before


@pytest.mark.asyncio
async def test_keeps_top_k_by_score_with_stable_ties_and_critiques() -> None:
    llm = by_candidate(
        {
            "ans-A": "1: PASS\n2: FAIL\n3: FAIL",  # 1
            "ans-B": "1: PASS\n2: PASS\n3: FAIL",  # 2
            "ans-C": "1: FAIL\n2: FAIL\n3: FAIL",  # 0
            "ans-D": "1: PASS\n2: FAIL\n3: PASS",  # 2, ties with B and comes later
        }
    )
    config = UnitTestEvaluatorConfig(top_k=3)
    out = await UnitTestEvaluator(config).run(layer(), llm)
    assert [c.text for c in out.candidates] == ["ans-B", "ans-D", "ans-A"]
    assert [c.critique for c in out.candidates] == ["crit-B", "crit-D", "crit-A"]
    assert out.unit_tests is None  # the tests pass on unchanged
    assert llm.max_in_flight == 4
    assert config.call_count(4) == (len(llm.requests), len(out.candidates))


@pytest.mark.asyncio
async def test_unparseable_reply_scores_zero_and_counts_failure() -> None:
    llm = by_candidate(
        {
            "ans-A": "no idea",
            "ans-B": "1: FAIL\n2: PASS",
            "ans-C": "whatever",
            "ans-D": "1: FAIL",
        }
    )
    out = await UnitTestEvaluator(UnitTestEvaluatorConfig(top_k=2)).run(layer(), llm)
    # B scores 1; A, C, D score 0 and keep their incoming order.
    assert [c.text for c in out.candidates] == ["ans-B", "ans-A"]
    assert llm.parse_failures["unit_test_evaluator"] == 2


@pytest.mark.asyncio
async def test_without_tests_keeps_first_top_k_without_calls() -> None:
    llm = ScriptedLLM("1: PASS")
    out = await UnitTestEvaluator(UnitTestEvaluatorConfig(top_k=2)).run(layer(tests=()), llm)
    assert out.candidates == CANDIDATES[:2]
    assert llm.requests == []


@pytest.mark.asyncio
async def test_empty_input_needs_no_call() -> None:
    llm = ScriptedLLM("1: PASS")
    config = UnitTestEvaluatorConfig()
    out = await UnitTestEvaluator(config).run(layer(()), llm)
    assert out.candidates == ()
    assert llm.requests == []
    assert config.call_count(0) == (0, 0)


SCORES = {
    "ans-A": "1: PASS\n2: FAIL\n3: FAIL",  # 1
    "ans-B": "1: PASS\n2: PASS\n3: PASS",  # 3: passes every test
    "ans-C": "1: PASS\n2: PASS\n3: FAIL",  # 2
    "ans-D": "1: PASS\n2: PASS\n3: PASS",  # 3: passes every test
}


@pytest.mark.asyncio
async def test_first_k_keeps_the_first_candidates_passing_every_test() -> None:
    config = UnitTestEvaluatorConfig(top_k=3, first_k=2)
    out = await UnitTestEvaluator(config).run(layer(), by_candidate(SCORES))
    assert [c.text for c in out.candidates] == ["ans-B", "ans-D"]
    # Fewer than first_k pass every test: the top_k by score, as without first_k.
    out = await UnitTestEvaluator(UnitTestEvaluatorConfig(top_k=3, first_k=3)).run(layer(), by_candidate(SCORES))
    assert [c.text for c in out.candidates] == ["ans-B", "ans-D", "ans-C"]
    assert UnitTestEvaluatorConfig(top_k=1, first_k=2).call_count(4) == (4, 2)


@pytest.mark.asyncio
async def test_top_k_none_keeps_every_candidate_best_first() -> None:
    config = UnitTestEvaluatorConfig(top_k=None)
    out = await UnitTestEvaluator(config).run(layer(), by_candidate(SCORES))
    assert [c.text for c in out.candidates] == ["ans-B", "ans-D", "ans-C", "ans-A"]
    assert config.call_count(4) == (4, 4)


@pytest.mark.asyncio
async def test_the_question_is_shown_without_the_tests_appended_to_the_query() -> None:
    asked = Query.from_prompt("2+2?")
    llm = ScriptedLLM("1: PASS\n2: PASS\n3: PASS")
    layer_input = LayerInput(
        query=asked.with_unit_tests(TESTS), candidates=CANDIDATES[:1], unit_tests=TESTS, original=asked
    )
    await UnitTestEvaluator(UnitTestEvaluatorConfig()).run(layer_input, llm)
    prompt = llm.last_user_content()
    assert prompt.count("Number is 4") == 1 and "passes these tests" not in prompt
