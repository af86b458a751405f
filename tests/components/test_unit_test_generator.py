"""Unit test generator: test parser, prompt, pass-through of candidates."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from archon_cli.components.unit_test_generator import (
    UnitTestGenerator,
    UnitTestGeneratorConfig,
    parse_unit_tests,
)
from archon_cli.state import Candidate, LayerInput, Query
from tests.fakes import ScriptedLLM

CANDIDATES = (Candidate(text="a", critique="ca"), Candidate(text="b"))


def layer(candidates: tuple[Candidate, ...] = CANDIDATES) -> LayerInput:
    return LayerInput(query=Query.from_prompt("Sort [3, 1, 2]."), candidates=candidates)


def test_parse_strips_numbering_and_bullets() -> None:
    text = (
        "Here are the tests:\n"
        "1. The answer lists 1, 2, 3.\n"
        "\n"
        "2) The order is ascending.\n"
        "**3.** No number is lost.\n"
        "- It keeps all three numbers.\n"
        "Test 5: The answer is a list.\n"
        "(6) Extra."
    )
    assert parse_unit_tests(text, 10) == [
        "The answer lists 1, 2, 3.",
        "The order is ascending.",
        "No number is lost.",
        "It keeps all three numbers.",
        "The answer is a list.",
        "Extra.",
    ]


def test_parse_caps_at_limit_and_drops_template_lines() -> None:
    assert parse_unit_tests("1. a\n2. ...\n3. b\n4. c", 2) == ["a", "b"]


def test_parse_unnumbered_lines_are_tests() -> None:
    assert parse_unit_tests("Mentions 3\n\n  Is sorted  \n", 5) == ["Mentions 3", "Is sorted"]


def test_parse_empty_reply() -> None:
    assert parse_unit_tests("   \n\n", 5) == []


@pytest.mark.asyncio
async def test_run_passes_candidates_through_and_sets_tests() -> None:
    llm = ScriptedLLM("1. Output is [1, 2, 3]\n2. Keeps every element\n3. Extra test")
    config = UnitTestGeneratorConfig(num_tests=2)
    query_input = layer()
    before = copy.deepcopy(query_input.query.messages)
    out = await UnitTestGenerator(config).run(query_input, llm)

    assert out.candidates is query_input.candidates
    assert out.unit_tests == ("Output is [1, 2, 3]", "Keeps every element")
    prompt = llm.last_user_content()
    assert "Sort [3, 1, 2]." in prompt
    assert "Write 2 short tests" in prompt
    assert query_input.query.messages == before
    assert llm.parse_failures["unit_test_generator"] == 0
    assert config.call_count(2) == (len(llm.requests), len(out.candidates))


@pytest.mark.asyncio
async def test_no_tests_parsed_is_a_parse_failure() -> None:
    llm = ScriptedLLM("")
    out = await UnitTestGenerator(UnitTestGeneratorConfig()).run(layer(), llm)
    assert out.unit_tests == ()
    assert out.candidates == CANDIDATES
    assert llm.parse_failures["unit_test_generator"] == 1


@pytest.mark.asyncio
async def test_calls_even_without_candidates() -> None:
    llm = ScriptedLLM("1. something")
    config = UnitTestGeneratorConfig()
    out = await UnitTestGenerator(config).run(layer(()), llm)
    assert out.unit_tests == ("something",)
    assert len(llm.requests) == 1
    assert config.call_count(0) == (1, 0)


@pytest.mark.parametrize("num_tests", [0, 21])
def test_num_tests_bounds(num_tests: int) -> None:
    with pytest.raises(ValidationError):
        UnitTestGeneratorConfig(num_tests=num_tests)
