"""Benchmarks by name. Modules are imported only when their benchmark is used (some pull heavy
libraries). Adding one: a module with a ``Benchmark`` subclass, and a line in ``_BENCHMARKS``."""

from __future__ import annotations

import importlib
from pathlib import Path

from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score, split_questions
from archon_cli.benchmarks.task.file import is_task_name
from archon_cli.errors import UserError

_BENCHMARKS: dict[str, str] = {
    "tiny-arith": "archon_cli.benchmarks.tiny_arith:TinyArith",
    "mt-bench": "archon_cli.benchmarks.mt_bench:MTBench",
    "alpaca-eval": "archon_cli.benchmarks.alpaca_eval:AlpacaEval",
    "alpaca-eval-1": "archon_cli.benchmarks.alpaca_eval:AlpacaEval1",
    "arena-hard": "archon_cli.benchmarks.arena_hard:ArenaHard",
    "arena-hard-v2": "archon_cli.benchmarks.arena_hard:ArenaHardV2",
    "gsm8k": "archon_cli.benchmarks.gsm8k:GSM8K",
    "math": "archon_cli.benchmarks.math500:Math500",
    "mixeval": "archon_cli.benchmarks.mixeval:MixEval",
    "mixeval-hard": "archon_cli.benchmarks.mixeval:MixEvalHard",
    "humaneval": "archon_cli.benchmarks.code.humaneval:HumanEval",
    "mbpp": "archon_cli.benchmarks.code.mbpp:MBPP",
    "code-contests": "archon_cli.benchmarks.code.code_contests:CodeContests",
}


def benchmark_names() -> list[str]:
    return sorted(_BENCHMARKS)


def get_benchmark(name: str, data_dir: Path | None = None) -> Benchmark:
    """A built-in benchmark by name, or a user's task: a task file (.yaml/.yml) or a data file
    (.jsonl, .json, .csv, .parquet) by its path."""
    target = _BENCHMARKS.get(name)
    if target is None and is_task_name(name):
        from archon_cli.benchmarks.task.benchmark import TaskBenchmark

        return TaskBenchmark(Path(name), data_dir)
    if target is None:
        raise UserError(
            f"unknown benchmark {name!r} (known: {', '.join(benchmark_names())}; or a task file or data file by its path)"
        )
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(data_dir)  # type: ignore[no-any-return]


__all__ = ["Benchmark", "Judge", "Question", "Response", "Score", "benchmark_names", "get_benchmark", "split_questions"]
