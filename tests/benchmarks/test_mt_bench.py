"""MT-Bench: data loading, judge prompt choice per turn and category, rating parsing and retries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Question, Response
from archon_cli.benchmarks.judging import parse_rating
from archon_cli.benchmarks.mt_bench import MTBench
from archon_cli.config import parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import ArchonError, UserError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.judge import GatewayJudge
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest, Message
from tests.conftest import SHARED_DATA, run_cli
from tests.fakes import FakeBackend, ScriptedJudge


@pytest.fixture(scope="module")
def bench() -> MTBench:
    benchmark = get_benchmark("mt-bench", SHARED_DATA)
    assert isinstance(benchmark, MTBench)
    return benchmark


@pytest.fixture(scope="module")
def questions(bench: MTBench) -> dict[str, Question]:
    return {q.id: q for q in bench.load()}


def upstream_prompts() -> dict[str, dict[str, str]]:
    lines = (SHARED_DATA / "mt_bench" / "judge_prompts.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["name"]: row for row in map(json.loads, lines)}


def response(*answers: str) -> Response:
    return Response(answers=list(answers), results=[])


def test_loads_80_two_turn_questions_with_references_where_upstream_uses_them(questions: dict[str, Question]) -> None:
    assert len(questions) == 80
    assert sorted(questions, key=int) == [str(i) for i in range(81, 161)]
    assert Counter(q.category for q in questions.values()) == {
        c: 10 for c in ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
    }
    assert all(len(q.turns) == 2 for q in questions.values())
    with_reference = {q.id for q in questions.values() if q.reference}
    assert with_reference == {str(i) for i in range(101, 131)}  # math, reasoning, coding
    # Question 123 has no inline reference: it comes from reference_answer/gpt-4.jsonl.
    assert questions["123"].reference and len(questions["123"].reference) == 2


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("Clear and correct. Rating: [[8]]", 8.0),
        ('Format: "[[rating]]", e.g. "Rating: [[5]]". My verdict: [[7]]', 7.0),
        ("Rating: 6", 6.0),
        ("I would give this 9/10.", 9.0),
        ("[[7.5]]", 7.5),
        ("[[11]]", None),
        ("This answer is fine.", None),
        ("", None),
    ],
)
def test_parse_rating(text: str, rating: float | None) -> None:
    assert parse_rating(text) == rating


async def test_math_question_uses_reference_prompts_and_turn_two_sees_the_conversation(
    bench: MTBench, questions: dict[str, Question]
) -> None:
    math = questions["111"]
    judge = ScriptedJudge(lambda messages, _i: "[[8]]" if "Assistant A" not in messages[-1]["content"] else "[[6]]")
    score = await bench.score(math, response("FIRST ANSWER", "SECOND ANSWER"), judge)

    assert score.value == 7.0
    assert score.details["ratings"] == [8.0, 6.0]
    assert score.details["judge_prompts"] == ["single-math-v1", "single-math-v1-multi-turn"]
    prompts = upstream_prompts()
    first, second = sorted(judge.asked, key=lambda asked: "Assistant A" in asked[0][-1]["content"])
    # Turn 1: the reference-guided prompt with the reference answer and only the first answer.
    assert first[0][0] == {"role": "system", "content": prompts["single-math-v1"]["system_prompt"]}
    assert math.reference is not None
    assert math.reference[0] in first[0][-1]["content"]
    assert "FIRST ANSWER" in first[0][-1]["content"] and "SECOND ANSWER" not in first[0][-1]["content"]
    # Turn 2: the multi-turn prompt with both questions, both answers and both references.
    user = second[0][-1]["content"]
    assert second[0][0]["content"] == prompts["single-math-v1-multi-turn"]["system_prompt"]
    assert all(part in user for part in (*math.turns, "FIRST ANSWER", "SECOND ANSWER", math.reference[1]))


async def test_writing_question_uses_general_prompts(bench: MTBench, questions: dict[str, Question]) -> None:
    judge = ScriptedJudge("Rating: [[9]]")
    score = await bench.score(questions["81"], response("one", "two"), judge)
    assert score.details["judge_prompts"] == ["single-v1", "single-v1-multi-turn"]
    assert score.value == 9.0
    assert all("Reference" not in prompt for prompt in judge.user_prompts())


async def test_unparseable_verdict_is_asked_again_with_sample_one(
    bench: MTBench, questions: dict[str, Question]
) -> None:
    def reply(messages: Sequence[Message], sample_index: int) -> str:
        turn_two = "Assistant A" in messages[-1]["content"]
        if turn_two:
            return "no verdict at all"  # both tries fail: the score comes from turn 1 alone
        return "hmm" if sample_index == 0 else "Rating: [[4]]"

    judge = ScriptedJudge(reply)
    score = await bench.score(questions["81"], response("one", "two"), judge)
    assert score.value == 4.0
    assert score.details["ratings"] == [4.0, None]
    assert score.details["parse_failures"] == 3
    assert sorted(index for _, index in judge.asked) == [0, 0, 1, 1]


async def test_no_rating_in_any_turn_is_an_error(bench: MTBench, questions: dict[str, Question]) -> None:
    with pytest.raises(ArchonError, match="no parseable rating"):
        await bench.score(questions["81"], response("one", "two"), ScriptedJudge("I cannot decide."))


async def test_evaluation_records_an_unjudgeable_question_as_error_not_score(bench: MTBench) -> None:
    """Through the shared evaluation loop: the architecture answers both turns, the judge never rates."""

    def reply(request: CompletionRequest) -> str:
        return "I cannot decide." if request.model == "openai/judge" else "an answer"

    gateway = LLMGateway(backend=FakeBackend(reply))
    architecture, _ = parse_architecture({"name": "one", "layers": [[{"type": "generator", "model": "openai/m"}]]})
    runner = ArchitectureRunner(architecture, gateway)
    questions = bench.load()[:2]
    outcome = await evaluate(runner, bench, questions, judge=GatewayJudge(gateway, "openai/judge"))
    assert [r["score"] for r in outcome.records] == [None, None]
    assert all("no parseable rating" in r["error"] for r in outcome.records)
    assert all(r["judge_calls"] == 4 for r in outcome.records)  # 2 turns x (first try + retry)
    assert all(len(r["answers"]) == 2 for r in outcome.records)  # the answers stay on record


def test_missing_data_is_a_one_line_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"mt_bench/question\.jsonl"):
        get_benchmark("mt-bench", tmp_path).load()
    arch = tmp_path / "a.yaml"
    arch.write_text("name: a\nlayers:\n  - - type: generator\n      model: local/smollm2-135m\n", encoding="utf-8")
    result = run_cli("eval", str(arch), "-b", "mt-bench", "--data-dir", str(tmp_path), "--results-dir", str(tmp_path))
    assert result.code == 2
    assert "mt_bench/question.jsonl" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_aggregate_reports_the_mean_rating_per_turn(bench: MTBench) -> None:
    records: list[dict[str, Any]] = [
        {"id": "1", "score": 7.0, "error": None, "score_details": {"ratings": [8.0, 6.0]}},
        {"id": "2", "score": 4.0, "error": None, "score_details": {"ratings": [4.0, None]}},
        {"id": "3", "score": None, "error": "scoring failed", "score_details": {}},
    ]
    assert bench.aggregate(records) == {"turn_1_score": 6.0, "turn_2_score": 6.0}
