"""Search algorithms over a feasible space, all behind one ask/tell interface.

- ``gp``: Gaussian-process Bayesian optimisation, scikit-optimize's GP with expected improvement
  over the feasible points not yet evaluated, so it never proposes an architecture over budget
  or one evaluated before.
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
    """Bayesian optimisation with scikit-optimize's Gaussian process and expected improvement, over
    the feasible points themselves.

    The space is finite and listed (``FeasibleSpace.all_points``), so the acquisition is computed on
    the unevaluated feasible points (a seeded sample of ``n_candidates`` when there are more), never
    on a point over budget or evaluated before: an evaluation is deterministic here (the same
    architecture on the same questions is answered from the cache), so a repeat would teach the GP
    nothing. The first ``n_initial_points`` are random feasible points.

    The GP's view of a point (``features``): the optimiser's vector (``FeasibleSpace.to_skopt``,
    integers scaled to [0, 1], choices one-hot), then the style flags once more for each final
    stage, 0 unless the point has that final stage. What a style adds depends on the final stage
    (without one, the first generator's answer is the answer and the other styles change nothing;
    with a vote every style's answer counts), and one length scale per style cannot say both: with
    a set of style features per final stage, the kernel learns a length scale for each. On the
    tabular table this halves the trials to the best (bench/RESULTS.md, figure 3).
    Values are maximised; the GP minimises their negation (skopt's convention)."""

    name = "gp"

    def __init__(
        self, feasible: FeasibleSpace, seed: int = 0, n_initial_points: int = 5, n_candidates: int = 2000
    ) -> None:
        super().__init__(feasible, seed)
        from skopt.space import Space
        from skopt.utils import normalize_dimensions

        self._space = Space(normalize_dimensions(feasible.skopt_dimensions()))
        self._finals = list(feasible.space.final) if len(feasible.space.final) > 1 else []
        self._styles = list(feasible.space.styles) if len(feasible.space.styles) > 1 else []
        self._n_initial = n_initial_points
        self._n_candidates = n_candidates
        self._rng = random.Random(seed)
        self._points: list[Point] | None = None  # every feasible point, listed on the first ask
        self._features: dict[Point, list[float]] = {}
        self._values: dict[Point, float] = {}  # told, in the order told
        self._model: Any = None  # the GP fitted on every value told

    def features(self, point: Point) -> list[float]:
        """The GP's input for ``point`` (see the class docstring)."""
        cached = self._features.get(point)
        if cached is None:
            cached = [float(v) for v in self._space.transform([self.feasible.to_skopt(point)])[0]]
            cached += [float(s in point.styles and point.final == f) for f in self._finals for s in self._styles]
            self._features[point] = cached
        return cached

    def _fresh(self, exclude: Collection[Point] = ()) -> list[Point]:
        if self._points is None:
            self._points = self.feasible.all_points()
        return [p for p in self._points if p not in self._values and p not in exclude]

    def _fit(self, values: dict[Point, float]) -> Any:
        import numpy as np
        from skopt.space import Categorical, Real
        from skopt.utils import cook_estimator

        x = np.array([self.features(p) for p in values])
        # skopt's own GP, as its Optimizer cooks it for these features (all in [0, 1]): a constant
        # times an ARD Hamming kernel where every dimension is a choice (all features are 0/1),
        # else an ARD Matern 5/2; a fitted Gaussian noise; normalised targets.
        kind = Categorical([0.0, 1.0]) if self._space.is_categorical else Real(0.0, 1.0)
        gp = cook_estimator("GP", space=[kind] * x.shape[1], random_state=self.seed)
        # One BLAS thread: the GP's matrices are tiny, and threaded BLAS made each fit ~9x slower here.
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            gp.fit(x, [-v for v in values.values()])
        return gp

    def _best(self, model: Any, values: dict[Point, float], exclude: Collection[Point] = ()) -> Point | None:
        """The unevaluated point of highest expected improvement under ``model``."""
        import numpy as np
        from skopt.acquisition import gaussian_ei

        fresh = self._fresh(exclude)
        if not fresh:
            return None
        if model is None or len(values) < self._n_initial:
            return self._rng.choice(fresh)
        if len(fresh) > self._n_candidates:
            fresh = self._rng.sample(fresh, self._n_candidates)
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            ei = gaussian_ei(np.array([self.features(p) for p in fresh]), model, y_opt=-max(values.values()))
        return fresh[int(ei.argmax())]

    def ask(self) -> Point:
        point = self._best(self._model, self._values)
        return point if point is not None else next(iter(self._values))  # exhausted: a repeat

    def ask_batch(self, n: int, pending: Collection[Point]) -> list[Point]:
        """A constant-liar batch: each pending point, then each point chosen for the batch, is told
        the worst value seen so far in a copy of the data (so the next choice looks elsewhere),
        and the GP is refitted before each further choice."""
        if n < 1:
            return []
        values = dict(self._values)
        lie = min(values.values()) if values else 0.0
        model = self._model
        if pending and len(values) + len(pending) >= self._n_initial:
            values.update((p, lie) for p in pending)
            model = self._fit(values)
        chosen: list[Point] = []
        for _ in range(n):
            point = self._best(model, values, {*pending, *chosen})
            if point is None:
                break
            chosen.append(point)
            if len(chosen) < n:
                values[point] = lie
                model = self._fit(values) if len(values) >= self._n_initial else None
        return chosen

    def tell(self, point: Point, value: float) -> None:
        if point in self._values:
            return  # already in the GP's data
        self.update(point, value)

    def update(self, point: Point, value: float) -> None:
        """A new value for the point (a promotion measured it on more questions): the GP is
        refitted on the values told, each point's latest."""
        self._values[point] = value
        if len(self._values) >= self._n_initial:
            self._model = self._fit(self._values)


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
