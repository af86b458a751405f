"""Score tables: every architecture of a space evaluated once, so search algorithms can be compared
on it without calling a model (the tabular benchmark; bench/build_tabular.py writes one).

A table is a CSV, one row per architecture: the point's dimensions (``DIMENSIONS``; ``styles`` as
names joined by ``+``), ``score``, ``calls_per_query``, then one column per question, named
``q:<question id>``, holding 1 where the architecture answered it right and 0 where not. The
per-question columns let a search that scores architectures on subsets of the questions (a
multi-fidelity search's rungs) be replayed on the table: ``ScoreTable.score(point, ids)``, and
``rung_cost`` runs the search driver's rung loop (search/fidelity.py) on it.
Tables written before the styles, temperature and stop dimensions, or without question columns,
still load (default style and temperature, no stopping rule; no per-question scores).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from archon_cli.search.algorithms import make_algorithm, trials_to_reach_best
from archon_cli.search.fidelity import RungScheduler, rung_sizes, spread
from archon_cli.search.space import DEFAULT_STYLE, DEFAULT_TEMPERATURE, DIMENSIONS, STOP_OFF, FeasibleSpace, Point

FIELDS = [*DIMENSIONS, "score", "calls_per_query"]
QUESTION_PREFIX = "q:"


@dataclass(frozen=True)
class ScoreTable:
    """A loaded table: each point's score, calls per query and, where the table has them, its
    right (1) and wrong (0) answers, in the order of ``questions``."""

    scores: dict[Point, float]
    calls: dict[Point, float]
    questions: tuple[str, ...]
    correct: dict[Point, tuple[int, ...]]

    def score(self, point: Point, questions: Sequence[str] | None = None) -> float:
        """``point``'s accuracy on ``questions`` (ids of the table's questions; all when None)."""
        if questions is None:
            return self.scores[point]
        index = {q: i for i, q in enumerate(self.questions)}
        missing = [q for q in questions if q not in index]
        if missing or not questions:
            raise ValueError(f"the table has no question {missing[0]!r}" if missing else "no questions given")
        row = self.correct[point]
        return sum(row[index[q]] for q in questions) / len(questions)


def _point(row: dict[str, str]) -> Point:
    styles = (row.get("styles") or DEFAULT_STYLE).split("+")
    temperature = row.get("temperature") or DEFAULT_TEMPERATURE
    critic = row["critic_ranker"].strip().lower() in ("1", "true", "yes")
    legacy = [row[d] for d in DIMENSIONS[:6]]
    legacy[4] = str(int(critic))
    return Point.from_list([*legacy, "+".join(styles), temperature, row.get("stop") or STOP_OFF])


def load_table(path: Path) -> ScoreTable:
    """A score table with its per-question columns; a table with no rows is a ``ValueError``."""
    scores: dict[Point, float] = {}
    calls: dict[Point, float] = {}
    correct: dict[Point, tuple[int, ...]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = [c for c in reader.fieldnames or [] if c.startswith(QUESTION_PREFIX)]
        for row in reader:
            point = _point(row)
            scores[point] = float(row["score"])
            calls[point] = float(row.get("calls_per_query") or 0.0)
            if columns:
                correct[point] = tuple(int(row[c]) for c in columns)
    if not scores:
        raise ValueError(f"{path}: no rows")
    return ScoreTable(scores, calls, tuple(c[len(QUESTION_PREFIX) :] for c in columns), correct)


def read_table(path: Path) -> dict[Point, float]:
    """``{point: score}`` from a score table; a table with no rows is a ``ValueError``."""
    return load_table(path).scores


def table_row(point: Point, score: float, calls_per_query: float) -> dict[str, object]:
    """A row's point, score and calls (add ``q:<id>`` columns for its per-question results)."""
    values = [*point.as_list()[:8], point.stop]
    row: dict[str, object] = dict(zip(DIMENSIONS, values, strict=True))
    row["critic_ranker"] = point.critic_ranker
    row.update(score=f"{score:.6f}", calls_per_query=f"{calls_per_query:.3f}")
    return row


def write_table(path: Path, rows: Iterable[dict[str, object]]) -> None:
    """Write rows (``table_row`` output, or a point's ``to_dict()`` plus ``score`` and
    ``calls_per_query``; optionally ``q:<id>`` columns) as a score table."""
    rows = list(rows)
    for row in rows:
        if isinstance(row.get("styles"), list | tuple):
            row["styles"] = "+".join(row["styles"])  # type: ignore[arg-type]
    questions = list(dict.fromkeys(k for row in rows for k in row if k.startswith(QUESTION_PREFIX)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS + questions)
        writer.writeheader()
        writer.writerows(rows)


def top_fraction_threshold(table: dict[Point, float], fraction: float) -> float:
    """The score that the best ``fraction`` of the table's architectures reach (ties included)."""
    scores = sorted(table.values(), reverse=True)
    return scores[max(1, round(fraction * len(scores))) - 1]


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


def rung_cost(
    loaded: ScoreTable,
    feasible: FeasibleSpace,
    seed: int,
    algorithm: str = "gp",
    rungs: tuple[int, ...] = (25, 100, 400),
    target: float | None = None,
    salt: str = "tiny-arith:dev",
) -> float:
    """The search driver's multi-fidelity loop (search/fidelity.py: rungs over nested question
    subsets, promotions, the GP told each rung's score) replayed on the table: the dev questions
    measured until an architecture scoring the table's best (or ``target``) on all of them is
    measured on all of them, in full evaluations (questions / the table's questions), so it
    compares with plain search's trials. ``inf``: never within the space."""
    ids = list(loaded.questions)
    order = spread(ids, ids, seed, salt)
    sizes = rung_sizes(rungs, len(order))
    best = max(loaded.scores.values()) if target is None else target
    space = TableSpace(feasible, set(loaded.scores))
    search = make_algorithm(algorithm, space, seed)
    scheduler = RungScheduler(sizes)
    measured: dict[Point, int] = {}  # the highest rung each point was measured at
    values: dict[Point, float] = {}
    names: dict[str, Point] = {}
    numbers: dict[Point, int] = {}  # each point's trial number: the order in which it was first proposed
    spent = 0
    number = 0
    for _ in range(100_000):
        step = scheduler.promotion()
        if step is None and len(measured) < len(loaded.scores):
            point = None
            for _ in range(50):
                asked = space.canonical(search.ask())
                if asked not in values:
                    point = asked
                    break
                search.tell(asked, values[asked])
            if point is not None:
                names[str(point)] = point
                step = (str(point), 0)
        if step is None:
            step = scheduler.top_up(1)
        if step is None:
            return float("inf")
        name, rung = step
        point = names[name]
        spent += sizes[rung] - (sizes[measured[point]] if point in measured else 0)
        value = loaded.score(point, order[: sizes[rung]])
        if point not in measured:
            number += 1
            numbers[point] = number
        # The driver ranks ties by the architecture's own trial number (search/loop.py, Step.number).
        scheduler.record(name, rung, value, loaded.calls[point], numbers[point])
        if point in measured:
            search.update(point, value)
        else:
            search.tell(point, value)
        measured[point] = rung
        values[point] = value
        if rung == len(sizes) - 1 and loaded.scores[point] >= best:
            return spent / len(order)
    return float("inf")
