"""Each scorer of a task, with replies that must pass and replies that must fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks.base import Response, Score
from archon_cli.benchmarks.task.benchmark import TaskBenchmark
from archon_cli.errors import ArchonError
from tests.benchmarks.task.helpers import write_task
from tests.fakes import ScriptedJudge

ROWS = [{"question": f"q{i}", "answer": "x"} for i in range(10)]


def bench(tmp_path: Path, rows: list[dict[str, Any]] | None = None, **keys: Any) -> TaskBenchmark:
    return TaskBenchmark(write_task(tmp_path, rows or ROWS, **keys))


async def score(b: TaskBenchmark, reply: str, index: int = 0, judge: Any = None) -> Score:
    question = b.load()[index]
    return await b.score(question, Response([reply], []), judge)


def with_answer(answer: Any, **extra: Any) -> list[dict[str, Any]]:
    """The first row asks with ``answer``; ten more rows fill the split."""
    return [{"question": "What?", "answer": answer, **extra}] + [dict(r, answer=answer, **extra) for r in ROWS]


@pytest.mark.parametrize(
    ("reply", "value"),
    [("Paris", 1.0), ("  paris. ", 1.0), ("The Paris", 1.0), ("Paris, France", 0.0), ("Lyon", 0.0), ("", 0.0)],
)
async def test_exact(tmp_path: Path, reply: str, value: float) -> None:
    assert (await score(bench(tmp_path, with_answer("Paris"), scorer="exact"), reply)).value == value


async def test_exact_takes_any_target_of_a_list(tmp_path: Path) -> None:
    b = bench(tmp_path, with_answer(["NYC", "New York City"]), scorer="exact")
    assert (await score(b, "new york city!")).value == 1.0
    assert (await score(b, "nyc")).value == 1.0
    assert (await score(b, "New York")).value == 0.0


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("The capital is Paris.", 1.0),
        ("PARIS", 1.0),
        ("I think it is paris, France", 1.0),
        ("Lyon", 0.0),
        ("Parisian food", 0.0),  # the target's words, not a piece of another word
        ("", 0.0),
    ],
)
async def test_includes(tmp_path: Path, reply: str, value: float) -> None:
    assert (await score(bench(tmp_path, with_answer("Paris"), scorer="includes"), reply)).value == value


@pytest.mark.parametrize(
    ("reply", "value"),
    [("Answer: 42", 1.0), ("blah\nAnswer: 42 apples", 1.0), ("Answer: 41", 0.0), ("42", 0.0), ("answer 42", 0.0)],
)
async def test_regex_group_one(tmp_path: Path, reply: str, value: float) -> None:
    b = bench(tmp_path, with_answer("42"), scorer="regex", pattern=r"Answer: (\d+)")
    assert (await score(b, reply)).value == value


async def test_regex_whole_match_without_a_group(tmp_path: Path) -> None:
    b = bench(tmp_path, with_answer("ab-12"), scorer="regex", pattern=r"[a-z]{2}-\d+")
    assert (await score(b, "the code is AB-12, or ab-12")).value == 1.0
    assert (await score(b, "the code is ab-13")).value == 0.0
    assert (await score(b, "no code")).value == 0.0


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("So the total is 1,234.", 1.0),
        ("The answer is $1234.00.", 1.0),
        ("\\boxed{1234}", 1.0),
        ("First 5, then 1234", 1.0),
        ("The answer is 1235.", 0.0),
        ("1234 then 5", 0.0),  # the final number counts
        ("no number", 0.0),
    ],
)
async def test_number(tmp_path: Path, reply: str, value: float) -> None:
    assert (await score(bench(tmp_path, with_answer(1234), scorer="number"), reply)).value == value


async def test_number_tolerance(tmp_path: Path) -> None:
    b = bench(tmp_path, with_answer("3.14"), scorer="number", tolerance=0.01)
    assert (await score(b, "about 3.141")).value == 1.0
    assert (await score(b, "22/7")).value == 1.0  # 3.1428...: within 0.01
    assert (await score(b, "3.16")).value == 0.0
    assert (await score(b, "3.2")).value == 0.0


OPTIONS = ["red", "green", "blue", "yellow"]


@pytest.mark.parametrize("target", [2, "C", "blue"])
@pytest.mark.parametrize(
    ("reply", "value"),
    [("C", 1.0), ("The answer is (C).", 1.0), ("I would pick blue because the sky is that colour", 1.0), ("A", 0.0), ("(B)", 0.0)],
)
async def test_choice(tmp_path: Path, target: Any, reply: str, value: float) -> None:
    rows = [{"question": "Sky colour?", "answer": target, "options": OPTIONS}] + [
        {"question": f"q{i}", "answer": 0, "options": OPTIONS} for i in range(10)
    ]
    b = bench(tmp_path, rows, scorer="choice", options="options")
    scored = await score(b, reply)
    assert scored.value == value
    assert b.load()[0].turns[0] == "Sky colour?\nA. red\nB. green\nC. blue\nD. yellow"


async def test_choice_options_from_a_csv_cell(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(
        "question,answer,options\nSky?,blue,red | green | blue\n" + "".join(f"q{i},red,red | blue\n" for i in range(9))
    )
    b = TaskBenchmark(write_task(tmp_path, data="data.csv", scorer="choice", options="options"))
    assert (await score(b, "C")).value == 1.0
    assert (await score(b, "B")).value == 0.0


@pytest.mark.parametrize(
    ("reply", "value"),
    [("so x = \\boxed{\\frac{1}{2}}", 1.0), ("The result is \\boxed{0.5}", 1.0), ("\\boxed{2/4}", 1.0), ("\\boxed{1/3}", 0.0), ("no idea", 0.0)],
)
async def test_math(tmp_path: Path, reply: str, value: float) -> None:
    assert (await score(bench(tmp_path, with_answer("\\frac{1}{2}"), scorer="math"), reply)).value == value


TEST_CODE = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("```python\ndef add(a, b):\n    return a + b\n```", 1.0),
        ("def add(a, b):\n    return a + b\n\nprint(add(1, 2))", 1.0),  # demo code dropped, as for humaneval
        ("```python\ndef add(a, b):\n    return a - b\n```", 0.0),
        # Gamed: leave before the tests run, with a clean exit status.
        ("```python\nimport os\ndef add(a, b):\n    return 0\nos._exit(0)\n```", 0.0),
        ("```python\nimport sys\nsys.exit(0)\n```", 0.0),
        ("```python\ndef add(a, b):\n    while True:\n        pass\n```", 0.0),
    ],
)
async def test_code(tmp_path: Path, reply: str, value: float) -> None:
    rows = [{"question": "Write add(a, b).", "answer": TEST_CODE}] + [dict(r, answer=TEST_CODE) for r in ROWS]
    b = bench(tmp_path, rows, scorer="code", timeout=1.0)
    b.preflight(allow_unsandboxed=True)
    assert (await score(b, reply)).value == value


async def test_code_gamed_by_os_exit_in_the_kept_definitions(tmp_path: Path) -> None:
    """An exit hidden in a default argument survives keep_definitions and runs before the tests."""
    rows = [{"question": "Write add(a, b).", "answer": TEST_CODE}] + [dict(r, answer=TEST_CODE) for r in ROWS]
    b = bench(tmp_path, rows, scorer="code", timeout=1.0)
    b.preflight(allow_unsandboxed=True)
    reply = "```python\nimport os\nx = os._exit(0)\ndef add(a, b):\n    return 0\n```"
    scored = await score(b, reply)
    assert scored.value == 0.0 and not scored.details["passed"]


@pytest.mark.parametrize(
    ("judgment", "value", "parsed"),
    [("Good. [[PASS]]", 1.0, 1), ("Wrong. [[FAIL]]", 0.0, 1), ("[[FAIL]] then on reflection [[PASS]]", 1.0, 1), ("I cannot say", None, 0)],
)
async def test_judge_pass_fail(tmp_path: Path, judgment: str, value: float | None, parsed: int) -> None:
    judge = ScriptedJudge(judgment)
    b = bench(tmp_path, scorer="judge", rubric="Be polite.")
    scored = await score(b, "Hello there", judge=judge)
    assert scored.value == value
    assert scored.details["judge_asked"] == 1 and scored.details["judge_parsed"] == parsed
    prompt = judge.user_prompts()[0]
    assert "Be polite." in prompt and "Hello there" in prompt and "Reference answer:\nx" in prompt


@pytest.mark.parametrize(("judgment", "value"), [("[[8]]", 8.0), ("Rating: [[10]]", 10.0), ("[[11]]", None), ("[[0]]", None), ("8/10", None)])
async def test_judge_rating(tmp_path: Path, judgment: str, value: float | None) -> None:
    b = bench(tmp_path, scorer="judge", rubric="Be polite.", grade="1-10")
    assert b.metric == "judge rating (1-10)" and b.scale == 10.0 and b.needs_judge
    assert (await score(b, "Hello", judge=ScriptedJudge(judgment))).value == value


SCORER_PY = '''
def score(reply, row):
    return reply.strip() == str(row["answer"])

def half(reply, row):
    return 0.5

def boom(reply, row):
    raise RuntimeError("no luck")

def text(reply, row):
    return "yes"

def too_big(reply, row):
    return 3
'''


@pytest.mark.parametrize(("function", "reply", "value"), [("score", "x", 1.0), ("score", "y", 0.0), ("half", "y", 0.5)])
async def test_python(tmp_path: Path, function: str, reply: str, value: float) -> None:
    (tmp_path / "my_scorer.py").write_text(SCORER_PY)
    b = bench(tmp_path, scorer="python", function=f"my_scorer.py:{function}")
    assert (await score(b, reply)).value == value


@pytest.mark.parametrize(("function", "fragment"), [("boom", "raised RuntimeError: no luck"), ("text", "returned 'yes'"), ("too_big", "returned 3")])
async def test_python_failure_is_the_questions_error(tmp_path: Path, function: str, fragment: str) -> None:
    (tmp_path / "my_scorer.py").write_text(SCORER_PY)
    b = bench(tmp_path, scorer="python", function=f"my_scorer.py:{function}")
    with pytest.raises(ArchonError, match=fragment):  # evaluate_question records it as the question's error
        await score(b, "x")


@pytest.mark.parametrize(
    ("scorer", "options", "answer", "replies", "winner"),
    [
        ("number", {}, "12", ["It is 12.", "I got 12.0 in the end", "The answer is 13", "13", "answer: 12"], "12"),
        ("choice", {"options": "options"}, "A", ["B", "The answer is (B)", "A", "A.", "I choose A"], "A"),
        ("regex", {"pattern": r"ID-(\d+)"}, "7", ["ID-7 ok", "maybe ID-7", "ID-8", "ID-9", "ID-10"], "7"),
    ],
)
def test_the_vote_counts_what_the_scorer_extracts(
    tmp_path: Path, scorer: str, options: dict[str, str], answer: str, replies: list[str], winner: str
) -> None:
    from archon_cli.components.majority_vote import majority
    from archon_cli.state import Candidate

    rows = [{"question": "q", "answer": answer, "options": ["x", "y", "z"]} for _ in range(10)]
    b = bench(tmp_path, rows, scorer=scorer, **options)
    question = b.load()[0]
    key = b.answer_key(question)
    assert key is not None
    chosen = majority(tuple(Candidate(r) for r in replies), key)
    assert {key(c.text) for c in chosen} == {winner.casefold() if scorer != "choice" else winner}
