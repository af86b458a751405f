"""Benchmarks by name. Modules are imported only when their benchmark is used (some pull heavy
libraries). Adding one: a module with a ``Benchmark`` subclass, and an entry in ``BENCHMARKS``
(its name, where its class is, what it is)."""

from __future__ import annotations

from pathlib import Path

from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score, split_questions
from archon_cli.benchmarks.task.file import is_task_name
from archon_cli.errors import UserError
from archon_cli.registry import Registry, import_target

# name, "module:Class" (imported when the benchmark is used), what it is (`archon benchmarks`).
BENCHMARKS: Registry[str] = Registry(
    "benchmark",
    [
        (
            "tiny-arith",
            "archon_cli.benchmarks.tiny_arith:TinyArith",
            "built-in: single-digit addition/subtraction and 'which is larger' "
            "(600 questions, half dev, half test; no data needed)",
        ),
        (
            "mt-bench",
            "archon_cli.benchmarks.mt_bench:MTBench",
            "MT-Bench (80 two-turn questions, 8 categories), judge rates each turn 1-10",
        ),
        (
            "alpaca-eval",
            "archon_cli.benchmarks.alpaca_eval:AlpacaEval",
            "AlpacaEval 2.0 (805 instructions), pairwise vs GPT-4 Turbo; win rate and length-controlled",
        ),
        (
            "alpaca-eval-1",
            "archon_cli.benchmarks.alpaca_eval:AlpacaEval1",
            "AlpacaEval 1.0 (805 instructions), pairwise vs text-davinci-003",
        ),
        (
            "arena-hard",
            "archon_cli.benchmarks.arena_hard:ArenaHard",
            "Arena-Hard-Auto v0.1 (500 hard prompts), pairwise vs GPT-4-0314, official judge settings",
        ),
        (
            "arena-hard-v2",
            "archon_cli.benchmarks.arena_hard:ArenaHardV2",
            "Arena-Hard-Auto v2.0 (500 hard prompts), pairwise vs o3-mini, official judge settings; its 250 "
            "creative-writing prompts are skipped (their Gemini baseline is not offline)",
        ),
        (
            "gsm8k",
            "archon_cli.benchmarks.gsm8k:GSM8K",
            "GSM8K test (1319 grade-school math word problems), exact final-number match",
        ),
        (
            "math",
            "archon_cli.benchmarks.math500:Math500",
            "MATH-500 (500 competition math problems), answers checked for equivalence with math-verify",
        ),
        (
            "mixeval",
            "archon_cli.benchmarks.mixeval:MixEval",
            "MixEval 2024-08-11 (2000 free-form + 1995 multiple-choice); the official rule parser "
            "offline, its model parser with --judge",
        ),
        (
            "mixeval-hard",
            "archon_cli.benchmarks.mixeval:MixEvalHard",
            "MixEval-Hard 2024-08-11 (500 free-form + 500 multiple-choice); the official rule parser "
            "offline, its model parser with --judge",
        ),
        (
            "humaneval",
            "archon_cli.benchmarks.code.humaneval:HumanEval",
            "HumanEval (164 Python functions), pass@1 by running the upstream tests in a sandbox",
        ),
        (
            "mbpp",
            "archon_cli.benchmarks.code.mbpp:MBPP",
            "MBPP evaluation split (500 Python tasks, ids 11-510), pass@1 by running the asserts in a sandbox",
        ),
        (
            "code-contests",
            "archon_cli.benchmarks.code.code_contests:CodeContests",
            "CodeContests test split (165 problems, stdin/stdout tests in a sandbox); "
            "hub only (deepmind/code_contests), no offline copy",
        ),
    ],
)


def benchmark_names() -> list[str]:
    return sorted(BENCHMARKS)


def get_benchmark(name: str, data_dir: Path | None = None) -> Benchmark:
    """A built-in benchmark by name, or a user's task: a task file (.yaml/.yml) or a data file
    (.jsonl, .json, .csv, .parquet) by its path."""
    target = BENCHMARKS.get(name)
    if target is None and is_task_name(name):
        from archon_cli.benchmarks.task.benchmark import TaskBenchmark

        return TaskBenchmark(Path(name), data_dir)
    if target is None:
        raise UserError(
            f"unknown benchmark {name!r} (known: {', '.join(benchmark_names())}; or a task file or data file by its path)"
        )
    return import_target(target)(data_dir)  # type: ignore[no-any-return]


__all__ = ["BENCHMARKS", "Benchmark", "Judge", "Question", "Response", "Score", "benchmark_names", "get_benchmark", "split_questions"]
