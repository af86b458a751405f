"""Search algorithms over a feasible space, all behind one ask/tell interface.

- ``gp``: Gaussian-process Bayesian optimisation, scikit-optimize's ask/tell ``Optimizer`` with
  expected improvement; the budget is its space constraint, so it never proposes an
  architecture over budget.
- ``random``: feasible points in a seeded random order, without repeats.
- ``greedy``: the paper's greedy baseline, coordinate ascent: from a cheapest architecture, try
  every value of one dimension while the others stay at the best so far, move to the best, go on
  to the next dimension; restart from a random point when a whole pass finds nothing new.
All are deterministic for a seed. Values told are maximised.
"""

from __future__ import annotations

import random
import warnings
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from threadpoolctl import threadpool_limits

from archon_cli.registry import import_target
from archon_cli.search.choices import ALGORITHMS
from archon_cli.search.space import DIMENSIONS, FeasibleSpace, Point


class SearchAlgorithm(ABC):
    name: str

    def __init__(self, feasible: FeasibleSpace, seed: int = 0) -> None:
        self.feasible = feasible
        self.seed = seed

    @abstractmethod
    def ask(self) -> Point:
        """The next point to evaluate (may repeat one already told; the driver skips those)."""

    @abstractmethod
    def tell(self, point: Point, value: float) -> None:
        """The objective (higher is better) of ``point``."""

    def update(self, point: Point, value: float) -> None:
        """A better measurement of a point told before (a multi-fidelity promotion measured it on
        more questions): it replaces the old value."""
        self.tell(point, value)

    def ask_batch(self, n: int, pending: Collection[Point]) -> list[Point]:
        """Up to ``n`` distinct canonical points to evaluate at once (parallel workers), none of them
        told or ``pending`` (proposed earlier and not told yet). Fewer (or none) when the algorithm
        must hear of a pending point first; none with nothing pending means the space is exhausted."""
        raise NotImplementedError


class RandomSearch(SearchAlgorithm):
    name = "random"

    def __init__(self, feasible: FeasibleSpace, seed: int = 0) -> None:
        super().__init__(feasible, seed)
        self._order = feasible.all_points()
        random.Random(seed).shuffle(self._order)
        self._told: set[Point] = set()

    def ask(self) -> Point:
        for p in self._order:
            if p not in self._told:
                return p
        return self._order[0]

    def tell(self, point: Point, value: float) -> None:
        self._told.add(point)

    def ask_batch(self, n: int, pending: Collection[Point]) -> list[Point]:
        # The same order as one at a time: N workers evaluate the same first trials as one worker.
        return [p for p in self._order if p not in self._told and p not in pending][:n]


class GreedySearch(SearchAlgorithm):
    name = "greedy"

    def __init__(self, feasible: FeasibleSpace, seed: int = 0) -> None:
        super().__init__(feasible, seed)
        self._rng = random.Random(seed)
        points = feasible.all_points()
        self._all = points
        # Start from the cheapest architecture, as a person tuning by hand would; the seed picks
        # among equally cheap ones (otherwise every seed would walk the same path).
        cheapest = min(feasible.calls(p) for p in points)
        self._incumbent = self._rng.choice([p for p in points if feasible.calls(p) == cheapest])
        self._best = float("-inf")
        self._values: dict[Point, float] = {}
        self._queue: list[Point] = [self._incumbent]
        self._dim = 0
        self._pass_improved = False
        self._dims_since_new = 0

    def _values_of(self, dim: str) -> list[Any]:
        return self.feasible.space.choices(dim)

    def _refill(self) -> None:
        while not self._queue:
            if self._dims_since_new >= len(DIMENSIONS):
                # A whole pass found no new point around the incumbent: restart elsewhere.
                fresh = [p for p in self._all if p not in self._values]
                if not fresh:
                    self._queue = [self._incumbent]
                    return
                self._incumbent = self._rng.choice(fresh)
                self._queue = [self._incumbent]
                self._dims_since_new = 0
                return
            dim = DIMENSIONS[self._dim % len(DIMENSIONS)]
            self._dim += 1
            candidates = []
            for value in self._values_of(dim):
                p = self.feasible.canonical(replace(self._incumbent, **{dim: value}))
                if self.feasible.contains(p) and p not in self._values and p not in candidates:
                    candidates.append(p)
            self._dims_since_new = 0 if candidates else self._dims_since_new + 1
            self._queue = candidates

    def ask(self) -> Point:
        self._refill()
        return self._queue[0]

    def update(self, point: Point, value: float) -> None:
        self._values[point] = value
        if point == self._incumbent:
            self._best = value
        elif value > self._best:
            self._best, self._incumbent = value, point

    def ask_batch(self, n: int, pending: Collection[Point]) -> list[Point]:
        # One dimension's candidates are independent of each other: they may run at once. The next
        # dimension waits until they are all told (it starts from the best of them).
        if not self._queue and not pending:
            self._refill()
        return [p for p in self._queue if p not in pending and p not in self._values][:n]

    def tell(self, point: Point, value: float) -> None:
        self._values[point] = value
        if point in self._queue:
            self._queue.remove(point)
        if value > self._best:
            self._best, self._incumbent = value, point


