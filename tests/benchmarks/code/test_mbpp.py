"""MBPP: the evaluation split, entry points, known right and wrong solutions."""

from __future__ import annotations

import asyncio

import pytest

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.code.mbpp import MBPP, entry_point
from archon_cli.execution.sandbox import Sandbox
from tests.benchmarks.code import FAST, fenced, reply
from tests.conftest import SHARED_DATA

REMOVE_OCC_RIGHT = """def remove_Occ(s, ch):
    first = s.find(ch)
    if first >= 0:
        s = s[:first] + s[first + 1:]
    last = s.rfind(ch)
    if last >= 0:
        s = s[:last] + s[last + 1:]
    return s
"""
REMOVE_OCC_WRONG = "def remove_Occ(s, ch):\n    return s.replace(ch, '', 1)  # only the first\n"
SORT_MATRIX_RIGHT = "def sort_matrix(M):\n    return sorted(M, key=sum)\n\nprint(sort_matrix([[2], [1]]))\n"
SORT_MATRIX_WRONG = "def sort_matrix(M):\n    return sorted(M)\n"


@pytest.fixture(scope="module")
def mbpp() -> MBPP:
    return MBPP(SHARED_DATA, sandbox=Sandbox(FAST))


@pytest.fixture(scope="module")
def mbpp_questions(mbpp: MBPP) -> dict[str, Question]:
    return {q.id: q for q in mbpp.load()}


def test_mbpp_loads_the_evaluation_split(mbpp_questions: dict[str, Question]) -> None:
    ids = list(mbpp_questions)
    assert len(ids) == 500 and ids[0] == "mbpp/11" and ids[-1] == "mbpp/510"
    q = mbpp_questions["mbpp/11"]
    assert 'assert remove_Occ("hello","l") == "heo"' in q.turns[0]
    assert 'remove_Occ("abcda"' not in q.turns[0]  # only the first test is shown
    assert q.meta["entry_point"] == "remove_Occ" and len(q.meta["tests"]) == 3
    assert "root = Node(1)" in mbpp_questions["mbpp/367"].turns[0]  # setup code is shown when a task has it


def test_mbpp_entry_point_skips_wrapping_calls() -> None:
    assert entry_point("assert set(similar(a, b)) == {1}", "def similar(x, y):\n    pass") == "similar"
    assert entry_point("assert math.isclose(area(2), 12.5)", "def area(r):\n    pass") == "area"


async def test_mbpp_right_and_wrong_solutions(mbpp: MBPP, mbpp_questions: dict[str, Question]) -> None:
    q11, q12 = mbpp_questions["mbpp/11"], mbpp_questions["mbpp/12"]
    cases = [
        (q11, fenced(REMOVE_OCC_RIGHT), 1.0),
        (q11, fenced(REMOVE_OCC_WRONG), 0.0),
        (q12, fenced(SORT_MATRIX_RIGHT), 1.0),  # its demo print is dropped, not run
        (q12, fenced(SORT_MATRIX_WRONG), 0.0),
        (q12, "I do not know.", 0.0),
    ]
    scores = await asyncio.gather(*(mbpp.score(q, reply(text), None) for q, text, _ in cases))
    assert [s.value for s in scores] == [expected for _, _, expected in cases]
    assert scores[4].details["exception"] == "SyntaxError"  # prose run as code


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        # mbpp/11 with a wrong function that ends the program before the asserts: a failure.
        (REMOVE_OCC_WRONG.replace("return s.replace(ch, '', 1)", "raise SystemExit"), "failed: "),
        (REMOVE_OCC_WRONG + "\n_ = exit()\n", "failed: 'NoneType' object is not callable"),
        (REMOVE_OCC_WRONG.replace("return", "import os; os._exit(0)  #"), "timed out"),
        ("import time\n" + REMOVE_OCC_RIGHT.replace("    first", "    time.sleep(1.2)\n    first"), "timed out"),
    ],
    ids=["raise SystemExit", "exit()", "os._exit(0)", "3 asserts x 1.2 s"],
)
async def test_mbpp_exiting_early_or_running_over_3_seconds_fails(
    mbpp: MBPP, mbpp_questions: dict[str, Question], code: str, verdict: str
) -> None:
    score = await mbpp.score(mbpp_questions["mbpp/11"], reply(fenced(code)), None)
    assert score.value == 0.0 and score.details["verdict"] == verdict
