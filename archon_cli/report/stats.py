"""Pure statistics for comparing runs: paired bootstrap of a score difference, the Pareto front,
and the plain-language verdict. No I/O, so every piece is tested without a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archon_cli.evaluation.summary import bootstrap_ci


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``a - b`` over shared questions, with a percentile bootstrap interval."""

    diff: float
    low: float
    high: float
    n: int

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], resamples: int = 10000, confidence: float = 0.95, seed: int = 0
) -> PairedDifference:
    """Bootstrap the mean difference ``a - b``, resampling questions (pairs stay together). Seeded."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    if not a:
        raise ValueError("no shared questions to compare")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    low, high = bootstrap_ci(list(d), confidence, resamples, seed)
    return PairedDifference(diff=float(d.mean()), low=low, high=high, n=len(d))


def points_factor(scale: float) -> float:
    """Points per unit of score: x100 for 0-1 metrics (accuracy, win rate), raw for wider scales (MT-Bench 1-10)."""
    return 100.0 if scale <= 1 else 1.0


def verdict(name_a: str, name_b: str, result: PairedDifference, scale: float) -> str:
    """'A beats B by 6.2 points, CI 2.1-10.4' or 'no significant difference (A - B = ..., CI ...)'."""
    f = points_factor(scale)
    if result.significant:
        if result.diff >= 0:
            winner, loser, diff, low, high = name_a, name_b, result.diff, result.low, result.high
        else:
            winner, loser, diff, low, high = name_b, name_a, -result.diff, -result.high, -result.low
        return f"{winner} beats {loser} by {diff * f:.1f} points, CI {low * f:.1f}-{high * f:.1f}"
    return (
        f"no significant difference ({name_a} - {name_b} = {result.diff * f:.1f} points, "
        f"CI {result.low * f:.1f}-{result.high * f:.1f})"
    )


def pareto_front(points: Sequence[tuple[float, float | None]]) -> list[int]:
    """Indices of the (cost, score) points no other point dominates: none has a cost as low and a
    score as high, with one of the two strictly better. Points without a score are never on it."""
    valid = [(i, float(c), float(s)) for i, (c, s) in enumerate(points) if s is not None]
    front = []
    for i, cost, score in valid:
        dominated = any(c2 <= cost and s2 >= score and (c2 < cost or s2 > score) for j, c2, s2 in valid if j != i)
        if not dominated:
            front.append(i)
    return front
