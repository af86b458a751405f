"""Summaries of per-question records: score with a bootstrap CI, calls, tokens, cost, latency, and,
for judge-based benchmarks, the share of judgments whose verdict could be read.

A question's score may carry a weight (``score_details["weight"]``): the official score of some
benchmarks pools smaller units (MT-Bench averages all rated turns, Arena-Hard all weighted votes),
which is the weighted mean of the question scores. A question whose judgments gave no verdict has
no score (``None``): like the official scorers, the summary leaves it out instead of counting a 0.
A question whose scoring failed (the judge's provider, the code sandbox) is an error, counted in
``errors``, but left out of the score too: it says nothing about the architecture.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Bootstrap resamples are drawn this many at a time.
_CHUNK = 1000
# Below this share of judgments with a readable verdict, a judge-based score is marked unreliable.
RELIABLE_PARSE_SHARE = 0.8


def bootstrap_ci(
    values: list[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    weights: list[float] | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the (weighted) mean, resampling questions (seeded, so the
    same data give the same interval). The one bootstrap: a paired difference
    (report/stats.paired_bootstrap) is the interval of the per-question differences' mean."""
    if not values:
        return (float("nan"), float("nan"))
    data = np.asarray(values, dtype=float)
    w = np.ones_like(data) if weights is None else np.asarray(weights, dtype=float)
    if len(data) == 1:
        return (float(data[0]), float(data[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):  # in chunks: thousands of questions stay small in memory
        picks = rng.integers(0, len(data), size=(min(_CHUNK, resamples - start), len(data)))
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start : start + len(picks)] = (data[picks] * w[picks]).sum(axis=1) / w[picks].sum(axis=1)
    means = means[~np.isnan(means)]
    alpha = (1 - confidence) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def weighted_mean(values: list[float], weights: list[float]) -> float | None:
    total = float(sum(weights))
    return float(np.dot(values, weights) / total) if values and total > 0 else None


def weight_of(record: dict[str, Any]) -> float:
    return float((record.get("score_details") or {}).get("weight", 1.0))


def judge_verdicts(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Judgments asked and parsed over ``records`` (None when no judge was asked), with the share
    parsed and whether it reaches ``RELIABLE_PARSE_SHARE``."""
    asked = parsed = 0
    for record in records:
        details = record.get("score_details") or {}
        asked += int(details.get("judge_asked", 0))
        parsed += int(details.get("judge_parsed", 0))
    if asked == 0:
        return None
    share = parsed / asked
    return {
        "asked": asked,
        "parsed": parsed,
        "parsed_share": share,
        "threshold": RELIABLE_PARSE_SHARE,
        "reliable": share >= RELIABLE_PARSE_SHARE,
    }


def unreliable_reason(verdicts: dict[str, Any] | None) -> str | None:
    """One line saying why a judge-based score cannot be trusted, or None."""
    if verdicts is None or verdicts["reliable"]:
        return None
    return (
        f"the judge gave a readable verdict in only {verdicts['parsed']} of {verdicts['asked']} judgments "
        f"({verdicts['parsed_share']:.0%}, below {verdicts['threshold']:.0%}): the score is unreliable"
    )


_COUNTS = ("calls", "requests", "cache_hits", "retries", "prompt_tokens", "completion_tokens", "cost", "judge_calls", "latency")


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
    """Figures over the final record of each question. Questions the architecture failed score
    ``failure_value`` in ``score`` (never counted as correct), with the average weight;
    ``score_answered`` leaves them out. Questions without a verdict and failed scoring are left
    out of both (see the module docstring)."""
    final = list(latest_by_id(records).values())
    n = len(final)
    errors = [r for r in final if r.get("error")]
    failures = [r for r in errors if not r.get("scoring_failed")]
    scored_records = [r for r in final if not r.get("error") and r.get("score") is not None]
    unscored = sum(1 for r in final if not r.get("error") and r.get("score") is None)
    scored = [float(r["score"]) for r in scored_records]
    weights = [weight_of(r) for r in scored_records]
    failure_weight = float(np.mean(weights)) if weights else 1.0
    with_failures = scored + [failure_value] * len(failures)
    all_weights = weights + [failure_weight] * len(failures)
    low, high = bootstrap_ci(with_failures, weights=all_weights)
    categories: dict[str, tuple[list[float], list[float]]] = {}
    for r in scored_records:
        values, ws = categories.setdefault(str(r.get("category") or "all"), ([], []))
        values.append(float(r["score"]))
        ws.append(weight_of(r))
    verdicts = judge_verdicts(final)
    latencies = [float(r.get("latency", 0.0)) for r in final if not r.get("error")]

    def total(key: str) -> float:
        return float(sum(float(r.get(key) or 0) for r in final))

    return {
        "questions": n,
        "answered": n - len(errors),
        "errors": len(errors),
        "error_reasons": sorted({str(r["error"])[:200] for r in errors})[:10],
        "unscored": unscored,
        "score": weighted_mean(with_failures, all_weights),
        "ci95": [low, high] if with_failures else None,
        "score_answered": weighted_mean(scored, weights),
        "per_category": {
            k: {"n": len(v), "score": weighted_mean(v, w)} for k, (v, w) in sorted(categories.items())
        },
        "reliable": verdicts is None or bool(verdicts["reliable"]),
        **({"judge_verdicts": verdicts, "unreliable_reason": unreliable_reason(verdicts)} if verdicts else {}),
        # The architecture's cost per query: calls made, whether the provider or the cache answered
        # (retries not included). ``sent_calls_per_query`` is what actually went to providers.
        # A call is a sample; ``requests`` are the requests that carried them (one request with
        # ``n`` carries a generator's samples where the provider takes it), so requests <= calls.
        "calls_per_query": (total("calls") - total("retries") + total("cache_hits")) / n if n else 0.0,
        "sent_calls_per_query": total("calls") / n if n else 0.0,
        "requests_per_query": total("requests") / n if n else 0.0,
        "calls": int(total("calls")),
        "requests": int(total("requests")),
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
