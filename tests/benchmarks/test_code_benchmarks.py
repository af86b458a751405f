"""HumanEval, MBPP and CodeContests: code extraction from replies, scoring known right and wrong
solutions in the sandbox, containment during scoring, and one `archon eval` on the embedded model."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.base import Question, Response
from archon_cli.benchmarks.code_contests import CodeContests, outputs_match, problem_tests, run_io_tests, time_limit_s
from archon_cli.benchmarks.code_extract import as_function_body, extract_code, fenced_blocks, keep_definitions
from archon_cli.benchmarks.humaneval import HumanEval, build_program
from archon_cli.benchmarks.mbpp import MBPP, entry_point
from archon_cli.config import parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import ArchonError, UserError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from archon_cli.sandbox import ExecResult, Sandbox, SandboxLimits
from tests.conftest import SHARED_DATA, run_cli, short_generator_file
from tests.fakes import FakeBackend

FAST = SandboxLimits(timeout_s=3.0, memory_mb=256, max_processes=16)


def reply(text: str) -> Response:
    return Response(answers=[text], results=[])


def fenced(code: str, prose: str = "Here is my solution:") -> str:
    return f"{prose}\n\n```python\n{code}```\n\nThis works because it checks every case."


# -- code extraction -------------------------------------------------------------------------


def test_extracts_the_fenced_block_that_defines_the_function() -> None:
    text = (
        "First a helper:\n```python\ndef helper(x):\n    return x\n```\n"
        "Then the answer:\n```python\ndef solve(a):\n    return helper(a) + 1\n```\n"
        "Example:\n```\n>>> solve(1)\n2\n```"
    )
    assert [lang for lang, _ in fenced_blocks(text)] == ["python", "python", ""]
    assert extract_code(text, "solve").startswith("def solve(a):")
    assert extract_code(text).startswith("def ")  # without a name: the longest Python block


def test_extracts_an_unclosed_fence_cut_by_max_tokens() -> None:
    text = "Sure!\n```python\ndef f(x):\n    total = 0\n    for i in range(x):\n        total += i"
    assert extract_code(text, "f") == "def f(x):\n    total = 0\n    for i in range(x):\n        total += i"


def test_extracts_unfenced_code_without_the_prose_around_it() -> None:
    text = "You can do it like this:\nimport math\n\ndef area(r):\n    return math.pi * r * r\n\nThis returns the area."
    assert extract_code(text, "area") == "import math\n\ndef area(r):\n    return math.pi * r * r\n"


def test_a_bare_body_is_kept_and_indented() -> None:
    body = "return number % 1.0"
    assert extract_code(body, "truncate_number") == body
    assert as_function_body(body) == "    return number % 1.0\n"
    assert as_function_body("    return 1\n") == "    return 1\n"


def test_keep_definitions_drops_demo_code_and_main_guard() -> None:
    code = (
        "import os\nLIMIT = 3\n\ndef f(x):\n    return x + LIMIT\n\nprint(f(1))\nassert f(0) == 99\n"
        "if __name__ == '__main__':\n    f(input())\n"
    )
    kept = keep_definitions(code)
    assert kept == "import os\nLIMIT = 3\n\ndef f(x):\n    return x + LIMIT\n\n"
    assert keep_definitions("def broken(:\n") == "def broken(:\n"


# -- HumanEval ---------------------------------------------------------------------------------

HAS_CLOSE_RIGHT = """from typing import List

def has_close_elements(numbers: List[float], threshold: float) -> bool:
    ordered = sorted(numbers)
    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))
"""
HAS_CLOSE_WRONG = """def has_close_elements(numbers, threshold):
    return any(abs(a - b) <= threshold for a in numbers for b in numbers)
