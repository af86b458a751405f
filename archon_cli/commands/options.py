"""The option groups several commands share, as given on the command line (before any check): one
field per option, its default here and nowhere else. ``cli.py`` turns each field into the option
(flag and help, declared once there) and hands the command one object per group;
``settings.py`` checks a group and builds its settings (``engine_settings``, ``eval_options``).

Kept light (the standard library and evaluation/scope.py): ``cli.py`` reads it at import, for ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archon_cli.evaluation.scope import EvalScope


@dataclass(frozen=True)
class EngineOptions:
    """How models are called: budget, response cache, router, concurrency, retries."""

    budget: str | None = None
    cache_dir: Path = Path("results/cache")
    no_cache: bool = False
    cache_url: str | None = None
    router: Path | None = None
    concurrency: int = 8
    model_limit: list[str] | None = None
    max_attempts: int = 6
    retry_wait: float = 0.5


@dataclass(frozen=True, kw_only=True)
class EvaluationOptions(EvalScope):
    """What a benchmark is evaluated on (the scope: split, questions, judge, data, results folder)
    and what the command writes and prints besides (eval, search, compare)."""

    no_trace: bool = False
    no_report: bool = False
    json_out: bool = False
