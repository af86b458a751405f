"""Multi-fidelity evaluation for the search: rungs of growing, nested question subsets of the dev
split, after successive halving (asynchronous, as in ASHA), so that many architectures are
screened on a few questions and the promising ones are measured on many.

- Rungs: sizes r_0 < r_1 < ... < r_K; the last is the whole dev split (``rung_sizes`` clips them to
  it). Rung k's questions are the first r_k of the dev split in a seeded random order
  (``spread``), so each rung holds the one below it (a promotion only adds questions) and mixes
  the benchmark's categories.
- Promotion: after every evaluation, an architecture among the best 1/eta of those measured at
  rung k (eta = r_(k+1) / r_k, rounded, at least 2) that is not yet measured at rung k+1 is
  promoted to it, the highest rung first. When none is due, the search algorithm proposes a new
  architecture, measured at rung 0.
- At the end (``top_up``) the best architectures are promoted one rung at a time until the top rung
  holds as many as the final test evaluation takes (at least one): what goes on to the test split
  was measured on the whole dev split.

With a single rung (``--rungs off``, or a dev split no larger than the first rung) this is the plain
search: every architecture is measured on the whole dev split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeVar

from archon_cli.errors import UserError

DEFAULT_RUNGS = (25, 100, 400)
_OFF = ("off", "none", "no", "0")

Q = TypeVar("Q")


def parse_rungs(text: str | None) -> tuple[int, ...] | None:
    """``--rungs 25,100,400`` -> (25, 100, 400); ``off`` -> None (every architecture on the whole dev split)."""
    if text is None:
        return DEFAULT_RUNGS
    if text.strip().lower() in _OFF:
        return None
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"--rungs {text!r}: expected growing question counts such as 25,100,400, or off") from None
    if not sizes or sizes[0] < 1 or any(b <= a for a, b in pairwise(sizes)):
        raise UserError(f"--rungs {text!r}: expected growing question counts, each at least 1 (such as 25,100,400)")
    return sizes


def rung_sizes(requested: Sequence[int] | None, dev_count: int) -> tuple[int, ...]:
    """The rungs a dev split of ``dev_count`` questions allows: the requested sizes below it, then
    the whole split."""
    return (*(s for s in (requested or ()) if s < dev_count), dev_count)


def spread(items: Sequence[Q], key: Sequence[str], seed: int, salt: str) -> list[Q]:
    """``items`` in a seeded random order (by a hash of each key), so that any prefix mixes the
    categories of a benchmark that lists them one after another."""
    order = sorted(range(len(items)), key=lambda i: hashlib.sha256(f"{salt}:{seed}:{key[i]}".encode()).hexdigest())
    return [items[i] for i in order]


def promotion_ratio(sizes: Sequence[int], rung: int) -> int:
    """eta between ``rung`` and the next: how much larger the next rung is, at least 2."""
    return max(2, round(sizes[rung + 1] / sizes[rung]))


@dataclass
class RungScheduler:
    """Which evaluation comes next: a promotion, or (None) a new architecture at rung 0.

    Each architecture's result at a rung is ranked by (objective, fewer calls per query, earlier
    trial), as the leaderboard ranks."""

    sizes: tuple[int, ...]
    _results: dict[str, dict[int, tuple[float, float, int]]] = field(default_factory=dict)

    @property
    def top(self) -> int:
        return len(self.sizes) - 1

    def record(self, arch_id: str, rung: int, objective: float, calls_per_query: float, trial: int) -> None:
        self._results.setdefault(arch_id, {})[rung] = (objective, -calls_per_query, -trial)

    def highest(self, arch_id: str) -> int:
        return max(self._results[arch_id])

    def at(self, rung: int) -> list[str]:
        """Architectures measured at ``rung``, best first."""
        measured = [a for a, r in self._results.items() if rung in r]
        return sorted(measured, key=lambda a: self._results[a][rung], reverse=True)

    def promotion(self, busy: Collection[str] = ()) -> tuple[str, int] | None:
        """An architecture due for the next rung (the highest rung first), or None; not one of
        ``busy`` (being evaluated now)."""
        for rung in reversed(range(self.top)):
            ranked = self.at(rung)
            due = ranked[: len(ranked) // promotion_ratio(self.sizes, rung)]
            for arch_id in due:
                if rung + 1 not in self._results[arch_id] and arch_id not in busy:
                    return arch_id, rung + 1
        return None

    def top_up(self, want: int) -> tuple[str, int] | None:
        """While the top rung holds fewer than ``want`` architectures: the best of those highest
        below it, one rung up."""
        if len(self.at(self.top)) >= want:
            return None
        below = [a for a in self._results if self.highest(a) < self.top]
        if not below:
            return None
        best = max(below, key=lambda a: (self.highest(a), self._results[a][self.highest(a)]))
        return best, self.highest(best) + 1


def expected_architectures(trials: int, sizes: Sequence[int], finalists: int) -> list[int]:
    """Roughly how many architectures are measured at each rung: ``trials`` at rung 0, the best
    1/eta of each rung at the next, and at least ``finalists`` at the top (see ``top_up``)."""
    counts = [trials]
    for rung in range(len(sizes) - 1):
        counts.append(counts[-1] // promotion_ratio(sizes, rung))
    want = min(max(finalists, 1), trials)
    return [max(c, want) for c in counts]
