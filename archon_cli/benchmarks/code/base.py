"""What the code benchmarks share: a sandbox per benchmark with its limits, the official
HumanEval verdict of a program (``exec_runner.py``), and the record of one run."""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from archon_cli.benchmarks.base import Benchmark
from archon_cli.benchmarks.code import exec_runner
from archon_cli.errors import ArchonError
from archon_cli.execution.sandbox import ExecResult, Sandbox, SandboxLimits

_TAIL_CHARS = 1000
# The official harness's time limit (openai/human-eval evaluate_functional_correctness, timeout=3.0;
# HF code_eval and lm-eval's MBPP use the same), and the sandbox's hard stop after it: the official
# harness kills the process one second after the limit; the rest is room for the interpreter to start.
OFFICIAL_TIMEOUT_S = 3.0
_HARD_STOP_AFTER_S = 2.0
_RUNNER = Path(exec_runner.__file__).read_text(encoding="utf-8")


class CodeBenchmark(Benchmark):
    """A benchmark whose score comes from running code: ``limits`` are its per-run sandbox limits."""

    limits: ClassVar[SandboxLimits] = SandboxLimits(timeout_s=10.0)

    def __init__(self, data_dir: Path | None = None, sandbox: Sandbox | None = None) -> None:
        super().__init__(data_dir)
        self.sandbox = sandbox or Sandbox(self.limits)

    def preflight(self, allow_unsandboxed: bool = False) -> dict[str, Any]:
        """Before the first question: model-written code runs isolated, or ``allow_unsandboxed`` says
        it may run without (otherwise a one-line UserError). Returns the sandbox's description."""
        self.sandbox.allow_unsandboxed = self.sandbox.allow_unsandboxed or allow_unsandboxed
        return {"sandbox": self.sandbox.check_ready().describe()}

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The sandbox the code ran in (summary.json records the mode)."""
        return {"sandbox": self.sandbox.describe()}


def run_details(result: ExecResult) -> dict[str, Any]:
    """What a code benchmark records about one sandbox run."""
    if result.setup_error is not None:
        # Not the model's fault: the record gets an error instead of a score.
        raise ArchonError(f"code sandbox could not start: {result.setup_error}")
    return {
        "passed": result.ok,
        "timed_out": result.timed_out,
        "exit_code": result.returncode,
        "stdout_tail": result.stdout[-_TAIL_CHARS:],
        "stderr_tail": result.stderr[-_TAIL_CHARS:],
        "memory_exceeded": result.memory_exceeded,
        "sandbox": result.mode,
    }


async def official_verdict(
    sandbox: Sandbox, program: str, timeout_s: float = OFFICIAL_TIMEOUT_S
) -> tuple[str, dict[str, Any]]:
    """Run ``program`` the way openai/human-eval's ``check_correctness`` does (see ``exec_runner``):
    its verdict ("passed", "timed out" or "failed: ...") and the record details. Passed means the
    program ran to its end within ``timeout_s``; exiting early, however, is not passing."""
    token = secrets.token_hex(16)
    limits = replace(sandbox.limits, timeout_s=timeout_s + _HARD_STOP_AFTER_S)
    result = await sandbox.run(
        _RUNNER, stdin=f"{token}\n{timeout_s}\n", files={exec_runner.PROGRAM_FILE: program}, limits=limits
    )
    details = run_details(result)
    verdict, exception = exec_runner.parse_verdict(result.stdout, token)
    details.update(
        passed=verdict == exec_runner.VERDICT_PASSED,
        verdict=verdict[:_TAIL_CHARS],
        exception=exception,
        timed_out=verdict == exec_runner.VERDICT_TIMED_OUT,
        stdout_tail="",  # the runner's own output: the verdict line
    )
    return verdict, details
