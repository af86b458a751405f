"""CodeContests (DeepMind, test split, 165 competitive-programming problems): pass@1 on I/O tests.

The model writes a Python 3 program that reads standard input and writes standard output. It runs
in the sandbox once per test (public, then private, then generated tests), with the test's input on
stdin. Its output is checked as the official tester checks it (google-deepmind/code_contests
``execution/tester_sandboxer.cc``, ``OutputsMatch``; see ``outputs_match``): tokens compared
case-insensitively, numbers within 1e-5; and, as there, a test passes on its output alone (a
program that prints the right answer, then crashes or runs out of time, passes). The first failing
test stops the problem; score 1 only if every test passes.

Data: only on the Hugging Face hub (``deepmind/code_contests``). No offline copy exists (upstream
ships it on cloud storage in a binary record format), so this benchmark needs network access to the
hub and refuses ``--data-dir``.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, ClassVar

from archon_cli.benchmarks.base import Judge, Question, Response, Score
from archon_cli.benchmarks.code.base import CodeBenchmark, run_details
from archon_cli.errors import UserError
from archon_cli.execution.extract import extract_code
from archon_cli.execution.sandbox import Sandbox, SandboxLimits

HUB_ID = "deepmind/code_contests"
_INSTRUCTION = (
    "Solve the following competitive programming problem in Python 3. The program must read from "
    "standard input and write to standard output. Reply with the complete program in a single "
    "```python code block."
)
_TEST_GROUPS = ("public_tests", "private_tests", "generated_tests")
# The dataset's ``source`` enum.
_SOURCES = ("unknown", "codechef", "codeforces", "hackerearth", "codejam", "atcoder", "aizu")


# The official tester splits on these five ASCII characters only (absl::ByAnyChar(" \n\t\r\v")).
_SEPARATORS = re.compile("[ \n\t\r\v]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# What absl::SimpleAtod (abseil 20211102, the tester's pinned version) reads as a number, on an
# already lowercased token: an optional "+" (not followed by "-"), then absl::from_chars' general
# format: decimal with optional fraction and exponent, inf, infinity, nan, nan(chars). No hex,
# no digit separators. (Every int32 SimpleAtoi reads is also such a number, so the official
# integer branch never decides.)
_NUMBER = re.compile(
    r"\+?-?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?|inf|infinity|nan(?:\([0-9a-z_]*\))?)", re.ASCII
)
_TOLERANCE = 1e-5


def output_tokens(text: str) -> list[str]:
    """SplitAndLowercase: the non-empty pieces between separators, ASCII letters lowercased."""
    return [piece.translate(_ASCII_LOWER) for piece in _SEPARATORS.split(text) if piece]


def _as_number(token: str) -> float | None:
    if not _NUMBER.fullmatch(token) or token.startswith("+-"):
        return None
    if token.lstrip("+-").startswith("nan"):
        return math.nan
    return float(token.lstrip("+"))  # Python gives inf on overflow, as SimpleAtod does


def values_match(a: str, b: str) -> bool:
    """ValuesMatch on two lowercased tokens: numbers within an absolute 1e-5, anything else equal."""
    x, y = _as_number(a), _as_number(b)
    if x is None or y is None:
        return a == b
    return abs(x - y) < _TOLERANCE


def outputs_match(actual: str, expected: str) -> bool:
    """OutputsMatch: the same token lists, or as many tokens with every pair matching."""
    out, want = output_tokens(actual), output_tokens(expected)
    if out == want:
        return True
    return len(out) == len(want) and all(values_match(a, b) for a, b in zip(out, want, strict=True))


def problem_tests(row: dict[str, Any]) -> list[tuple[str, str]]:
    """``(input, expected output)`` pairs of a hub row, public tests first."""
    pairs: list[tuple[str, str]] = []
    for group in _TEST_GROUPS:
        tests = row.get(group) or {}
        pairs.extend(zip(map(str, tests.get("input") or []), map(str, tests.get("output") or []), strict=False))
    return pairs


def _source_name(source: Any) -> str:
    if isinstance(source, int) and 0 <= source < len(_SOURCES):
        return _SOURCES[source]
    return str(source or "")


def time_limit_s(row: dict[str, Any], default: float = 2.0) -> float:
    """The problem's time limit, three times over (Python is slow), between 2 and 10 seconds."""
    limit = row.get("time_limit") or {}
    seconds = float(limit.get("seconds") or 0) + float(limit.get("nanos") or 0) / 1e9
    return min(10.0, max(2.0, 3 * seconds)) if seconds > 0 else default


async def run_io_tests(
    sandbox: Sandbox, program: str, tests: list[tuple[str, str]], limits: SandboxLimits | None = None
) -> tuple[bool, dict[str, Any]]:
    """Run ``program`` on each test's input; stop at the first wrong output or failed run.

    A test passes when the output matches, whatever the exit status (as officially). Returns whether
    all passed and details (tests passed, and about the failing test: its index, whether it timed
    out or crashed, the output tails)."""
    passed, mode = 0, "isolated"
    for index, (stdin, expected) in enumerate(tests):
        result = await sandbox.run(program, stdin=stdin, limits=limits)
        details = run_details(result)
        mode = details["sandbox"]
        if result.stdout_truncated or not outputs_match(result.stdout, expected):
            details.update(
                passed=False,
                tests_passed=passed,
                tests=len(tests),
                failed_test=index,
                wrong_answer=result.ok,
                expected_tail=expected[-200:],
            )
            return False, details
        passed += 1
    return passed > 0, {"passed": passed > 0, "tests_passed": passed, "tests": len(tests), "sandbox": mode}


class CodeContests(CodeBenchmark):
    name = "code-contests"
    hub_id = HUB_ID
    # Outputs can be long: keep up to 16 MiB of each (a truncated output never matches).
    limits: ClassVar[SandboxLimits] = SandboxLimits(timeout_s=2.0, max_output_bytes=16 * 1024 * 1024)

    def load(self) -> list[Question]:
        if self.data_dir is not None:
            raise UserError(
                f"{self.name}: no offline copy exists (upstream is on cloud storage in a binary format); "
                f"run without --data-dir/ARCHON_DATA_DIR on a machine that can reach the Hugging Face hub"
            )
        try:
            rows = self.hub_rows(HUB_ID, "test")
        except UserError:
            raise UserError(
                f"{self.name}: could not load {HUB_ID} from the Hugging Face hub, and no offline copy exists: "
                f"this benchmark needs network access to the hub"
            ) from None
        questions = []
        for index, row in enumerate(rows):
            tests = problem_tests(row)
            if not tests:
                continue
            questions.append(
                Question(
                    id=str(row.get("name") or f"problem-{index}"),
                    turns=(f"{_INSTRUCTION}\n\n{str(row.get('description', '')).strip()}",),
                    category=_source_name(row.get("source")),
                    meta={"tests": tests, "timeout_s": time_limit_s(row)},
                )
            )
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        program = extract_code(response.answer)
        limits = replace(self.limits, timeout_s=float(question.meta.get("timeout_s", self.limits.timeout_s)))
        ok, details = await run_io_tests(self.sandbox, program, question.meta["tests"], limits)
        return Score(1.0 if ok else 0.0, details)
