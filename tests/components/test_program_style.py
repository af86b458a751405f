"""The program prompt style: the transcript the model gets, its programs run in the sandbox, failures
kept and counted, repairs counted as calls (statically too), votes over executed outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.benchmarks.tiny_arith import generate
from archon_cli.components.generator import PROGRAM_EXAMPLES, GeneratorConfig, program_prompt
from archon_cli.config.architecture import Architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.execution.sandbox import Sandbox
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from archon_cli.search.space import Point, SearchSpace, build_architecture
from archon_cli.state import Query
from tests.fakes import FakeBackend

pytestmark = pytest.mark.skipif(not Sandbox().capabilities().isolated, reason="no isolated sandbox here")

QUESTION = generate()[0]  # add-000: "What is 2 + 3?"


def arch(*layers: list[dict[str, object]]) -> Architecture:
    return Architecture.model_validate({"name": "programs", "layers": list(layers)})


async def answer(architecture: Architecture, reply) -> tuple[str, FakeBackend, object]:  # type: ignore[no-untyped-def]
    backend = FakeBackend(reply=reply)
    runner = ArchitectureRunner(architecture, LLMGateway(backend=backend))
    result = await runner.run(QUESTION.query())
    return result.answer, backend, result


def test_the_transcript_shows_our_examples_then_the_question_without_the_benchmark_instruction() -> None:
    query = QUESTION.query()
    prompt, stop = program_prompt(query, GeneratorConfig(prompt_format="program", shots=3))
    assert prompt.endswith("Question: What is 2 + 3?\n```python\n")
    assert "Answer with just the number" not in prompt
    assert prompt.count("Question:") == 4  # three examples and the question
    assert PROGRAM_EXAMPLES[0][1] in prompt and PROGRAM_EXAMPLES[3][0] not in prompt
    assert stop == ("```", "\nQuestion:")


def test_a_query_that_is_no_benchmark_question_is_asked_as_written() -> None:
    prompt, _ = program_prompt(Query.from_prompt("What is 12 * 12?"), GeneratorConfig(prompt_format="program"))
    assert prompt.endswith("Question: What is 12 * 12?\n```python\n")


async def test_the_candidate_is_what_the_program_prints() -> None:
    text, backend, result = await answer(
        arch([{"type": "generator", "temperature": 0, "prompt_format": "program"}]), "x = 2 + 3\nprint(x)\n"
    )
    assert text == "5"
    assert [r.prompt is not None for r in backend.sent] == [True]
    candidate = result.layers[0].candidates[0]
    assert candidate.program == "x = 2 + 3\nprint(x)\n" and candidate.error is None


async def test_a_failed_program_is_an_empty_candidate_with_its_error_counted() -> None:
    text, _, result = await answer(
        arch([{"type": "generator", "temperature": 0, "prompt_format": "program"}]), "print(undefined)"
    )
    assert text == ""
    candidate = result.layers[0].candidates[0]
    assert candidate.text == "" and "NameError" in (candidate.error or "")
    assert result.stats.parse_failures["generator:program"] == 1


async def test_a_vote_counts_executed_outputs_and_ignores_failures() -> None:
    programs = iter(["print(1 / 0)", "print(5)", "print(4)", "while True: pass", "print(5)"])

    def reply(request: CompletionRequest) -> str:
        return next(programs)

    text, backend, result = await answer(
        arch(
            [{"type": "generator", "temperature": 0.7, "samples": 5, "prompt_format": "program"}],
            [{"type": "majority_vote"}],
        ),
        reply,
    )
    assert text == "5"
    assert len(backend.sent) == 5
    assert sorted(c.text for c in result.layers[0].candidates) == ["", "", "4", "5", "5"]
    assert result.stats.parse_failures["generator:program"] == 2


async def test_repair_sends_the_error_back_and_counts_the_call() -> None:
    def reply(request: CompletionRequest) -> str:
        return "print(5)" if "That program failed" in (request.prompt or "") else "print(2 + '3')"

    config = {"type": "generator", "temperature": 0, "prompt_format": "program", "repair": 2}
    text, backend, result = await answer(arch([config]), reply)
    assert text == "5"
    assert len(backend.sent) == 2 and result.stats.calls == 2
    repair = backend.sent[1].prompt or ""
    assert repair.startswith(backend.sent[0].prompt or "?")
    assert "print(2 + '3')\n```\nThat program failed (exit 1: TypeError:" in repair
    assert result.stats.parse_failures["generator:program"] == 0


async def test_repairs_stop_at_the_limit_and_a_working_program_needs_none() -> None:
    _, backend, result = await answer(
        arch([{"type": "generator", "temperature": 0, "prompt_format": "program", "repair": 2}]), "print(1 / 0)"
    )
    assert len(backend.sent) == 3 and result.layers[0].candidates[0].error is not None
    _, backend, _ = await answer(
        arch([{"type": "generator", "temperature": 0, "prompt_format": "program", "repair": 2}]), "print(5)"
    )
    assert len(backend.sent) == 1


def test_static_calls_count_every_repair() -> None:
    architecture = arch(
        [{"type": "generator", "samples": 3, "prompt_format": "program", "repair": 2}], [{"type": "majority_vote"}]
    )
    assert architecture.static_calls() == 9


def test_repair_needs_the_program_format() -> None:
    with pytest.raises(ValueError, match="repair: only the program format"):
        GeneratorConfig(repair=1)


def test_a_space_style_named_program_builds_program_generators(tmp_path: Path) -> None:
    space = SearchSpace.model_validate(
        {
            "styles": {"plain": {}, "program": {"prompt_format": "program", "max_tokens": 48, "repair": 1}},
            "max_tokens": 16,
        }
    )
    built = build_architecture(Point(1, 1, 0, 1, False, "majority_vote", ("plain", "program"), 0.0), ["m"], space)
    generators = built.layers[0]
    assert [g.prompt_format for g in generators] == ["chat", "program"]  # type: ignore[attr-defined]
    assert [g.max_tokens for g in generators] == [16, 48]  # type: ignore[attr-defined]
    assert built.static_calls() == 1 + 2


async def test_an_ensemble_of_a_plain_and_two_program_generators_votes_over_executed_outputs() -> None:
    def reply(request: CompletionRequest) -> str:
        if request.prompt is None:
            return "The answer is 6."  # the plain style, wrong
        return "print(2 + 3)"

    text, backend, result = await answer(
        arch(
            [
                {"type": "generator", "temperature": 0},
                {"type": "generator", "temperature": 0, "prompt_format": "program"},
                {"type": "generator", "temperature": 0, "prompt_format": "program", "shots": 2},
            ],
            [{"type": "majority_vote"}],
        ),
        reply,
    )
    assert text == "5"
    assert len(backend.sent) == 3
    assert [c.text for c in result.layers[0].candidates] == ["The answer is 6.", "5", "5"]


def test_archon_check_counts_repairs(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    path = tmp_path / "repair.yaml"
    path.write_text(
        "name: repair\nlayers:\n"
        "  - - {type: generator, samples: 2, prompt_format: program, repair: 1}\n"
        "  - - {type: majority_vote}\n"
    )
    result = run_cli("check", str(path))
    assert result.code == 0, result.stderr
    assert "4 calls per query (4 + 0)" in result.stdout
    path.write_text("name: bad\nlayers:\n  - - {type: generator, repair: 1}\n")
    result = run_cli("check", str(path))
    assert result.code == 2 and "repair: only the program format" in result.stdout + result.stderr
