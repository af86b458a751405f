"""CodeContests: output matching, row parsing, scoring on a handmade problem, no offline copy;
the code benchmarks are registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.code.code_contests import (
    CodeContests,
    outputs_match,
    problem_tests,
    run_io_tests,
    time_limit_s,
)
from archon_cli.benchmarks.code.sandbox import Sandbox, SandboxLimits
from archon_cli.errors import UserError
from tests.benchmarks.code import FAST, fenced, reply
from tests.conftest import SHARED_DATA, run_cli

SUM_TESTS = [("1 2\n", "3\n"), ("10 -4\n", "6"), ("  7\n8  ", "15 \n\n")]
SUM_RIGHT = "a, b = map(int, open(0).read().split())\nprint(a + b)\n"


def test_outputs_match_ignores_whitespace_only() -> None:
    assert outputs_match("3 4\n5\n", " 3\t4 5")
    assert not outputs_match("3 4\n", "34")
    assert not outputs_match("", "0")


def test_code_contests_row_parsing() -> None:
    row = {
        "public_tests": {"input": ["1\n"], "output": ["2\n"]},
        "private_tests": {"input": ["3\n"], "output": ["4\n"]},
        "generated_tests": {"input": [], "output": []},
        "time_limit": {"seconds": 1, "nanos": 500000000},
    }
    assert problem_tests(row) == [("1\n", "2\n"), ("3\n", "4\n")]
    assert (
        time_limit_s(row) == 4.5 and time_limit_s({}) == 2.0 and time_limit_s({"time_limit": {"seconds": 60}}) == 10.0
    )


async def test_code_contests_scoring_on_a_handmade_problem() -> None:
    sandbox = Sandbox(FAST)
    ok, details = await run_io_tests(sandbox, SUM_RIGHT, SUM_TESTS)
    assert ok and details["tests_passed"] == 3

    ok, details = await run_io_tests(sandbox, "a, b = map(int, input().split())\nprint(a - b)\n", SUM_TESTS)
    assert not ok and details["failed_test"] == 0 and details["wrong_answer"] is True and details["tests_passed"] == 0

    # Right on the first test only (reads one line): fails the third, whose numbers are on two lines.
    ok, details = await run_io_tests(sandbox, "a, b = map(int, input().split())\nprint(a + b)\n", SUM_TESTS)
    assert not ok and details["failed_test"] == 2 and details["tests_passed"] == 2 and details["wrong_answer"] is False

    ok, details = await run_io_tests(sandbox, "while True:\n    pass\n", SUM_TESTS, SandboxLimits(timeout_s=1.0))
    assert not ok and details["timed_out"] is True


async def test_code_contests_score_reads_the_program_from_the_reply() -> None:
    bench = CodeContests(sandbox=Sandbox(FAST))
    question = Question(id="sum", turns=("add",), meta={"tests": SUM_TESTS, "timeout_s": 2.0})
    assert (await bench.score(question, reply(fenced(SUM_RIGHT)), None)).value == 1.0
    assert (await bench.score(question, reply(fenced("print(0)\n")), None)).value == 0.0


def test_code_contests_has_no_offline_copy(tmp_path: Path) -> None:
    bench = get_benchmark("code-contests", SHARED_DATA)
    assert "no offline copy" in bench.description
    with pytest.raises(UserError, match="no offline copy"):
        bench.load()
    result = run_cli("eval", "architectures/single-call.yaml", "-b", "code-contests", "--data-dir", str(SHARED_DATA))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "no offline copy" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_code_benchmarks_are_registered() -> None:
    result = run_cli("benchmarks")
    assert result.code == 0
    for name in ("humaneval", "mbpp", "code-contests"):
        assert name in result.stdout
