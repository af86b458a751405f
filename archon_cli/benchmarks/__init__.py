"""Benchmarks by name. Modules are imported only when their benchmark is used (some pull heavy
libraries). Adding one: a module with a ``Benchmark`` subclass, and a line in ``_BENCHMARKS``."""

from __future__ import annotations

import importlib
from pathlib import Path

from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score, split_questions
from archon_cli.errors import UserError

_BENCHMARKS: dict[str, str] = {
    "tiny-arith": "archon_cli.benchmarks.tiny_arith:TinyArith",
}


def benchmark_names() -> list[str]:
    return sorted(_BENCHMARKS)


def get_benchmark(name: str, data_dir: Path | None = None) -> Benchmark:
    target = _BENCHMARKS.get(name)
    if target is None:
        raise UserError(f"unknown benchmark {name!r} (known: {', '.join(benchmark_names())})")
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(data_dir)  # type: ignore[no-any-return]


__all__ = ["Benchmark", "Judge", "Question", "Response", "Score", "benchmark_names", "get_benchmark", "split_questions"]
