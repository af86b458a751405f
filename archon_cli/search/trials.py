"""What a search produces: one ``Trial`` per evaluated architecture, and the ranking of trials."""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
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


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value)


_CHECKS: dict[str, Any] = {
    "trial": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "arch_id": lambda v: isinstance(v, str) and bool(v),
    "point": lambda v: v is None or isinstance(v, dict),
    "stage": lambda v: isinstance(v, str),
    "dev_score": lambda v: v is None or _number(v),
    "ci95": lambda v: v is None or _pair(v),
    "calls_per_query": _number,
    "tokens_per_query": _number,
    "cost_per_query": _number,
    "errors": _count,
    "objective": _number,
    "nominal_calls": _count,
    "real_calls": _count,
    "run_dir": lambda v: isinstance(v, str) and bool(v) and not Path(v).is_absolute() and ".." not in Path(v).parts,
    "test_score": lambda v: v is None or _number(v),
    "test_ci95": lambda v: v is None or _pair(v),
    "real_requests": _count,
    "reliable": lambda v: isinstance(v, bool),
    "rung": _count,
    "questions": _count,
    "static_calls_per_query": _number,
    "vs_baseline": lambda v: v is None or isinstance(v, dict),
}
_REQUIRED = [f.name for f in fields(Trial) if f.default is MISSING and f.default_factory is MISSING]
assert set(_CHECKS) == {f.name for f in fields(Trial)}, "every field of Trial has its check"


def trial_from_record(record: dict[str, Any]) -> Trial | None:
    """A recorded trial (a line of trials.jsonl), or None when the record is damaged: a field
    missing, unknown or of the wrong type (``Trial(**record)`` crashed on some, took others)."""
    if not isinstance(record, dict) or any(k not in record for k in _REQUIRED):
        return None
    if any(k not in _CHECKS or not _CHECKS[k](v) for k, v in record.items()):
        return None
    return Trial(**record)


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
