"""Ground-truth benchmarks (GSM8K, MATH-500, MixEval): loading the shared data and scoring known replies."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Benchmark, Question, Response
from archon_cli.benchmarks.gsm8k import numbers_equal
from archon_cli.benchmarks.math500 import is_equivalent
from archon_cli.benchmarks.mixeval import build_prompt
from archon_cli.errors import UserError
from tests.conftest import SHARED_DATA


def score(benchmark: Benchmark, question: Question, reply: str) -> float | None:
    return asyncio.run(benchmark.score(question, Response(answers=[reply], results=[]), None)).value


# -- loading ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "count", "first_id"),
    [
        ("gsm8k", 1319, "gsm8k-0000"),
        ("math", 500, "test/precalculus/807.json"),
        ("mixeval", 2000 + 1995, "ff-0"),
        ("mixeval-hard", 500 + 500, "ff-0"),
    ],
)
def test_loads_shared_data_with_stable_unique_ids(name: str, count: int, first_id: str) -> None:
    first = get_benchmark(name, SHARED_DATA).load()
    again = get_benchmark(name, SHARED_DATA).load()
    assert len(first) == count
    assert len({q.id for q in first}) == count
    assert first[0].id == first_id
    assert [q.id for q in first] == [q.id for q in again]
    assert all(q.turns and q.turns[0].strip() for q in first)


@pytest.mark.parametrize("name", ["gsm8k", "math", "mixeval", "mixeval-hard"])
def test_missing_data_is_a_user_error_naming_the_file(name: str, tmp_path: Path) -> None:
    benchmark = get_benchmark(name, tmp_path)
    with pytest.raises(UserError) as err:
        benchmark.load()
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path) in message
    # The message names the file the benchmark declares it needs.
    assert any(Path(f).name in message for f in benchmark.data_files), message
    assert benchmark.hub_id


def test_gsm8k_reference_is_the_number_after_hashes() -> None:
    questions = get_benchmark("gsm8k", SHARED_DATA).load()
    assert questions[0].reference == "18"  # Janet's ducks: "#### 18"
    assert "Janet" in questions[0].turns[0] and "The answer is" in questions[0].turns[0]
    # Gold answers with thousands separators are canonical numbers.
    assert all("," not in q.reference for q in questions)


def test_math_categories_are_subjects() -> None:
    questions = get_benchmark("math", SHARED_DATA).load()
    assert {q.category for q in questions} == {
        "Algebra",
        "Intermediate Algebra",
        "Prealgebra",
        "Number Theory",
        "Precalculus",
        "Geometry",
        "Counting & Probability",
    }
    assert "\\boxed" in questions[0].turns[0]


def test_mixeval_uses_the_newest_release_and_categories() -> None:
    benchmark = get_benchmark("mixeval", SHARED_DATA)
    questions = benchmark.load()
    assert {q.category for q in questions} == {"free-form", "multiple-choice"}
    # 2024-08-11 has 1995 multiple-choice items; 2024-06-01 had 2000.
    assert sum(q.category == "multiple-choice" for q in questions) == 1995
    mc = next(q for q in questions if q.id == "mc-0")
    assert mc.meta["source"] == "CommonsenseQA" and mc.reference == 0
    assert "A. cool off" in mc.turns[0] and "E. release energy" in mc.turns[0]
    assert mc.turns[0].startswith("anger\n")  # the context comes first
    older = type(benchmark)(SHARED_DATA, release="2024-06-01").load()
    assert sum(q.category == "multiple-choice" for q in older) == 2000


# -- GSM8K scoring ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "gold", "right"),
    [
        ("The answer is 1,234 dollars.", "1234", True),
        ("She pays $1,234.00 in total. The answer is $1,234.", "1,234", True),
        ("18.0", "18", True),
        ("So Janet makes 9 * 2 = 18 dollars. The answer is 18.", "18", True),
        ("The answer is 0.5", "1/2", True),
        ("The answer is 1,243 dollars.", "1234", False),
        ("She has 18 eggs, then sells 16. The answer is 16.", "18", False),
        ("I do not know.", "18", False),
    ],
)
def test_gsm8k_compares_final_numbers_by_value(reply: str, gold: str, right: bool) -> None:
    assert numbers_equal(reply, gold)[0] is right


def test_gsm8k_score_records_the_extracted_number() -> None:
    benchmark = get_benchmark("gsm8k", SHARED_DATA)
    question = Question(id="q", turns=("x",), reference="1234")
    assert score(benchmark, question, "The answer is 1,234 dollars.") == 1.0
    assert score(benchmark, question, "The answer is 1,235 dollars.") == 0.0


# -- MATH scoring -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "gold", "right"),
    [
        ("The answer is $\\boxed{0.5}$.", "\\frac{1}{2}", True),
        ("So the probability is 0.5", "\\frac{1}{2}", True),
        ("We get $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}", True),
        ("First $\\boxed{3}$, corrected: $\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt{3}}{2}", True),
        ("$\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$", "\\left( 3, \\frac{\\pi}{2} \\right)", True),
        ("$\\boxed{\\frac{\\sqrt{3}}{3}}$", "\\frac{\\sqrt{3}}{2}", False),
        ("$\\boxed{\\frac{1}{3}}$", "\\frac{1}{2}", False),
        ("Corrected: $\\boxed{3}$", "\\frac{\\sqrt{3}}{2}", False),
        ("I cannot solve this.", "\\frac{1}{2}", False),
        ("\\boxed{\\frac{", "\\frac{1}{2}", False),
    ],
)
def test_math_answers_are_checked_for_equivalence(reply: str, gold: str, right: bool) -> None:
    assert is_equivalent(reply, gold)[0] is right


def test_math_extracts_the_last_nested_box() -> None:
    correct, extracted = is_equivalent("so $\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt{3}}{2}")
    assert correct and extracted == "\\frac{\\sqrt{3}}{2}"


def test_math_every_gold_answer_verifies_against_itself() -> None:
    questions = get_benchmark("math", SHARED_DATA).load()
    failed = [q.id for q in questions if not is_equivalent(f"\\boxed{{{q.reference}}}", str(q.reference))[0]]
    assert failed == []


def test_math_scoring_works_off_the_main_thread() -> None:
    """math-verify's signal timeouts only work in the main thread; scoring elsewhere must not fail."""
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(is_equivalent("$\\boxed{0.5}$", "\\frac{1}{2}")[0]))
    thread.start()
    thread.join(30)
    assert results == [True]


