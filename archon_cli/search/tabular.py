"""Score tables: every architecture of a space evaluated once, so search algorithms can be compared
on it without calling a model (the tabular benchmark; bench/build_tabular.py writes one).

A table is a CSV with the point's dimensions (``DIMENSIONS``), ``score`` and ``calls_per_query``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from archon_cli.search.algorithms import make_algorithm, trials_to_reach_best
from archon_cli.search.space import DIMENSIONS, FeasibleSpace, Point

FIELDS = [*DIMENSIONS, "score", "calls_per_query"]


class TableSpace(FeasibleSpace):
    """The feasible space restricted to the points of a score table (so no algorithm can ask for
    an architecture the table has no score for)."""

    def __init__(self, feasible: FeasibleSpace, points: set[Point]) -> None:
        super().__init__(feasible.space, feasible.models, feasible.calls_per_query, feasible.endpoints)
        self._points = points

    def contains(self, point: Point) -> bool:
        return point in self._points and super().contains(point)

    def all_points(self) -> list[Point]:
        within = super().contains
        return sorted(p for p in self._points if within(p))


def read_table(path: Path) -> dict[Point, float]:
    """``{point: score}`` from a score table; a table with no rows is a ``ValueError``."""
    table: dict[Point, float] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            values: dict[str, object] = {d: row[d] for d in DIMENSIONS}
            values["critic_ranker"] = row["critic_ranker"].strip().lower() in ("1", "true", "yes")
            table[Point.from_list(list(values.values()))] = float(row["score"])
    if not table:
        raise ValueError(f"{path}: no rows")
    return table


def write_table(path: Path, rows: Iterable[dict[str, object]]) -> None:
    """Write rows (a point's ``to_dict()`` plus ``score`` and ``calls_per_query``) as a score table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def top_fraction_threshold(table: dict[Point, float], fraction: float) -> float:
    """The score that the best ``fraction`` of the table's architectures reach (ties included)."""
    scores = sorted(table.values(), reverse=True)
    return scores[max(1, round(fraction * len(scores))) - 1]


def trials_per_algorithm(
    table: dict[Point, float],
    feasible: FeasibleSpace,
    seeds: Iterable[int],
    algorithms: Iterable[str],
    target: float | None = None,
) -> dict[str, list[int]]:
    """For each algorithm, the trials it needs to reach the table's best score (or ``target``),
    one figure per seed. Every row of the table must be a feasible point of the space (filter it
    first to compare under a budget)."""
    space = TableSpace(feasible, set(table))
    feasible_rows = len(space.all_points())
    if feasible_rows != len(table):
        raise ValueError(f"the table and the space disagree: {len(table)} rows, {feasible_rows} feasible points")
    seeds = list(seeds)
    return {
        name: [trials_to_reach_best(make_algorithm(name, space, s), table, target=target) for s in seeds]
        for name in algorithms
    }
