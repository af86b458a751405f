"""What the code benchmarks share: a sandbox per benchmark with its limits, and the record of one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from archon_cli.benchmarks.base import Benchmark
from archon_cli.benchmarks.code.sandbox import ExecResult, Sandbox, SandboxLimits
from archon_cli.errors import ArchonError

_TAIL_CHARS = 1000


class CodeBenchmark(Benchmark):
    """A benchmark whose score comes from running code: ``limits`` are its per-run sandbox limits."""

    limits: ClassVar[SandboxLimits] = SandboxLimits(timeout_s=10.0)

    def __init__(self, data_dir: Path | None = None, sandbox: Sandbox | None = None) -> None:
        super().__init__(data_dir)
        self.sandbox = sandbox or Sandbox(self.limits)


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
        "sandbox": "isolated" if result.isolated else "basic",
    }
