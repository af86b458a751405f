"""What a search produces: one ``Trial`` per evaluated architecture, and the ranking of trials."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Trial:
    """One evaluated architecture (a stage-1 model, a search trial, or a final test run)."""

    trial: int
    arch_id: str
    point: dict[str, Any] | None
    stage: str
    dev_score: float | None
    ci95: list[float] | None
    calls_per_query: float
    tokens_per_query: float
    cost_per_query: float
    errors: int
    objective: float
    nominal_calls: int
    real_calls: int
    run_dir: str
    test_score: float | None = None
    test_ci95: list[float] | None = None
    # Requests that carried ``real_calls`` (a generator's samples go in one request with ``n`` where
    # the provider takes it); 0 in trials recorded before requests were counted.
    real_requests: int = 0
    # False when the judge's verdicts were mostly unreadable (see evaluation/summary.py).
    reliable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rank_trials(trials: list[Trial]) -> list[Trial]:
    """Best first: highest objective, then fewer calls per query, then the earlier trial."""
    return sorted(trials, key=lambda t: (-t.objective, t.calls_per_query, t.trial))


@dataclass
class SearchResult:
    search_dir: Path
    ranking: list[tuple[str, float]]
    trials: list[Trial]
    best: Trial | None
    finals: list[Trial]
    nominal_calls: int
    real_calls: int
    exhausted: bool
    wall_seconds: float
    real_requests: int = 0
