"""Summaries of per-question records: mean score with a bootstrap CI, calls, tokens, cost, latency."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def bootstrap_ci(
    values: list[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (seeded, so the same data give the same interval)."""
    if not values:
        return (float("nan"), float("nan"))
    data = np.asarray(values, dtype=float)
    if len(data) == 1:
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


_COUNTS = ("calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens", "cost", "judge_calls", "latency")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_well_formed(record: dict[str, Any]) -> bool:
    """A question's record as the evaluation writes it: an id, the answer, a score that is a number
    (or None), the error (or None), numeric counts. A record cut short or edited by hand is not,
    and its question is run again."""
    return (
        isinstance(record.get("id"), str | int)
        and isinstance(record.get("answer"), str)
        and "score" in record
        and (record["score"] is None or _is_number(record["score"]))
        and "error" in record
        and (record["error"] is None or isinstance(record["error"], str))
        and all(_is_number(record[key]) for key in _COUNTS if key in record)
    )


def is_finished(record: dict[str, Any]) -> bool:
    """A well-formed record of a question that ended without an error (a re-run skips it)."""
    return is_well_formed(record) and not record["error"]


def latest_by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record per question id (a re-run may append a new record after an error)."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        latest[str(record["id"])] = record
    return latest


def summarize(records: list[dict[str, Any]], failure_value: float = 0.0) -> dict[str, Any]:
    """Figures over the final record of each question. Errored questions score ``failure_value``
    in ``score`` (never counted as correct); ``score_answered`` leaves them out."""
    final = list(latest_by_id(records).values())
    n = len(final)
    errors = [r for r in final if r.get("error")]
    scored = [float(r["score"]) for r in final if not r.get("error") and r.get("score") is not None]
    with_failures = scored + [failure_value] * len(errors)
    low, high = bootstrap_ci(with_failures)
    categories: dict[str, list[float]] = {}
    for r in final:
        if not r.get("error") and r.get("score") is not None:
            categories.setdefault(str(r.get("category") or "all"), []).append(float(r["score"]))
    latencies = [float(r.get("latency", 0.0)) for r in final if not r.get("error")]

    def total(key: str) -> float:
        return float(sum(float(r.get(key) or 0) for r in final))

    return {
        "questions": n,
        "answered": n - len(errors),
        "errors": len(errors),
        "error_reasons": sorted({str(r["error"])[:200] for r in errors})[:10],
        "score": float(np.mean(with_failures)) if with_failures else None,
        "ci95": [low, high] if with_failures else None,
        "score_answered": float(np.mean(scored)) if scored else None,
        "per_category": {k: {"n": len(v), "score": float(np.mean(v))} for k, v in sorted(categories.items())},
        # The architecture's cost per query: calls made, whether the provider or the cache answered
        # (retries not included). ``sent_calls_per_query`` is what actually went to providers.
        "calls_per_query": (total("calls") - total("retries") + total("cache_hits")) / n if n else 0.0,
        "sent_calls_per_query": total("calls") / n if n else 0.0,
        "calls": int(total("calls")),
        "cache_hits": int(total("cache_hits")),
        "retries": int(total("retries")),
        "judge_calls": int(total("judge_calls")),
        "prompt_tokens": int(total("prompt_tokens")),
        "completion_tokens": int(total("completion_tokens")),
        "tokens_per_query": (total("prompt_tokens") + total("completion_tokens")) / n if n else 0.0,
        "cost": total("cost"),
        "cost_per_query": total("cost") / n if n else 0.0,
        "latency_p50": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_p95": float(np.percentile(latencies, 95)) if latencies else None,
    }
