"""What `archon benchmarks` does: list the benchmarks `eval` and `search` accept."""

from __future__ import annotations

from archon_cli.benchmarks import BENCHMARKS, benchmark_names
from archon_cli.errors import EXIT_OK


def list_benchmarks() -> int:
    for name in benchmark_names():
        print(f"{name:16} {BENCHMARKS.description(name)}")
    print(f"{'PATH':16} your own task: a task file (.yaml) or a data file (.jsonl .json .csv .parquet); see `archon check`")
    return EXIT_OK
