"""MBPP (evaluation split, task_ids 11-510 of the full set): pass@1 by running the task's asserts.

The prompt gives the task's description and its first test assert, so the model knows the
function's name and signature (and the ``test_setup_code`` when a task has one). The program that
runs is the model's code (top-level demo code removed), the setup code, then all ``test_list``
asserts. It is judged as the common MBPP harnesses judge it (HF ``code_eval``, lm-eval's
``mbpp``, bigcode's ``mbpp``: all openai/human-eval's ``check_correctness`` with 3 seconds; see
``code/exec_runner.py``): it passes only when it runs to its end in time; an exception
(``SystemExit`` included) or an early exit is a failure. Score 1 if it passed, else 0. The
``test_setup_code`` is run before the asserts (those harnesses leave it out; only mbpp/367 has one,
and without it its asserts name variables nobody defined).
"""

from __future__ import annotations

import ast
import warnings
from typing import Any, ClassVar

from archon_cli.benchmarks.base import Judge, Question, Response, Score, read_jsonl, required
from archon_cli.benchmarks.code.base import OFFICIAL_TIMEOUT_S, CodeBenchmark, official_verdict
from archon_cli.errors import UserError
from archon_cli.execution.extract import extract_code, keep_definitions
from archon_cli.execution.sandbox import SandboxLimits

FIRST_TASK, LAST_TASK = 11, 510


def entry_point(first_test: str, reference_code: str) -> str | None:
    """The function the tests call: the first called name the reference solution defines (else the
    first called name at all)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # upstream code has invalid escape sequences; parsing only
        return _entry_point(first_test, reference_code)


def _entry_point(first_test: str, reference_code: str) -> str | None:
    try:
        called = [
            node.func.id
            for node in ast.walk(ast.parse(first_test))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
    except SyntaxError:
        return None
    try:
        defined = {
            n.name for n in ast.parse(reference_code).body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
    except SyntaxError:
        defined = set()
    return next((name for name in called if name in defined), called[0] if called else None)


def build_prompt(text: str, first_test: str, setup: str) -> str:
    prompt = f"You are an expert Python programmer. Your task: {text.strip()}\n\nYour code should pass this test:\n\n{first_test.strip()}\n"
    if setup.strip():
        prompt += f"\nThe tests run after this setup code:\n\n```python\n{setup.strip()}\n```\n"
    return prompt + "\nReply with the complete Python function in a single ```python code block."


def build_program(reply: str, function: str | None, setup: str, tests: list[str]) -> str:
    code = keep_definitions(extract_code(reply, function))
    return "\n\n".join([code.rstrip(), setup.strip(), "\n".join(t.strip() for t in tests)]) + "\n"


class MBPP(CodeBenchmark):
    name = "mbpp"
    data_files = ("mbpp/mbpp.jsonl",)
    hub_id = "mbpp"
    limits: ClassVar[SandboxLimits] = SandboxLimits(timeout_s=OFFICIAL_TIMEOUT_S)

    def _rows(self) -> list[dict[str, Any]]:
        if self.data_dir is None:
            return self.hub_rows("mbpp", "test", "full")  # the hub's test split is task_ids 11-510
        return read_jsonl(self.data_path("mbpp", "mbpp.jsonl"), self.name)

    def load(self) -> list[Question]:
        questions = []
        for index, row in enumerate(self._rows()):
            required(row, ("task_id", "text", "code", "test_list"), self.name, f"row {index + 1}")
            task_id = int(row["task_id"])
            if not FIRST_TASK <= task_id <= LAST_TASK:
                continue
            tests = [str(t) for t in row["test_list"]]
            if not tests:
                raise UserError(f"{self.name}: task {task_id} has no tests")
            setup = str(row.get("test_setup_code") or "")
            questions.append(
                Question(
                    id=f"mbpp/{task_id}",
                    turns=(build_prompt(str(row["text"]), tests[0], setup),),
                    meta={"entry_point": entry_point(tests[0], str(row["code"])), "setup": setup, "tests": tests},
                )
            )
        questions.sort(key=lambda q: int(q.id.split("/")[1]))
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        meta = question.meta
        program = build_program(response.answer, meta["entry_point"], meta["setup"], meta["tests"])
        _, details = await official_verdict(self.sandbox, program, self.limits.timeout_s)
        details["entry_point"] = meta["entry_point"]
        return Score(1.0 if details["passed"] else 0.0, details)
