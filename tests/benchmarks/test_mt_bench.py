"""MT-Bench: data loading, judge prompt choice per turn and category, rating parsing and retries."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Question, Response
from archon_cli.benchmarks.judging import parse_rating
from archon_cli.benchmarks.mt_bench import MTBench
from archon_cli.config import parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import UserError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.judge import GatewayJudge
from archon_cli.evaluation.summary import summarize
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


# FastChat's rating extraction (fastchat/llm_judge/common.py, run_judge_single): the first [[n]],
# else the first [n]; no range check; none -> -1 (here None), which show_result.py drops.
FASTCHAT_CASES = [
    ("Rating: [[8]]", 8.0),
    ("[[3]] then later [[9]]", 3.0),  # the first, not the last
    ('Format: "[[rating]]", e.g. "Rating: [[5]]". My verdict: [[7]]', 5.0),
    ("no double, but [7] single", 7.0),
    ("see [1]. rating 6", 1.0),  # the single-bracket fallback takes a citation
    ("see [1] ... Rating: [[6]]", 6.0),
    ("[[8.5]]", 8.5),
    ("[[8.]]", 8.0),
    ("[[15]]", 15.0),
    ("[[0]]", 0.0),
    ("[[ 8 ]]", None),
    ("Rating: 8/10", None),
    ("Rating: 6", None),
    ("$ERROR$", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "rating"), FASTCHAT_CASES)
def test_parse_rating_as_fastchat(text: str, rating: float | None) -> None:
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


async def test_each_turn_is_judged_once_and_unrated_turns_are_dropped(
    bench: MTBench, questions: dict[str, Question]
) -> None:
    """As FastChat: one judgment per turn, no second try; a turn without a rating is left out and
    the question weighs as many turns as were rated."""

    def reply(messages: Sequence[Message], sample_index: int) -> str:
        return "no verdict at all" if "Assistant A" in messages[-1]["content"] else "Rating: [[4]]"

    judge = ScriptedJudge(reply)
    score = await bench.score(questions["81"], response("one", "two"), judge)
    assert score.value == 4.0
    assert score.details["ratings"] == [4.0, None]
    assert score.details["weight"] == 1
    assert (score.details["judge_asked"], score.details["judge_parsed"]) == (2, 1)
    assert sorted(index for _, index in judge.asked) == [0, 0]


async def test_no_rating_in_any_turn_leaves_the_question_unscored(bench: MTBench, questions: dict[str, Question]) -> None:
    score = await bench.score(questions["81"], response("one", "two"), ScriptedJudge("I cannot decide."))
    assert score.value is None and score.details["judge_parsed"] == 0


def evaluate_with_judge(bench: MTBench, judge_reply: Callable[[str], str], n: int = 2) -> dict[str, Any]:
    """Evaluate the first ``n`` questions, the judge answering by the question's first turn; the summary."""

    def reply(request: CompletionRequest) -> str:
        return judge_reply(request.messages[-1]["content"]) if request.model == "openai/judge" else "an answer"

    gateway = LLMGateway(backend=FakeBackend(reply))
    architecture, _ = parse_architecture({"name": "one", "layers": [[{"type": "generator", "model": "openai/m"}]]})
    runner = ArchitectureRunner(architecture, gateway)
    outcome = asyncio.run(evaluate(runner, bench, bench.load()[:n], judge=GatewayJudge(gateway, "openai/judge")))
    return summarize(outcome.records)


def test_a_question_the_judge_could_not_rate_is_left_out_not_counted_zero(bench: MTBench) -> None:
    """Question 81 rated 8 on both turns, question 82 never rated: the score is 8 (FastChat drops
    the unparsed ratings), not (8 + 0) / 2; the run says half the verdicts were unreadable."""
    first_81 = bench.load()[0].turns[0][:40]
    summary = evaluate_with_judge(bench, lambda prompt: "[[8]]" if first_81 in prompt else "I cannot decide.")
    assert summary["score"] == 8.0
    assert summary["unscored"] == 1 and summary["errors"] == 0
    assert summary["judge_verdicts"]["asked"] == 4 and summary["judge_verdicts"]["parsed"] == 2
    assert summary["reliable"] is False and "2 of 4" in summary["unreliable_reason"]


def test_the_score_is_the_mean_of_all_rated_turns(bench: MTBench) -> None:
    """FastChat's average pools the turn ratings: 81 rated 8 (turn 2 unrated), 82 rated 4 and 6:
    (8 + 4 + 6) / 3 = 6, where a mean of question means would say (8 + 5) / 2 = 6.5."""
    q81, q82 = (q.turns for q in bench.load()[:2])

    def judge(prompt: str) -> str:
        if q81[0][:40] in prompt:
            return "no rating" if q81[1][:40] in prompt else "[[8]]"
        return "[[6]]" if q82[1][:40] in prompt else "[[4]]"

    summary = evaluate_with_judge(bench, judge)
    assert summary["score"] == pytest.approx(6.0)
    assert summary["judge_verdicts"]["parsed_share"] == 0.75 and summary["reliable"] is False


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