# -- MixEval (its scoring: tests/benchmarks/test_mixeval.py) ------------------------------------


def test_mixeval_prompts_follow_the_official_format() -> None:
    mc = {"problem_type": "multiple-choice", "context": None, "prompt": "Q?", "options": ["x", "y"], "target": [1]}
    assert build_prompt(mc) == "Q?\nA. x\nB. y\nAnswer with the option letter from the given choices directly."
    ff = {"problem_type": "free-form", "context": "none", "prompt": "Q?", "target": ["t"], "benchmark_name": "X"}
    assert build_prompt(ff) == "Q?\nAnswer the question shortly."


def test_mixeval_score_and_per_source_aggregate() -> None:
    benchmark = get_benchmark("mixeval-hard", SHARED_DATA)
    questions = {q.id: q for q in benchmark.load()}
    ff, mc = questions["ff-1"], questions["mc-0"]  # "Wayne Sleep"; gold option D (Reversions)
    assert score(benchmark, ff, "Wayne Sleep.") == 1.0
    assert score(benchmark, ff, "Rudolf Nureyev") == 0.0
    assert score(benchmark, mc, "Given the felony intent, the answer is D.") == 1.0
    assert score(benchmark, mc, "Given the felony intent, the answer is A.") == 0.0
    records = [
        {"id": "ff-1", "score": 1.0, "error": None, "score_details": {"source": "TriviaQA", "problem_type": "free-form"}},
        {"id": "ff-2", "score": 1.0, "error": None, "score_details": {"source": "TriviaQA", "problem_type": "free-form"}},
        {"id": "mc-0", "score": 0.0, "error": None, "score_details": {"source": "MMLU", "problem_type": "multiple-choice"}},
        {"id": "mc-1", "score": None, "error": "boom", "score_details": {}},
    ]
    extra = benchmark.aggregate(records)
    assert extra["per_source"] == {"MMLU": {"n": 1, "score": 0.0}, "TriviaQA": {"n": 2, "score": 1.0}}
    assert extra["release"] == "2024-08-11"
    # Official: the mean of the free-form and multiple-choice means, (1 + 0) / 2, not 2 / 3.
    assert extra["official_score"] == 0.5 and extra["parser"].startswith("rule")
