"""What a search produces: one ``Trial`` per evaluated architecture, and the ranking of trials."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # Multi-fidelity (search/fidelity.py): the rung and how many questions the score is over
    # (0: a record written before rungs existed, over the whole split).
    rung: int = 0
    questions: int = 0
    # The architecture's static calls per query (its cap; ``calls_per_query`` is what it measured:
    # an adaptive vote spends less). 0 in trials recorded before it was kept.
    static_calls_per_query: float = 0.0
    # Paired difference from the baseline on the shared questions, in points (search/baseline.py).
    vs_baseline: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rank_trials(trials: list[Trial]) -> list[Trial]:
    """Best first: measured at the highest rung (on the most questions), then highest objective,
    then fewer calls per query, then the earlier trial."""
    return sorted(trials, key=lambda t: (-t.rung, -t.objective, t.calls_per_query, t.trial))


@dataclass
class SearchResult:
    search_dir: Path
    ranking: list[tuple[str, float]]
    trials: list[Trial]  # each architecture once, at the highest rung it reached
    best: Trial | None
    finals: list[Trial]
    nominal_calls: int
    real_calls: int
    exhausted: bool
    wall_seconds: float
    evaluations: list[Trial] = field(default_factory=list)  # every rung of every architecture
    baseline: dict[str, Any] | None = None  # the baseline's model and its dev and test trials
    versus_baseline: dict[str, Any] | None = None
    verdict: str = ""
    real_requests: int = 0
