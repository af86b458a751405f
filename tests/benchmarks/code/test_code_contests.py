"""CodeContests: output matching, row parsing, scoring on a handmade problem, no offline copy;
the code benchmarks are registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.benchmarks import BENCHMARKS, get_benchmark
from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.code.code_contests import (
    CodeContests,
    outputs_match,
    problem_tests,
    run_io_tests,
    time_limit_s,
)
from archon_cli.errors import UserError
from archon_cli.execution.sandbox import Sandbox, SandboxLimits
from tests.benchmarks.code import FAST, fenced, reply
from tests.conftest import SHARED_DATA, run_cli

SUM_TESTS = [("1 2\n", "3\n"), ("10 -4\n", "6"), ("  7\n8  ", "15 \n\n")]
SUM_RIGHT = "a, b = map(int, open(0).read().split())\nprint(a + b)\n"


def test_outputs_match_ignores_whitespace_only() -> None:
    assert outputs_match("3 4\n5\n", " 3\t4 5")
    assert not outputs_match("3 4\n", "34")
    assert not outputs_match("", "0")


# Transcribed from google-deepmind/code_contests execution/tester_sandboxer.cc (OutputsMatch,
# ValuesMatch, SplitAndLowercase; abseil 20211102's SimpleAtoi/SimpleAtod) and the upstream
# tester_sandboxer_test.cc OutputsMatchTest cases (the first six): (output, expected, match).
OFFICIAL_CASES = [
    ("abc def", "abc def", True), ("abc deg", "abc def", False), ("abc def", "abc def 123", False),
    ("abc DEF", "abc def", True), ("abc 123", "abc 123.000001", True), ("abc 123", "abc 123.1", False),
    ("0.500000", "0.5", True), ("YES", "yes", True), ("Yes\n", "YES", True),
    ("1 2\n3", "1\n2 3", True), ("1  2\r\n", "1 2", True), ("1\f2", "1 2", False),  # \f is no separator
    ("0.33333", "0.3333333333", True), ("0.3333", "0.3333333333", False),
    ("0.00001", "0", False), ("0.000009", "0", True),  # strictly below 1e-5, absolute
    ("1000000.00001", "1000000", True), ("1000000.00002", "1000000", False),
    ("100000", "1e5", True), ("+5", "5", True), ("-0", "0", True), ("5.", "5", True), (".5", "0.5", True),
    ("+-5", "-5", False), ("1,000", "1000", False), ("0x10", "16", False), ("1e", "1", False),
    ("nan", "NaN", True), ("nan 1.0", "nan 1", False), ("nan", "-nan", False), ("inf", "infinity", False),
    ("9007199254740993", "9007199254740992", True), ("1e400", "inf", False),  # inf - inf is NaN
    ("", "", True), ("", "\n", True), ("0", "", False), ("é", "É", False), ("a\u00a0b", "a b", False),
]  # fmt: skip


@pytest.mark.parametrize(("output", "expected", "match"), OFFICIAL_CASES)
def test_outputs_match_the_official_checker(output: str, expected: str, match: bool) -> None:
    assert outputs_match(output, expected) is match


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

    # As officially, a test passes on its output: a right answer printed before a crash counts.
    crash_after = "a, b = map(int, open(0).read().split())\nprint(a + b, flush=True)\nraise SystemExit(1)\n"
    ok, details = await run_io_tests(sandbox, crash_after, SUM_TESTS)
    assert ok and details["tests_passed"] == 3
    # Official tolerance: "3.000000" for 3, "YES" for "yes".
    ok, _ = await run_io_tests(sandbox, "print('3.000000 YES')", [("", "3 yes")])
    assert ok


async def test_code_contests_score_reads_the_program_from_the_reply() -> None:
    bench = CodeContests(sandbox=Sandbox(FAST))
    question = Question(id="sum", turns=("add",), meta={"tests": SUM_TESTS, "timeout_s": 2.0})
    assert (await bench.score(question, reply(fenced(SUM_RIGHT)), None)).value == 1.0
    assert (await bench.score(question, reply(fenced("print(0)\n")), None)).value == 0.0


def test_code_contests_has_no_offline_copy(tmp_path: Path) -> None:
    bench = get_benchmark("code-contests", SHARED_DATA)
    assert "no offline copy" in BENCHMARKS.description("code-contests")
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