class GPSearch(SearchAlgorithm):
    """skopt's ``Optimizer`` proposes, fits and holds the GP. An evaluation is deterministic here
    (the same architecture on the same questions is answered from the cache), so when the
    optimiser proposes an architecture already evaluated, the next one is the unevaluated
    architecture of highest expected improvement under the optimiser's latest GP (a random one
    while the optimiser is still drawing its initial points): a repeat would teach the GP nothing,
    and the driver counts repeats towards calling the space exhausted."""

    name = "gp"

    def __init__(
        self, feasible: FeasibleSpace, seed: int = 0, n_initial_points: int = 5, n_candidates: int = 2000
    ) -> None:
        super().__init__(feasible, seed)
        from skopt import Optimizer

        self._opt = Optimizer(
            feasible.skopt_dimensions(),
            base_estimator="GP",
            acq_func="EI",
            acq_optimizer="sampling",
            acq_optimizer_kwargs={"n_points": n_candidates},
            n_initial_points=n_initial_points,
            initial_point_generator="random",
            random_state=seed,
            space_constraint=lambda x: feasible.contains(feasible.from_skopt(x)),
        )
        self._n_candidates = n_candidates
        self._rng = random.Random(seed)
        self._points: list[Point] | None = None  # every feasible point, listed on the first repeat
        self._told: set[Point] = set()

    def ask(self) -> Point:
        # One BLAS thread: the GP's matrices are tiny, and threaded BLAS made each fit ~9x slower here.
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")  # skopt warns when it proposes a point evaluated before
            point = self.feasible.from_skopt(self._opt.ask())
            if point in self._told:
                return self._best_unevaluated() or point
            return point

    def ask_batch(self, n: int, pending: Collection[Point]) -> list[Point]:
        """A constant-liar batch: a copy of the optimiser is told the best value seen so far for
        every pending point, then asked for ``n`` points (skopt's ``ask(n_points)`` with ``cl_min``,
        which lies about each point of the batch in turn). Points told or pending already are
        replaced by the unevaluated points of highest expected improvement."""
        if n < 1:
            return []
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            opt = self._opt.copy(random_state=self._opt.rng)
            if pending:
                lie = min(self._opt.yi) if self._opt.yi else 0.0
                opt.tell([self.feasible.to_skopt(p) for p in pending], [lie] * len(pending))
            asked = opt.ask(n_points=n, strategy="cl_min") if n > 1 else [opt.ask()]
            chosen: list[Point] = []
            for x in asked:
                point = self.feasible.canonical(self.feasible.from_skopt(x))
                if point in self._told or point in pending or point in chosen:
                    exclude = {*pending, *chosen}
                    point = self._best_unevaluated(exclude)  # type: ignore[assignment]
                    if point is None:
                        break
                chosen.append(point)
        return chosen

    def _best_unevaluated(self, exclude: Collection[Point] = ()) -> Point | None:
        """The unevaluated point of highest EI (a random one before the GP is first fitted)."""
        from skopt.acquisition import gaussian_ei

        if self._points is None:
            self._points = self.feasible.all_points()
        fresh = [p for p in self._points if p not in self._told and p not in exclude]
        if not fresh:
            return None
        if not self._opt.models:
            return self._rng.choice(fresh)
        if len(fresh) > self._n_candidates:
            fresh = self._rng.sample(fresh, self._n_candidates)
        ei = gaussian_ei(
            self._opt.space.transform([self.feasible.to_skopt(p) for p in fresh]),
            self._opt.models[-1],
            y_opt=min(self._opt.yi),
        )
        return fresh[int(ei.argmax())]

    def tell(self, point: Point, value: float) -> None:
        if point in self._told:
            return  # already in the GP's data
        self._told.add(point)
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            self._opt.tell(self.feasible.to_skopt(point), -value)  # skopt minimises

    def update(self, point: Point, value: float) -> None:
        """Replace the point's value in the optimiser's data and refit the GP on it (skopt's own
        ``_tell`` with no new point refits on the data it holds)."""
        if point not in self._told:
            self.tell(point, value)
            return
        for i, xi in enumerate(self._opt.Xi):
            if self.feasible.from_skopt(xi) == point:
                self._opt.yi[i] = -value
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            self._opt._tell([], [])


def make_algorithm(name: str, feasible: FeasibleSpace, seed: int) -> SearchAlgorithm:
    """The algorithm ``name`` names (search/choices.py), seeded."""
    return import_target(ALGORITHMS.lookup(name))(feasible, seed)  # type: ignore[no-any-return]


def trials_to_reach_best(
    algorithm: SearchAlgorithm,
    table: dict[Point, float],
    max_trials: int | None = None,
    max_asks: int = 100_000,
    target: float | None = None,
) -> int:
    """Evaluations ``algorithm`` spends on a score table before it evaluates a best point (or,
    with ``target``, a point scoring at least that). Repeated asks are answered from the table at
    no cost, as the search driver does. ``max_trials + 1`` (default: the table's size + 1) means never."""
    best = max(table.values()) if target is None else target
    told: dict[Point, float] = {}
    limit = max_trials or len(table)
    for _ in range(max_asks):
        p = algorithm.ask()
        if p not in table:
            raise ValueError(f"point {p} is not in the table")
        if p not in told:
            told[p] = table[p]
            if table[p] >= best:
                return len(told)
            if len(told) >= limit:
                return limit + 1
        algorithm.tell(p, table[p])
    return limit + 1
