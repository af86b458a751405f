"""MixEval scoring against the official parsers, transcribed from Psycoy/MixEval
``mix_eval/utils/metric_utils.py``: ``parse_multi_choice_response_rule`` (multiple choice),
``parse_freeform_response_rule`` + ``eval_freeform_rule`` (free form), and the model parser's
output formats (``get_option_from_judge``, ``get_score_from_judge``) behind ``--judge``.

The cases were derived by running a verbatim transcription of those functions (kept outside the
repository, with the research notes); MixEval is not on PyPI, so it cannot run beside ours here.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Question, Response
from archon_cli.benchmarks.mixeval import (
    MixEval,
    free_form_correct,
    free_form_predictions,
    judged_grade,
    judged_letter,
    parse_choice_rule,
)
from tests.conftest import SHARED_DATA
from tests.fakes import ScriptedJudge

OPTIONS = ["Islam", "Christianity", "Hinduism", "Buddhism"]  # gold: B

# (reply, the official rule parser's letter; None: no pattern fits, a random letter)
CHOICE_CASES = [
    ("B. Christianity. A (Islam) is older.", "B"),  # the first occurrence, not the last
    ("I think (B) is right, not (A)", "B"),
    ("A good answer would be B", "A"),  # " A " comes first
    ("B\n\nWhat is next?\nA. foo", "B"),
    ("The answer is C", "C"),
    ("Answer: D", "D"),
    ("**B**", None),
    ("**B.** Christianity", None),
    ("Christianity", None),  # option text counts only in replies of more than five words
    ("The religion founded on Jesus is Christianity, of course.", "B"),
    ("b", None),  # lowercase never matches
    ("None of these.", None),
    ("A: Islam is older, but the answer is B", "B"),
    ("(C)", "C"),
    ("C.", "C"),
]


@pytest.mark.parametrize(("reply", "letter"), CHOICE_CASES)
def test_multiple_choice_rule_parser(reply: str, letter: str | None) -> None:
    chosen, how = parse_choice_rule(reply, OPTIONS, random.Random(0))
    if letter is None:
        assert how == "random" and chosen in "ABCD"
    else:
        assert (chosen, how != "random") == (letter, True)


def test_no_match_is_a_random_letter_about_one_in_k_not_zero() -> None:
    picks = [parse_choice_rule("I am not sure.", OPTIONS, random.Random(seed))[0] for seed in range(400)]
    assert 0.18 < picks.count("B") / len(picks) < 0.32


# (reply, targets, the official rule verdict)
FREE_FORM_CASES = [
    # The three examples: the official rule parser rejects only the first.
    ("In 1958.", ["1958 Plymouth Fury", "a vintage 1958 Plymouth Fury"], False),
    ("It is not Paris...", ["Paris"], True),  # the key after "is ": "not paris", which contains "paris"
    ("Either Zambia or Malawi", ["Zambia"], True),  # substring, no word boundaries
    ("It is not Paris, it is Lyon.", ["Paris"], False),  # the last "is ": "lyon"
    ("The capital is paris. So the answer is Rome", ["Paris"], False),
    ("About 3.14159", ["3.14"], True),  # numbers to two decimals
    ("a", ["A"], True),
    ("No, yes", ["yes"], True),
    ("Zambia.", ["Republic of Zambia"], False),
    ("It was 1,000 people", ["1000"], True),
    ("There are 12 apples and 5 pears", ["5"], True),
    ("$5", ["5"], True),
    ("Mandy Rice-Davies", ["Mandy-Rice Davies", "Mandy Rice-Davies"], True),
    ("The answer is: (B)", ["(B)"], True),
    ("The answer is: (C)", ["(B)"], False),
    ("The answer is: $\\frac{1}{24}$", ["\\frac{1}{24}"], True),
    ("The answer is: 2", ["100-60=40...\n#### 2"], False),  # GSM8K targets hold the whole solution
]


@pytest.mark.parametrize(("reply", "targets", "right"), FREE_FORM_CASES)
def test_free_form_rule_parser(reply: str, targets: list[str], right: bool) -> None:
    assert free_form_correct(targets, free_form_predictions(reply)) is right


@pytest.mark.parametrize(
    ("judgment", "letter", "grade"),
    [
        ("The model chose Christianity. [[B]]", "B", None),
        ("[B] ... [[C]]", "C", None),  # [[X]] first, then [X]
        ("no bracket", None, None),
        ("Score: [[0.5]]", None, 0.5),
        ("[[1.0]] then [[0.0]]", None, 1.0),
        ("[[1.5]]", None, None),  # out of range
        ("[0.3]", None, 0.3),
    ],
)
def test_model_parser_output_formats(judgment: str, letter: str | None, grade: float | None) -> None:
    assert judged_letter(judgment) == letter
    assert judged_grade(judgment) == grade


@pytest.fixture(scope="module")
def mixeval() -> MixEval:
    bench = get_benchmark("mixeval-hard", SHARED_DATA)
    assert isinstance(bench, MixEval)
    return bench


@pytest.fixture(scope="module")
def questions(mixeval: MixEval) -> dict[str, Question]:
    return {q.id: q for q in mixeval.load()}


def score(bench: MixEval, question: Question, reply: str, judge: Any = None) -> Any:
    return asyncio.run(bench.score(question, Response(answers=[reply], results=[]), judge))


def test_an_unparsed_choice_is_random_and_the_same_on_a_rerun(mixeval: MixEval, questions: dict[str, Question]) -> None:
    question = questions["mc-0"]
    first = score(mixeval, question, "I cannot decide.")
    assert first.details["parsed_by"] == "random"
    assert score(mixeval, question, "I cannot decide.").details["extracted"] == first.details["extracted"]


def test_with_a_judge_the_model_parser_decides(mixeval: MixEval, questions: dict[str, Question]) -> None:
    mc, ff = questions["mc-0"], questions["ff-1"]  # gold D; "Wayne Sleep"
    judge = ScriptedJudge("The answer chooses option D: [[D]]")
    chosen = score(mixeval, mc, "I'd go with the last one.", judge)
    assert chosen.value == 1.0 and chosen.details["parsed_by"] == "model"
    assert (chosen.details["judge_asked"], chosen.details["judge_parsed"]) == (1, 1)
    (messages, _), = judge.asked
    assert "I'd go with the last one." in messages[-1]["content"] and "D. " in messages[-1]["content"]
    graded = score(mixeval, ff, "Maybe Wayne Sleep?", ScriptedJudge("Partly right. [[0.7]]"))
    assert graded.value == 0.7  # free-form grades are fractional, as officially
    unreadable = score(mixeval, ff, "Maybe Wayne Sleep?", ScriptedJudge("no grade"))
    assert unreadable.details["parsed_by"] == "random" and unreadable.details["judge_parsed"] == 0
    assert 0.0 <= unreadable.value <= 1.0
