"""Program-of-thought candidates: run a model-written program in a reused sandbox; what it prints
(the last line, stripped) is the answer. A program that fails, runs out of time or memory, prints
nothing or prints too much has no answer, only an error saying why."""

from __future__ import annotations

import ast
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from archon_cli.execution import test_runner
from archon_cli.execution.extract import fenced_blocks
from archon_cli.execution.pool import shared_pool
from archon_cli.execution.sandbox import ExecResult, SandboxLimits

# A program computes one answer: a couple of seconds and a little memory is plenty, and keeps an
# infinite loop or a fork bomb from costing a question more than that.
PROGRAM_LIMITS = SandboxLimits(timeout_s=2.0, memory_mb=256, max_processes=16, max_output_bytes=16 * 1024)
_ERROR_CHARS = 300


@dataclass(frozen=True)
class ProgramOutcome:
    """The answer a program printed, or ("", the reason it has none)."""

    answer: str
    error: str | None
    program: str


def _parsing_prefix(text: str) -> str | None:
    """``text`` less the trailing lines that keep it from parsing as Python (None if none does)."""
    lines = text.strip("\n").splitlines()
    for end in range(len(lines), 0, -1):
        code = "\n".join(lines[:end]).rstrip()
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        return code + "\n"
    return None


def program_text(reply: str) -> str:
    """The program in a reply. The program format opens the fenced block in its prompt, so a reply
    is code up to the closing fence (or its end); a chat reply has prose and a fenced block (one
    left open by max_tokens included). Trailing prose that keeps the code from parsing is dropped."""
    head = reply.split("```", 1)[0]
    if head.strip() and not reply.lstrip().startswith("```"):
        code = _parsing_prefix(head)
        if code is not None:
            return code
    blocks = [code for lang, code in fenced_blocks(reply) if lang in ("", "python", "py", "python3")]
    text = blocks[0] if blocks else head
    code = _parsing_prefix(text)
    if code is not None:
        return code
    return text.strip("\n") + "\n" if text.strip() else ""


def _last_line(text: str) -> str:
    line = next((ln.strip() for ln in reversed(text.strip().splitlines()) if ln.strip()), "")
    return line[:_ERROR_CHARS]


def read_outcome(program: str, result: ExecResult, limits: SandboxLimits = PROGRAM_LIMITS) -> ProgramOutcome:
    """What a run of ``program`` gives as a candidate (see the module docstring)."""

    def failed(why: str) -> ProgramOutcome:
        return ProgramOutcome("", why, program)

    if result.setup_error is not None:
        return failed(f"sandbox could not start: {result.setup_error}")
    if result.timed_out:
        return failed(f"timed out after {limits.timeout_s:g} s")
    if result.stdout_truncated:
        return failed(f"printed more than {limits.max_output_bytes // 1024} KB")
    if result.memory_exceeded:
        return failed(f"passed the {limits.memory_mb} MB memory cap")
    if result.returncode != 0:
        reason = _last_line(result.stderr) or "no message"
        code = result.returncode or 0
        status = f"killed by signal {-code}" if code < 0 else f"exit {code}"
        return failed(f"{status}: {reason}")
    answer = _last_line(result.stdout)
    if not answer:
        return failed("printed nothing")
    return ProgramOutcome(answer, None, program)


async def run_program(reply: str, limits: SandboxLimits = PROGRAM_LIMITS) -> ProgramOutcome:
    """Run the program in ``reply`` in the shared pool of sandboxes and read its answer."""
    program = program_text(reply)
    if not program.strip():
        return ProgramOutcome("", "no program in the reply", program)
    result = await shared_pool(limits).run(program)
    return read_outcome(program, result, limits)


# -- executed unit tests --------------------------------------------------------------------------

TEST_LIMITS = SandboxLimits(timeout_s=10.0, memory_mb=512, max_processes=16, max_output_bytes=16 * 1024)
_RUNNER = Path(test_runner.__file__).read_text(encoding="utf-8")


def executable(test: str) -> bool:
    """Whether ``test`` is one assert statement the executed mode can run."""
    return test_runner.split_assert(test) is not None


async def run_unit_tests(code: str, tests: Sequence[str], per_test_s: float = 1.0) -> list[bool | None]:
    """Which of ``tests`` the program ``code`` passes, each run in a fresh process in a reused
    sandbox (``test_runner``: the candidate cannot fake a pass). None for a test that is not an
    assert statement (not run); False for every runnable test when the run gave no verdict."""
    runnable = [executable(t) for t in tests]
    if not any(runnable):
        return [None] * len(tests)
    token = secrets.token_hex(16)
    n_run = sum(runnable)
    limits = replace(TEST_LIMITS, timeout_s=per_test_s * (n_run + 1) + 2.0)
    result = await shared_pool(TEST_LIMITS).run(
        _RUNNER,
        stdin=f"{token}\n{per_test_s}\n",
        files={test_runner.CANDIDATE_FILE: code, test_runner.TESTS_FILE: json.dumps(list(tests))},
        limits=limits,
    )
    verdicts = test_runner.parse_verdicts(result.stdout, token, len(tests))
    return [None if not ok_to_run else bool(v) for v, ok_to_run in zip(verdicts, runnable, strict=True)]


__all__ = [
    "PROGRAM_LIMITS",
    "ProgramOutcome",
    "executable",
    "program_text",
    "read_outcome",
    "run_program",
    "run_unit_tests",
]
