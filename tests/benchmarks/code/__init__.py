"""Helpers of the code-benchmark tests."""

from __future__ import annotations

from archon_cli.benchmarks.base import Response
from archon_cli.execution.sandbox import SandboxLimits

FAST = SandboxLimits(timeout_s=3.0, memory_mb=256, max_processes=16)


def reply(text: str) -> Response:
    return Response(answers=[text], results=[])


def fenced(code: str, prose: str = "Here is my solution:") -> str:
    return f"{prose}\n\n```python\n{code}```\n\nThis works because it checks every case."
