"""HumanEval (164 hand-written Python functions): pass@1 by running the upstream tests.

The model sees the function's signature and docstring and is asked for the whole function. The
program that runs is the prompt (its imports and helper functions), then the model's function (a
later definition replaces the prompt's docstring-only one), then the upstream ``test`` and
``check(entry_point)``. A reply that is only a body (a completion) is appended to the prompt instead.
It is judged as the official harness judges it (``code/exec_runner.py``, after openai/human-eval
``execution.py``): run with ``exec`` in the sandbox, it passes only when it runs to its end within
3 seconds; an exception (``SystemExit`` from ``sys.exit()`` included), an early exit
(``os._exit``), or the time limit is a failure. Score 1 if it passed, else 0.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, ClassVar

from archon_cli.benchmarks.base import Judge, Question, Response, Score, required
from archon_cli.benchmarks.code.base import OFFICIAL_TIMEOUT_S, CodeBenchmark, official_verdict
from archon_cli.errors import UserError
from archon_cli.execution.extract import as_function_body, defines, extract_code, keep_definitions
from archon_cli.execution.sandbox import SandboxLimits

_INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function, signature included, "
    "in a single ```python code block."
)


def build_program(prompt: str, reply: str, entry_point: str, test: str) -> tuple[str, str]:
    """The program to run and how the reply was read: "function" (a full definition) or "body"."""
    code = extract_code(reply, entry_point)
    if defines(code, entry_point):
        solution, kind = "\n\n" + keep_definitions(code), "function"
    else:
        solution, kind = as_function_body(code), "body"
    return f"{prompt}{solution}\n\n{test}\n\ncheck({entry_point})\n", kind


def read_gzip_jsonl(path: Path, name: str) -> list[dict[str, Any]]:
    """Rows of a gzip-compressed JSONL file; unreadable data is a one-line UserError."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{name}: cannot read {path} ({type(exc).__name__})") from None


class HumanEval(CodeBenchmark):
    name = "humaneval"
    data_files = ("humaneval/HumanEval.jsonl.gz",)
    hub_id = "openai_humaneval"
    limits: ClassVar[SandboxLimits] = SandboxLimits(timeout_s=OFFICIAL_TIMEOUT_S)

    def load(self) -> list[Question]:
        if self.data_dir is None:
            rows = self.hub_rows("openai_humaneval", "test")
        else:
            rows = read_gzip_jsonl(self.data_path("humaneval", "HumanEval.jsonl.gz"), self.name)
        questions = []
        for index, row in enumerate(rows):
            required(row, ("task_id", "prompt", "entry_point", "test"), self.name, f"row {index + 1}")
            prompt = str(row["prompt"])
            questions.append(
                Question(
                    id=str(row["task_id"]),
                    turns=(f"{_INSTRUCTION}\n\n```python\n{prompt.rstrip()}\n```",),
                    meta={"prompt": prompt, "entry_point": str(row["entry_point"]), "test": str(row["test"])},
                )
            )
        return questions

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        meta = question.meta
        program, kind = build_program(meta["prompt"], response.answer, meta["entry_point"], meta["test"])
        _, details = await official_verdict(self.sandbox, program, self.limits.timeout_s)
        details["reply_read_as"] = kind
        return Score(1.0 if details["passed"] else 0.0, details)