"""
DECODE_CYCLIC_RIGHT = """def decode_cyclic(s: str):
    groups = [s[3 * i:3 * i + 3] for i in range((len(s) + 2) // 3)]
    return "".join(g[-1] + g[:-1] if len(g) == 3 else g for g in groups)
"""


@pytest.fixture(scope="module")
def humaneval() -> HumanEval:
    return HumanEval(SHARED_DATA, sandbox=Sandbox(FAST))


@pytest.fixture(scope="module")
def humaneval_questions(humaneval: HumanEval) -> dict[str, Question]:
    return {q.id: q for q in humaneval.load()}


def test_humaneval_loads_164_prompts(humaneval_questions: dict[str, Question]) -> None:
    assert len(humaneval_questions) == 164
    first = humaneval_questions["HumanEval/0"]
    assert first.meta["entry_point"] == "has_close_elements"
    assert "def has_close_elements(numbers: List[float], threshold: float) -> bool:" in first.turns[0]
    assert "```python" in first.turns[0]


async def test_humaneval_right_and_wrong_solutions(
    humaneval: HumanEval, humaneval_questions: dict[str, Question]
) -> None:
    q0, q2, q38 = (humaneval_questions[f"HumanEval/{k}"] for k in (0, 2, 38))
    # The body alone (a completion of the prompt) and a reply that indents nothing.
    cases = [
        (q0, fenced(HAS_CLOSE_RIGHT), 1.0),
        (q0, fenced(HAS_CLOSE_WRONG), 0.0),  # zero distance of an element to itself
        (q2, "    return number - int(number)\n", 1.0),
        (q2, "return round(number)", 0.0),
        (q38, fenced(DECODE_CYCLIC_RIGHT), 1.0),  # uses encode_cyclic from the prompt in the tests
        (q38, fenced("def decode_cyclic(s):\n    return s\n"), 0.0),
    ]
    scores = await asyncio.gather(*(humaneval.score(q, reply(text), None) for q, text, _ in cases))
    assert [s.value for s in scores] == [expected for _, _, expected in cases]
    assert scores[0].details["reply_read_as"] == "function" and scores[2].details["reply_read_as"] == "body"
    assert "AssertionError" in scores[1].details["stderr_tail"]
    assert scores[1].details["passed"] is False and scores[1].details["timed_out"] is False


def test_humaneval_program_keeps_prompt_helpers() -> None:
    program, kind = build_program(
        "import math\n\ndef f(x):\n    '''doc'''\n",
        fenced("def f(x):\n    return 1\n"),
        "f",
        "def check(c):\n    assert c(0) == 1\n",
    )
    assert kind == "function"
    assert program.index("import math") < program.index("return 1") < program.index("check(f)")


async def test_evaluation_scores_hostile_solutions_zero_and_goes_on(
    humaneval: HumanEval, humaneval_questions: dict[str, Question], tmp_path: Path
) -> None:
    """Through the shared evaluation loop: each hostile reply is contained and scores 0, with no
    error; the good one, evaluated alongside, scores 1."""
    q0 = humaneval_questions["HumanEval/0"]
    escape = tmp_path / "escaped.txt"
    hostile = {
        "loop": "def has_close_elements(numbers, threshold):\n    while True:\n        pass\n",
        "fork": "import os, time\ndef has_close_elements(numbers, threshold):\n    for _ in range(8):\n        os.fork()\n    time.sleep(30)\n",
        "alloc": "def has_close_elements(numbers, threshold):\n    return len(bytearray(1024 ** 3)) > 0\n",
        "write": f"def has_close_elements(numbers, threshold):\n    open({str(escape)!r}, 'w').write('x')\n    return True\n",
    }
    solutions = {**hostile, "good": HAS_CLOSE_RIGHT}
    questions = [replace(q0, id=name, turns=(f"{q0.turns[0]}\n#{name}",)) for name in solutions]

    def answer(request: CompletionRequest) -> str:
        return fenced(solutions[request.messages[-1]["content"].rsplit("#", 1)[1]])

    architecture, _ = parse_architecture({"name": "one", "layers": [[{"type": "generator", "model": "openai/m"}]]})
    runner = ArchitectureRunner(architecture, LLMGateway(backend=FakeBackend(answer)))
    outcome = await evaluate(runner, humaneval, questions, concurrency=8)
    records = {r["id"]: r for r in outcome.records}
    assert len(records) == 5 and all(r["error"] is None for r in records.values())
    assert records["good"]["score"] == 1.0
    assert all(records[name]["score"] == 0.0 for name in hostile), records
    assert records["loop"]["score_details"]["timed_out"] is True
    assert "MemoryError" in records["alloc"]["score_details"]["stderr_tail"]
    if humaneval.sandbox.capabilities().filesystem_readonly:
        assert not escape.exists()


async def test_a_sandbox_that_cannot_start_is_an_error_not_a_zero(humaneval_questions: dict[str, Question]) -> None:
    class BrokenSandbox(Sandbox):
        async def run(self, code: str, **kwargs: Any) -> ExecResult:
            return ExecResult(None, "", "", False, 0.0, setup_error="cannot start: out of processes")

    bench = HumanEval(SHARED_DATA, sandbox=BrokenSandbox())
    with pytest.raises(ArchonError, match="out of processes"):
        await bench.score(humaneval_questions["HumanEval/0"], reply(fenced(HAS_CLOSE_RIGHT)), None)


# -- MBPP ----------------------------------------------------------------------------------------

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
    assert "SyntaxError" in scores[4].details["stderr_tail"]  # prose run as code


# -- CodeContests --------------------------------------------------------------------------------

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


# -- end to end ----------------------------------------------------------------------------------


@pytest.mark.local_model
def test_eval_humaneval_on_the_embedded_model(tmp_path: Path, local_model_available: None) -> None:
    arch = short_generator_file(tmp_path, max_tokens=128)
    results = tmp_path / "results"
    result = run_cli(
        "eval", str(arch), "-b", "humaneval", "--limit", "2", "--data-dir", str(SHARED_DATA),
        "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"),
        timeout=600,  # about 10 s on an idle machine; much slower when other jobs share the 2 cores
    )  # fmt: skip
    assert result.code == 0, result.stderr
    (run_dir,) = results.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["benchmark"] == "humaneval" and summary["questions"] == 2 and summary["errors"] == 0
    records = [json.loads(line) for line in (run_dir / "questions.jsonl").read_text().splitlines()]
    assert len(records) == 2
    for record in records:
        assert record["score"] in (0.0, 1.0)
        assert {"passed", "timed_out", "stderr_tail", "sandbox"} <= set(record["score_details"])
